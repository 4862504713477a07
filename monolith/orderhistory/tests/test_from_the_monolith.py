"""The read model fed by what the monolith really publishes: orders placed and cancelled
through its API, their outbox rows relayed to the broker and consumed from the queue."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from messaging.models import OutboxMessage
from messaging.relay import ensure_partitions, relay_for
from monolith.orderhistory.models import OrderHistory
from monolith.orderhistory.services import HISTORY_EVENTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

URL = "/api/orders/history/"


def relay_and_consume(events) -> None:
    # Only the order history's events: the test settings' ledger applies StockChanged in
    # strict order from #1, never hears ProductCreated (#1), and would keep retrying.
    types = [cls.TYPE for cls in HISTORY_EVENTS]
    OutboxMessage.objects.exclude(event_type__in=types).update(sent_at=timezone.now())
    ensure_partitions()
    relay = relay_for(events.app)
    try:
        while relay.run_once():
            pass
    finally:
        relay.drop_publisher()
    events.drain()


def test_orders_placed_and_cancelled_in_the_monolith_show_in_the_history(events, api, make_product):
    make_product(sku="MUG", price="4.50", on_hand=10)
    paid = api.post(
        "/api/orders/",
        {"lines": [{"sku": "MUG", "quantity": 2}], "card_token": "tok_ok"},
        format="json",
    ).json()
    declined = api.post(
        "/api/orders/",
        {"lines": [{"sku": "MUG", "quantity": 1}], "card_token": "tok_declined"},
        format="json",
    ).json()
    relay_and_consume(events)

    rows = {r["order_id"]: r for r in api.get(URL).json()["results"]}
    assert (rows[paid["id"]]["status"], rows[paid["id"]]["total"]) == ("confirmed", "9.00")
    assert (rows[paid["id"]]["payment_status"], rows[paid["id"]]["stock_state"]) == (
        "captured",
        "committed",
    )
    assert (rows[declined["id"]]["cancel_reason"], rows[declined["id"]]["payment_status"]) == (
        "payment_declined",
        "declined",
    )
    assert rows[declined["id"]]["stock_state"] == "released"

    assert api.post(f"/api/orders/{paid['id']}/cancel/").status_code == 200
    relay_and_consume(events)
    row = OrderHistory.objects.get(pk=paid["id"])
    assert (row.status, row.payment_status, row.stock_state) == (
        "cancelled",
        "refunded",
        "returned",
    )
    assert row.refunded_amount == row.total

    live = list(OrderHistory.objects.order_by("order_id").values())
    call_command("rebuild_order_history", stdout=io.StringIO())
    assert list(OrderHistory.objects.order_by("order_id").values()) == live
