"""`manage.py rebuild_order_history` gives back exactly what the live feed built."""

import io
import random
import threading
import uuid
from collections.abc import Callable, Mapping

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from messaging.consumer import consume_delivery
from messaging.models import InboxMessage
from monolith.orderhistory import services
from monolith.orderhistory.models import OrderHistory
from monolith.orderhistory.tests.factories import Story, deliveries

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot() -> list[Mapping[str, object]]:
    return list(OrderHistory.objects.order_by("order_id").values())


def rebuild(**options: object) -> str:
    out = io.StringIO()
    call_command("rebuild_order_history", stdout=out, **options)
    return out.getvalue()


def live_feed(events, seed: int = 1) -> int:
    """Feed a mix of order paths, shuffled and partly duplicated; returns events sent."""
    rng = random.Random(seed)
    envelopes = []
    for n in range(12):
        story = Story(user_id=100 + n % 3)
        path = ["paid", "declined", "out_of_stock", "refunded_after_cancel"][n % 4]
        envelopes += getattr(story, path)()
    sent = [*envelopes, *rng.sample(envelopes, 10)]
    rng.shuffle(sent)
    for start in range(0, len(sent), 7):
        for delivery in deliveries(sent[start : start + 7]):
            outcomes = consume_delivery([e.to_dict() for e in delivery], app=events.app)
            assert {o.outcome for o in outcomes} <= {"applied", "duplicate", "stale"}
    return len(envelopes)


def test_a_rebuild_gives_the_same_rows_as_the_live_feed(events):
    distinct = live_feed(events)
    live = snapshot()
    assert len(live) == 12
    OrderHistory.objects.filter(status="confirmed").update(status="pending", total=0)
    OrderHistory.objects.filter(stock_state="rejected").delete()
    OrderHistory.objects.create(order_id=uuid.uuid4(), updated_at=timezone.now())

    out = rebuild(batch_size=4, progress_every=10)

    assert snapshot() == live
    lines = out.strip().splitlines()
    ends = [*range(4, distinct, 4), distinct]  # where each batch of 4 ends
    crossed = [n for prev, n in zip([0, *ends], ends, strict=False) if n // 10 > prev // 10]
    assert len(crossed) == distinct // 10
    assert lines[:-1] == [f"rebuild_order_history: {n} events replayed" for n in crossed]
    assert lines[-1] == f"rebuild_order_history: done, {distinct} events replayed into 12 orders"


def test_a_rebuild_twice_is_the_same_and_ignores_other_events_and_consumers(events):
    live_feed(events, seed=2)
    live = snapshot()
    stranger = Story(user_id=5).paid()[0]
    InboxMessage.objects.create(
        consumer="someone-else",
        event_id=stranger.id,
        event_type=stranger.type,
        aggregate=stranger.aggregate,
        aggregate_id=stranger.aggregate_id,
        sequence=stranger.sequence,
        origin=stranger.origin,
        envelope=stranger.to_json(),
        occurred_at=stranger.occurred_at,
    )
    rebuild()
    rebuild(batch_size=1)
    assert snapshot() == live


def test_an_unreadable_retained_event_stops_the_rebuild_and_keeps_the_rows(events):
    live_feed(events, seed=3)
    live = snapshot()
    newest = InboxMessage.objects.filter(event_type="orders.OrderPlaced").last()
    assert newest is not None
    newest.envelope = newest.envelope.replace('"version":1', '"version":9')
    newest.save()
    with pytest.raises(CommandError, match=r"orders.OrderPlaced v9.*left as it was"):
        rebuild()
    assert snapshot() == live


def test_a_corrupt_retained_event_stops_the_rebuild(events):
    live_feed(events, seed=5)
    live = snapshot()
    newest = InboxMessage.objects.last()
    assert newest is not None
    InboxMessage.objects.filter(pk=newest.pk).update(envelope="{")
    with pytest.raises(CommandError, match="is not an event envelope"):
        rebuild()
    assert snapshot() == live


def test_bad_options_are_refused(db):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        rebuild(batch_size=0)


def test_an_empty_inbox_rebuilds_an_empty_table(db):
    OrderHistory.objects.create(order_id=uuid.uuid4(), updated_at=timezone.now())
    assert rebuild().strip() == "rebuild_order_history: done, 0 events replayed into 0 orders"
    assert not OrderHistory.objects.exists()


def test_events_applied_during_a_rebuild_land_on_top_of_it(events):
    live_feed(events, seed=4)
    before = snapshot()
    late = Story(user_id=1)
    paused, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def pause(count: int) -> None:
        paused.set()
        resume.wait(timeout=30)

    def run(target: Callable[[], object]) -> threading.Thread:
        def body() -> None:
            try:
                target()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=body)
        thread.start()
        return thread

    rebuilding = run(
        lambda: services.order_history_rebuild(batch_size=5, progress_every=10, progress=pause)
    )
    assert paused.wait(timeout=30)
    applying = run(
        lambda: [
            consume_delivery([e.to_dict()], app=events.app) for e in late.refunded_after_cancel()
        ]
    )
    applying.join(timeout=0.5)  # give it the chance to run into the rebuild's lock
    went_through = not applying.is_alive()
    resume.set()
    rebuilding.join(timeout=60)
    applying.join(timeout=60)
    assert not went_through, "a live event went through while the rebuild held the table"
    assert not errors, errors

    row = OrderHistory.objects.get(pk=late.order_id)
    assert (row.status, row.payment_status, row.stock_state) == (
        "cancelled",
        "refunded",
        "returned",
    )
    assert [r for r in snapshot() if r["order_id"] != late.order_id] == before
    after = snapshot()
    rebuild()
    assert snapshot() == after
