"""The read model fed through the real consumer: every path of an order, and events that
arrive out of order, twice, or re-published under a new id."""

import random
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

import pytest

from contracts.envelope import Envelope
from messaging.consumer import consume_delivery
from messaging.handlers import handler_for
from messaging.models import AggregateCursor, InboxMessage
from messaging.testing import EventsEnv
from monolith.orderhistory.models import OrderHistory
from monolith.orderhistory.services import HISTORY_EVENTS
from monolith.orderhistory.tests.factories import T0, Story, deliveries

pytestmark = pytest.mark.django_db(transaction=True)

APPLIED = {"applied", "duplicate", "stale"}


def feed(events: EventsEnv, envelopes: list[Envelope]) -> None:
    for delivery in deliveries(envelopes):
        outcomes = consume_delivery([e.to_dict() for e in delivery], app=events.app)
        assert {o.outcome for o in outcomes} <= APPLIED, outcomes


def row_of(story: Story) -> Mapping[str, object]:
    return OrderHistory.objects.filter(pk=story.order_id).values().get()


def test_every_history_event_type_has_a_handler():
    for cls in HISTORY_EVENTS:
        assert handler_for(cls.TYPE) is not None, cls.TYPE


def test_the_monolith_loads_the_order_history_handlers():
    from monolith.config.settings import base

    assert "monolith.orderhistory.handlers" in base.CARVE_EVENT_HANDLER_MODULES
    assert "monolith.orderhistory" in base.INSTALLED_APPS


def test_a_paid_order(events):
    story = Story(user_id=7, lines=[("MUG", 2, "4.50"), ("PEN", 4, "1.25")])
    envelopes = story.paid()
    feed(events, envelopes)
    row = OrderHistory.objects.get(pk=story.order_id)
    assert (row.user_id, row.status, row.cancel_reason) == (7, "confirmed", "")
    assert (row.total, row.currency, row.line_count) == (Decimal("14.00"), "EUR", 2)
    assert row.lines == [
        {"sku": "MUG", "name": "MUG name", "quantity": 2, "unit_price": "4.50"},
        {"sku": "PEN", "name": "PEN name", "quantity": 4, "unit_price": "1.25"},
    ]
    assert (row.payment_id, row.payment_status, row.refunded_amount) == (
        story.charge_id,
        "captured",
        Decimal("0"),
    )
    assert row.stock_state == "committed"
    assert (row.order_version, row.charge_version, row.reservation_version) == (2, 2, 2)
    assert row.created_at == story.placed_at
    assert row.updated_at == envelopes[-1].occurred_at


def test_a_declined_order(events):
    story = Story(user_id=7)
    feed(events, story.declined())
    row = OrderHistory.objects.get(pk=story.order_id)
    assert (row.status, row.cancel_reason) == ("cancelled", "payment_declined")
    assert (row.payment_status, row.payment_failure_reason) == ("declined", "card_declined")
    assert row.stock_state == "released"


def test_an_order_out_of_stock(events):
    story = Story(user_id=7)
    feed(events, story.out_of_stock())
    row = OrderHistory.objects.get(pk=story.order_id)
    assert (row.status, row.cancel_reason) == ("cancelled", "out_of_stock")
    assert (row.payment_id, row.payment_status, row.charge_version) == (None, "", 0)
    assert row.stock_state == "rejected"


def test_a_refund_after_a_customer_cancels(events):
    story = Story(user_id=7)
    feed(events, story.refunded_after_cancel())
    row = OrderHistory.objects.get(pk=story.order_id)
    assert (row.status, row.cancel_reason) == ("cancelled", "customer_cancelled")
    assert (row.payment_status, row.refunded_amount) == ("refunded", Decimal("9.00"))
    assert row.stock_state == "returned"
    assert (row.order_version, row.charge_version, row.reservation_version) == (3, 3, 3)


def test_a_partial_refund_and_a_pending_charge_are_named_as_such(events):
    story = Story(user_id=7)
    feed(events, [story.order("pending"), story.charge("pending")])
    assert row_of(story)["payment_status"] == "requested"
    feed(events, [story.charge("captured"), story.charge("partially_refunded", refunded="2.00")])
    row = row_of(story)
    assert (row["payment_status"], row["refunded_amount"]) == ("partially_refunded", Decimal("2"))


def test_events_from_any_origin_are_applied(events):
    """While the monolith owns payments and inventory, their events come from it."""
    story = Story(user_id=7)
    feed(
        events,
        [
            story.order("pending"),
            story.stock("active", origin="monolith"),
            story.charge("pending", origin="monolith"),
            story.charge("captured", origin="monolith"),
            story.stock("committed", origin="inventory"),
            story.order("confirmed"),
        ],
    )
    row = row_of(story)
    assert (row["status"], row["payment_status"], row["stock_state"]) == (
        "confirmed",
        "captured",
        "committed",
    )


def test_a_charge_and_a_reservation_before_the_order_make_the_row_early(events):
    story = Story(user_id=7)
    placed = story.order("pending")
    feed(events, [story.stock("active"), story.charge("pending"), story.charge("captured")])
    row = row_of(story)
    assert (row["order_version"], row["status"], row["total"]) == (0, "", None)
    assert (row["user_id"], row["payment_status"], row["stock_state"]) == (7, "captured", "active")
    feed(events, [placed])
    row = row_of(story)
    assert (row["order_version"], row["status"], row["total"]) == (1, "pending", Decimal("9.00"))
    assert (row["payment_status"], row["stock_state"]) == ("captured", "active")


def test_a_charge_for_no_order_makes_no_row(events):
    story = Story(user_id=7)
    charge = story.charge("captured")
    data = {**charge.data, "order_id": None}
    feed(events, [charge.model_copy(update={"data": data})])
    assert not OrderHistory.objects.exists()


def _reset() -> None:
    OrderHistory.objects.all().delete()
    InboxMessage.objects.all().delete()
    AggregateCursor.objects.all().delete()


def _republished(envelope: Envelope) -> Envelope:
    """The same change published again under a new event id (a side that took over)."""
    return Envelope(**{k: v for k, v in envelope.model_dump().items() if k != "id"})


@pytest.mark.parametrize("seed", range(6))
def test_out_of_order_and_duplicated_events_give_the_same_row(events, seed):
    stories = [Story(user_id=7), Story(user_id=8), Story(user_id=9)]
    paths = [stories[0].refunded_after_cancel(), stories[1].declined(), stories[2].paid()]
    in_order = [e for path in paths for e in path]
    feed(events, in_order)
    expected = list(OrderHistory.objects.order_by("order_id").values())
    assert len(expected) == 3

    _reset()
    rng = random.Random(seed)
    shuffled = [*in_order, *rng.sample(in_order, 6), *map(_republished, rng.sample(in_order, 6))]
    rng.shuffle(shuffled)
    while shuffled:
        size = rng.randint(1, 5)
        feed(events, shuffled[:size])
        shuffled = shuffled[size:]
    assert list(OrderHistory.objects.order_by("order_id").values()) == expected


def test_an_older_event_never_overwrites_a_newer_one(events):
    story = Story(user_id=7)
    placed, confirmed, cancelled = (
        story.order("pending"),
        story.order("confirmed"),
        story.order("cancelled", cancel_reason="customer_cancelled"),
    )
    requested, captured, refunded = (
        story.charge("pending"),
        story.charge("captured"),
        story.charge("refunded", refunded="9.00"),
    )
    feed(events, [cancelled, refunded])
    feed(events, [confirmed, captured, placed, requested])
    row = row_of(story)
    assert (row["status"], row["order_version"]) == ("cancelled", 3)
    assert (row["payment_status"], row["charge_version"]) == ("refunded", 3)
    assert row["updated_at"] == refunded.occurred_at


def test_of_two_charges_for_one_order_the_later_one_shows_whatever_the_arrival(events):
    first = Story(user_id=7)
    second = Story(user_id=7, order_id=first.order_id, placed_at=T0 + timedelta(minutes=1))
    a0, a1 = first.charge("pending"), first.charge("declined")
    b0, b1 = second.charge("pending"), second.charge("captured")
    for arrival in ([a0, a1, b0, b1], [b0, b1, a0, a1], [b1, a1, b0, a0], [a1, b0, a0, b1]):
        _reset()
        feed(events, arrival)
        row = row_of(second)
        assert (row["payment_id"], row["payment_status"], row["charge_version"]) == (
            second.charge_id,
            "captured",
            2,
        ), arrival
