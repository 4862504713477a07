"""Money has one story (issue 12, defects 1 and 2; issue 14, defects 4 and 5), in-process:
the saga driven synchronously by the monolith's own outbox (sagabus.py)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from messaging.commands import resume_parked
from messaging.models import ParkedCommand
from monolith.inventory.models import Reservation, Stock
from monolith.orders.models import Order, OrderSaga
from monolith.payments import services as payment_services
from monolith.payments.models import Charge

pytestmark = pytest.mark.django_db
CHARGE_ORDER = "payments.ChargeOrder"
PAID = (Charge.Status.CAPTURED, Charge.Status.PARTIALLY_REFUNDED, Charge.Status.REFUNDED)


def place(api: Any, sku: str, quantity: int, card: str = "tok_ok") -> dict[str, Any]:
    body = {"lines": [{"sku": sku, "quantity": quantity}], "card_token": card}
    response = api.post("/api/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def net_paid(order: Order) -> Decimal:
    """What the order's own user has paid for it and not had back."""
    charges = Charge.objects.filter(order_id=order.id, user_id=order.user_id, status__in=PAID)
    return sum((c.amount - c.refunded_amount for c in charges), Decimal("0.00"))


def stock(sku: str) -> tuple[int, int]:
    row = Stock.objects.get(product__sku=sku)
    return row.on_hand, row.reserved


def test_a_charge_that_merely_names_the_order_does_not_settle_it(api, user, make_product, saga_bus):
    make_product(sku="LAMP", price="90.99", on_hand=20)
    order = Order.objects.get(pk=place(api, "LAMP", 10)["id"])
    saga_bus.deliver(hold=lambda envelope: envelope.type == CHARGE_ORDER)
    assert OrderSaga.objects.get(order=order).step == OrderSaga.Step.CHARGING
    with transaction.atomic():  # any charge naming the order, e.g. one an API caller made
        forged = payment_services.charge_create(
            user_id=user.pk,
            amount=Decimal("0.01"),
            currency="EUR",
            card_token="tok_ok",
            order_id=order.id,
        )
    saga_bus.deliver()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and order.payment_id is None

    saga_bus.release_held()
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert order.payment_id is not None and order.payment_id != forged.id
    paid = Charge.objects.get(pk=order.payment_id)
    assert (paid.amount, paid.currency, paid.user_id) == (Decimal("909.90"), "EUR", user.pk)
    assert stock("LAMP") == (10, 0)


def test_a_callers_idempotency_key_cannot_take_the_key_of_an_orders_charge(
    api, make_product, saga_bus
):
    make_product(sku="LAMP", price="90.99", on_hand=20)
    order = Order.objects.get(pk=place(api, "LAMP", 10)["id"])
    body = {"amount": "0.01", "currency": "EUR", "card_token": "tok_ok"}
    response = api.post(
        "/api/payments/charges/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"order:{order.id}"
    )
    assert response.status_code == 201
    saga_bus.deliver()
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert net_paid(order) == order.total == Decimal("909.90")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"order_id": "own"}, "order_id"),
        ({"order_id": "another user's"}, "order_id"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "ABC"}, "currency"),
    ],
)
def test_a_charge_cannot_pay_an_order_nor_use_an_unknown_currency(
    api, client_for, make_user, make_product, change, field
):
    make_product(sku="LAMP", price="90.99", on_hand=20)
    own = place(api, "LAMP", 1)["id"]
    others = place(client_for(make_user()), "LAMP", 1)["id"]
    body = {"amount": "0.01", "currency": "EUR", "card_token": "tok_ok", **change}
    if "order_id" in change:
        body["order_id"] = own if change["order_id"] == "own" else others
    response = api.post("/api/payments/charges/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Charge.objects.filter(amount=Decimal("0.01")).count() == 0


@pytest.mark.parametrize("route", ["monolith", "extracted"])
def test_an_orders_charge_is_refunded_only_by_cancelling_the_order(
    api, make_product, saga_bus, route
):
    saga_bus.route(route)
    make_product(sku="LAMP", price="90.99", on_hand=20)
    order = Order.objects.get(pk=place(api, "LAMP", 2)["id"])
    saga_bus.deliver()
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED and stock("LAMP") == (18, 0)

    refund = api.post(f"/api/payments/charges/{order.payment_id}/refunds/", {}, format="json")
    assert refund.status_code == 409
    assert refund.json()["code"] == "charge_pays_order"
    assert str(order.id) in refund.json()["detail"]
    assert net_paid(order) == order.total

    assert api.post(f"/api/orders/{order.id}/cancel/").status_code == 200
    saga_bus.deliver()
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert net_paid(order) == 0 and stock("LAMP") == (20, 0)


def _resume_parked(saga_bus: Any) -> None:
    for envelope in saga_bus.held:
        ParkedCommand.objects.create(
            event_id=envelope.id,
            event_type=envelope.type,
            context="payments",
            envelope=envelope.to_json(),
        )
    saga_bus.held = []
    resume_parked()
    saga_bus.deliver()
    assert not ParkedCommand.objects.exists()


@pytest.mark.parametrize("late", ["delivered late", "parked, resumed at a route move"])
def test_a_charge_command_of_a_timed_out_saga_is_discarded(
    api, make_product, saga_bus, caplog, late
):
    make_product(sku="LAMP", price="90.99", on_hand=20)
    order = Order.objects.get(pk=place(api, "LAMP", 2)["id"])
    saga_bus.deliver(hold=lambda envelope: envelope.type == CHARGE_ORDER)
    with caplog.at_level(logging.WARNING, logger="carve.saga"):
        assert saga_bus.time_out_sagas() == 1
    assert f"order {order.id} timed out while charging" in caplog.text
    saga_bus.deliver()
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "timeout")

    if late == "delivered late":
        saga_bus.release_held()
    else:
        _resume_parked(saga_bus)
    assert not Charge.objects.filter(order_id=order.id).exists()  # never charged
    assert stock("LAMP") == (20, 0)
    assert Reservation.objects.get(order_id=order.id).status == "released"
