"""In admin an order changes only through the service: staff cancel it with an action
(refund, stock back, events in the outbox); its page and its charge's cannot be saved or
deleted by hand."""

import pytest

from messaging.models import OutboxMessage
from monolith.inventory.models import Reservation, Stock
from monolith.orders.models import Order
from monolith.payments.models import Charge

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(api, make_product):
    make_product(sku="MUG", on_hand=10)
    body = {"lines": [{"sku": "MUG", "quantity": 3}], "card_token": "tok_ok"}
    placed = api.post("/api/orders/", body, format="json").json()
    assert placed["status"] == "confirmed"
    return Order.objects.get(pk=placed["id"])


def test_the_cancel_action_goes_through_the_service(staff, order):
    response = staff.post(
        "/admin/orders/order/",
        {"action": "cancel", "_selected_action": [str(order.pk)]},
        follow=True,
    )
    assert b"Cancelled 1 order(s)." in response.content
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "customer_cancelled")
    assert Stock.objects.get(product__sku="MUG").on_hand == 10
    assert Charge.objects.get(pk=order.payment_id).status == "refunded"
    assert OutboxMessage.objects.filter(event_type="orders.OrderCancelled").exists()


def test_a_cancel_the_service_refuses_is_reported(staff, order):
    staff.post("/admin/orders/order/", {"action": "cancel", "_selected_action": [str(order.pk)]})
    again = staff.post(
        "/admin/orders/order/",
        {"action": "cancel", "_selected_action": [str(order.pk)]},
        follow=True,
    )
    assert b"is already cancelled" in again.content and b"Cancelled 0 order(s)." in again.content


def test_an_order_its_charge_and_reservation_cannot_be_saved_or_deleted(staff, order):
    pages = [
        f"/admin/orders/order/{order.pk}/",
        f"/admin/payments/charge/{order.payment_id}/",
        f"/admin/inventory/reservation/{Reservation.objects.get(order_id=order.pk).pk}/",
    ]
    for page in pages:
        assert staff.get(f"{page}change/").status_code == 200  # view only
        assert staff.post(f"{page}change/", {"status": "cancelled"}).status_code == 403
        assert staff.post(f"{page}delete/", {"post": "yes"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "confirmed"
    assert Reservation.objects.filter(order_id=order.pk).exists()
