"""In admin a product is renamed or repriced through its service (which publishes the
change), its stock is not edited by hand, and it is never deleted."""

import pytest

from messaging.models import OutboxMessage
from monolith.inventory.models import Product, Stock

pytestmark = pytest.mark.django_db


def test_a_product_edit_goes_through_the_service_and_stock_stays(staff, make_product):
    product = make_product(sku="MUG", price="4.50", on_hand=7)
    stock = Stock.objects.get(product=product)
    before = OutboxMessage.objects.count()
    page = f"/admin/inventory/product/{product.pk}/change/"
    form = {
        "name": "Big mug",
        "price": "5.00",
        "stock-TOTAL_FORMS": "1",
        "stock-INITIAL_FORMS": "1",
        "stock-MIN_NUM_FORMS": "0",
        "stock-MAX_NUM_FORMS": "1",
        "stock-0-id": str(stock.pk),
        "stock-0-product": str(product.pk),
        "stock-0-on_hand": "999",  # read-only: ignored
    }
    response = staff.post(page, form)
    assert response.status_code == 302, response.content[:2000]
    product.refresh_from_db()
    assert (product.name, str(product.price)) == ("Big mug", "5.00")
    assert Stock.objects.get(product=product).on_hand == 7
    assert OutboxMessage.objects.count() > before  # the change was published
    assert (
        staff.post(f"/admin/inventory/product/{product.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Product.objects.filter(sku="MUG").exists()
