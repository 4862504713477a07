"""Many buyers, the last few units: stock never goes below zero and every order that
exists ends confirmed or cancelled, with stock and payments agreeing with it."""

from collections import Counter

import pytest
from rest_framework.test import APIClient

from monolith.conftest import token_for
from monolith.inventory.models import Reservation, Stock
from monolith.orders.models import Order
from monolith.payments.models import Charge
from monolith.testing import run_concurrently

UNITS = 7
BUYERS = 24


@pytest.mark.django_db(transaction=True)
def test_concurrent_buyers_never_oversell(make_user, make_product):
    make_product(sku="LAST", price="9.99", on_hand=UNITS)
    tokens = [token_for(make_user()) for _ in range(BUYERS)]
    # Every fourth buyer's card is declined: their hold must go back to the shelf.
    cards = ["tok_declined" if i % 4 == 3 else "tok_ok" for i in range(BUYERS)]
    quantities = [1 + i % 2 for i in range(BUYERS)]

    def buyer(i: int):
        def buy():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[i]}")
            body = {"lines": [{"sku": "LAST", "quantity": quantities[i]}], "card_token": cards[i]}
            return client.post("/api/orders/", body, format="json")

        return buy

    responses = run_concurrently([buyer(i) for i in range(BUYERS)])
    assert {r.status_code for r in responses} <= {201, 409}

    stock = Stock.objects.get(product__sku="LAST")
    confirmed = Order.objects.filter(status="confirmed")
    sold = sum(line.quantity for order in confirmed for line in order.lines.all())
    assert stock.reserved == 0
    assert stock.on_hand == UNITS - sold >= 0
    assert sold > 0
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert set(statuses) <= {"confirmed", "cancelled"}
    assert statuses["confirmed"] + statuses["cancelled"] == sum(
        r.status_code == 201 for r in responses
    )
    for order in Order.objects.all():
        charge = Charge.objects.get(order_id=order.id)
        reservation = Reservation.objects.get(order_id=order.id)
        if order.status == "confirmed":
            assert (charge.status, reservation.status) == ("captured", "committed")
            assert charge.amount == order.total
        else:
            assert (order.cancel_reason, charge.status) == ("payment_declined", "declined")
            assert reservation.status == "released"
    rejected = [r for r in responses if r.status_code == 409]
    assert all(r.json()["code"] == "insufficient_stock" for r in rejected)
    assert Charge.objects.count() == Order.objects.count()
