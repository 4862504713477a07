import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_openapi_schema_covers_every_context(anon):
    response = anon.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    for expected in (
        "/api/users/token/",
        "/api/inventory/products/",
        "/api/payments/charges/",
        "/api/orders/",
        "/api/orders/{order_id}/cancel/",
    ):
        assert expected in paths


def test_docs_page_is_served_without_a_cdn(anon):
    page = anon.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_health_and_readiness(anon):
    assert anon.get("/healthz").json() == {"status": "ok", "service": "monolith"}
    assert anon.get("/readyz").json()["status"] == "ready"


def test_admin_login_page_is_served(client):
    assert client.get("/admin/login/").status_code == 200
