"""What every service does the same behind the proxy: links built for the address the
client used, and JSON 404s under /api/ even while DEBUG is on."""

import pytest

pytestmark = pytest.mark.django_db


def test_pagination_links_point_at_the_address_the_client_used(anon, make_product, settings):
    settings.ALLOWED_HOSTS = ["proxy.example", "testserver"]
    for i in range(3):
        make_product(sku=f"LINK-{i}")
    page = anon.get(
        "/api/inventory/products/?page_size=1",
        HTTP_X_FORWARDED_HOST="proxy.example",
        HTTP_X_FORWARDED_PROTO="https",
    ).json()
    assert page["next"].startswith("https://proxy.example/api/inventory/products/")


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_path_is_a_json_404_whatever_debug_says(anon, settings, debug):
    settings.DEBUG = debug
    response = anon.get("/api/payments/nothing/")
    assert response.status_code == 404
    assert response.json()["type"] == "not_found"
