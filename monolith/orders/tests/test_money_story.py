"""Money has one story, as a property (issue 12): several users place, pay, charge, refund
and cancel in random order, while the route of payments and inventory moves between the
monolith (in-process fulfilment) and extracted (the saga), commands are held back (a
worker down) and sagas time out. Once everything is delivered, for every order and user:

* confirmed: its own user paid exactly its total, net; cancelled: nothing of it kept;
* committed stock equals the confirmed lines, nothing stays reserved;
* a user's money is their confirmed orders plus what they charged directly, net.

In-process against the monolith with the saga driven synchronously (sagabus.py): a
whole-deployment machine would cost seconds per step. The deployments' own attack tests
are tests/integration/test_money_attacks.py.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from monolith.conftest import token_for
from monolith.inventory import services as inventory_services
from monolith.inventory.models import Reservation, Stock
from monolith.orders.models import Order
from monolith.orders.tests.sagabus import SagaBus
from monolith.payments.models import Charge

pytestmark = pytest.mark.django_db
PRICES = (Decimal("90.99"), Decimal("4.50"))
ON_HAND = 12
_runs = itertools.count(1)


def _net(charges: Any) -> Decimal:
    return sum((c.amount - c.refunded_amount for c in charges), Decimal("0.00"))


class MoneyStory(RuleBasedStateMachine):
    bus: SagaBus

    def __init__(self) -> None:
        super().__init__()
        # each example in a savepoint of its own, rolled back by teardown()
        self.example = transaction.atomic()
        self.example.__enter__()
        run = next(_runs)
        self.users = [
            get_user_model().objects.create_user(
                username=f"story{run}u{i}", email=f"story{run}u{i}@example.com", password="pw"
            )
            for i in range(3)
        ]
        self.clients = []
        for user in self.users:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
            self.clients.append(client)
        self.skus = [f"STORY-{run}-{i}" for i in range(len(PRICES))]
        for sku, price in zip(self.skus, PRICES, strict=True):
            inventory_services.product_create(
                sku=sku, name="Story lamp", price=price, currency="EUR", on_hand=ON_HAND
            )
        self.orders: list[str] = []
        self.owners: list[int] = []  # who placed each order
        self.direct = [Decimal("0.00")] * len(self.users)  # charged directly, net

    # ------------------------------------------------------------------ what users do
    @rule(
        who=st.integers(0, 2),
        sku=st.integers(0, 1),
        quantity=st.integers(1, 4),
        card=st.sampled_from(["tok_ok", "tok_ok", "tok_declined", "tok_gateway_error"]),
        payments_down=st.booleans(),
    )
    def place(self, who: int, sku: int, quantity: int, card: str, payments_down: bool) -> None:
        body = {"lines": [{"sku": self.skus[sku], "quantity": quantity}], "card_token": card}
        response = self.clients[who].post("/api/orders/", body, format="json")
        assert response.status_code in (201, 409), response.content
        if response.status_code == 201:
            self.orders.append(response.json()["id"])
            self.owners.append(who)
        if payments_down:  # the saga gets as far as it can; payments' commands wait
            self.bus.deliver(hold=lambda envelope: envelope.context == "payments")

    @precondition(lambda self: self.orders)
    @rule(who=st.integers(0, 2), which=st.integers(0, 50))
    def cancel(self, who: int, which: int) -> None:
        order_id = self.orders[which % len(self.orders)]
        response = self.clients[who].post(f"/api/orders/{order_id}/cancel/")
        assert response.status_code in (200, 404, 409), response.content

    @precondition(lambda self: self.orders)
    @rule(who=st.integers(0, 2), which=st.integers(0, 50), partial=st.booleans())
    def refund_an_orders_charge(self, who: int, which: int, partial: bool) -> None:
        payment_id = Order.objects.get(pk=self.orders[which % len(self.orders)]).payment_id
        if payment_id is None:
            return
        body = {"amount": "0.01"} if partial else {}
        response = self.clients[who].post(
            f"/api/payments/charges/{payment_id}/refunds/", body, format="json"
        )
        assert response.status_code in (404, 409), response.content  # never refunded here

    @rule(
        who=st.integers(0, 2),
        cents=st.integers(1, 5000),
        key=st.sampled_from([None, "k1", "order"]),
        name_an_order=st.booleans(),
    )
    def charge(self, who: int, cents: int, key: str | None, name_an_order: bool) -> None:
        body: dict[str, Any] = {
            "amount": str(Decimal(cents) / 100),
            "currency": "EUR",
            "card_token": "tok_ok",
        }
        headers: dict[str, Any] = {}
        if key == "order" and self.orders:  # the key of the last order's own charge
            who = self.owners[-1]
            headers["HTTP_IDEMPOTENCY_KEY"] = f"order:{self.orders[-1]}"
        elif key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = f"{key}-{cents}"
        if name_an_order and self.orders:
            body["order_id"] = self.orders[-1]
        response = self.clients[who].post("/api/payments/charges/", body, format="json", **headers)
        if "order_id" in body:
            assert response.status_code == 400, response.content
            return
        assert response.status_code == 201, response.content
        replayed = response.get("Idempotent-Replayed") == "true"
        if response.json()["status"] == "captured" and not replayed:
            self.direct[who] += Decimal(response.json()["amount"])

    # ------------------------------------------------------------------ what the system does
    @rule(state=st.sampled_from(["monolith", "extracted"]))
    def move_route(self, state: str) -> None:
        self.bus.route(state)

    @rule()
    def deliver(self) -> None:
        self.bus.deliver()

    @rule()
    def payments_back(self) -> None:
        self.bus.release_held()

    @rule()
    def time_passes(self) -> None:
        self.bus.time_out_sagas()

    @rule()
    def settle_and_check(self) -> None:
        self.check_when_settled()

    def teardown(self) -> None:
        try:
            self.check_when_settled()
        finally:
            transaction.set_rollback(True)
            self.example.__exit__(None, None, None)

    # ------------------------------------------------------------------ the invariants
    def check_when_settled(self) -> None:
        self.bus.release_held()
        self.bus.deliver()
        confirmed_units = dict.fromkeys(self.skus, 0)
        for order in Order.objects.filter(pk__in=self.orders).prefetch_related("lines"):
            charges = Charge.objects.filter(order_id=order.id)
            assert set(charges.values_list("user_id", flat=True)) <= {order.user_id}, order
            paid = _net(charges.exclude(status__in=("pending", "declined", "failed")))
            reservation = Reservation.objects.filter(order_id=order.id).first()
            if order.status == Order.Status.CONFIRMED:
                assert paid == order.total, (order, paid)
                assert reservation is not None and reservation.status == "committed", order
                for line in order.lines.all():
                    confirmed_units[line.sku] += line.quantity
            else:
                assert order.status == Order.Status.CANCELLED, order  # none left pending
                assert paid == 0, (order, paid)
                if order.cancel_reason == Order.CancelReason.TIMEOUT:
                    # its charge command was held past the deadline: never run, not even
                    # to be refunded afterwards
                    assert not charges.exists(), (order, list(charges))
                assert reservation is None or reservation.status != "committed", order
        for sku, units in confirmed_units.items():
            stock = Stock.objects.get(product__sku=sku)
            assert (stock.on_hand, stock.reserved) == (ON_HAND - units, 0), sku
        for who, user in enumerate(self.users):
            confirmed = Order.objects.filter(user_id=user.pk, status=Order.Status.CONFIRMED)
            owed = sum((o.total for o in confirmed), Decimal("0.00")) + self.direct[who]
            mine = Charge.objects.filter(user_id=user.pk).exclude(
                status__in=("pending", "declined", "failed")
            )
            assert _net(mine) == owed, (user.username, _net(mine), owed)


def test_money_has_one_story(saga_bus: SagaBus) -> None:
    MoneyStory.bus = saga_bus
    run_state_machine_as_test(
        MoneyStory,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
