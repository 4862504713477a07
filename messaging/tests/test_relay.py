"""The relay: order per aggregate, exactly-once effect across a relay crash, several
relays at once, unroutable events, and a broker that goes away and comes back."""

import logging
import os
import random
import threading
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connections, transaction

from contracts.events.inventory import ProductCreatedV1, StockChangedV1
from contracts.events.users import UserRegisteredV1
from messaging.models import OutboxMessage
from messaging.outbox import publish
from messaging.publishers import connect_publisher
from messaging.relay import Relay, ensure_partitions
from messaging.testing import FaultProxy, is_amqp, wait_until
from messaging.tests.factories import publish_stock_changes
from messaging.tests.ledger.models import Effect

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, the open transaction rolls back."""


def relay_for_test(events, url=None, **options):
    ensure_partitions()
    return Relay(lambda: connect_publisher(events.app, url), **options)


def run_until_empty(relay):
    try:
        while relay.run_once() or OutboxMessage.objects.filter(sent_at__isnull=True).exists():
            pass
    finally:
        relay.drop_publisher()


def sequences_by_aggregate(envelopes):
    seen = defaultdict(list)
    for envelope in envelopes:
        seen[envelope.aggregate_id].append(envelope.sequence)
    return seen


def test_relay_publishes_in_order_per_aggregate_and_marks_rows_sent(events):
    publish_stock_changes(["A", "B", "C"], per_sku=15)
    run_until_empty(relay_for_test(events, batch_size=7))
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    events.drain(until=lambda: Effect.objects.count() == 45)
    for sku, sequences in sequences_by_aggregate(events.received).items():
        assert sequences == list(range(1, 16)), sku
    assert Effect.objects.count() == 45


def test_several_event_types_of_one_aggregate_go_out_in_their_order(events):
    # Two routing keys interleaved on one aggregate: a relay that grouped a batch by key
    # would send #1, #3, #5 (ProductCreated) before #2, #4, #6 (StockChanged).
    for sequence in range(1, 7):
        event: ProductCreatedV1 | StockChangedV1
        price = Decimal("4.50")
        if sequence % 2:
            event = ProductCreatedV1(
                sku="MIX", name="Mug", price=price, currency="EUR", on_hand=sequence, reserved=0
            )
        else:
            event = StockChangedV1(
                sku="MIX",
                name="Mug",
                price=price,
                currency="EUR",
                on_hand=sequence,
                reserved=0,
                reason="adjusted",
            )
        with transaction.atomic():
            publish(event, sequence=sequence)
    run_until_empty(relay_for_test(events, batch_size=50))
    events.drain(until=lambda: Effect.objects.count() == 6)
    assert [e.sequence for e in events.received] == [1, 2, 3, 4, 5, 6]
    assert [e.type for e in events.received][:2] == [ProductCreatedV1.TYPE, StockChangedV1.TYPE]


def test_a_relay_killed_after_publishing_republishes_and_the_effect_is_once(events):
    publish_stock_changes(["K"], per_sku=5)

    class DiesAfterPublishing:
        def __init__(self, real):
            self.real = real

        def publish(self, messages):
            self.real.publish(messages)
            raise Killed()

        def close(self):
            self.real.close()

    doomed = Relay(lambda: DiesAfterPublishing(connect_publisher(events.app)))
    ensure_partitions()
    with pytest.raises(Killed):
        while True:
            doomed.run_once()
    doomed.drop_publisher()
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 5  # marks rolled back

    run_until_empty(relay_for_test(events))
    events.drain(until=lambda: len(events.received) >= 10)
    events.drain()  # and nothing more arrives
    assert len(events.received) == 10  # every event went out twice ...
    assert list(Effect.objects.values_list("sequence", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]  # ... and applied once


def test_several_relays_at_once_publish_each_row_once_in_order(events):
    publish_stock_changes([f"P{i}" for i in range(12)], per_sku=10)
    errors = []

    def relay_thread():
        try:
            run_until_empty(relay_for_test(events, batch_size=5))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=relay_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    events.drain(until=lambda: len(events.received) >= 120)
    events.drain()
    assert len(events.received) == 120
    assert len({e.id for e in events.received}) == 120
    for sku, sequences in sequences_by_aggregate(events.received).items():
        assert sequences == list(range(1, 11)), sku


def test_an_event_no_queue_is_bound_for_is_marked_unroutable_not_lost_silently(events):
    with transaction.atomic():
        publish(
            UserRegisteredV1(user_id=1, username="u", email="u@example.com", is_staff=False),
            sequence=1,
        )
    run_until_empty(relay_for_test(events))
    row = OutboxMessage.objects.get()
    assert row.sent_at is not None and row.unroutable


def test_the_relay_waits_out_a_broker_outage(events, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="carve.relay")
    publish_stock_changes(["OUT"], per_sku=3)
    proxy = None
    if is_amqp(events.broker_url):
        from kombu.utils.url import url_to_parts

        parts = url_to_parts(events.broker_url)
        proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
        url = events.broker_url.replace(f":{parts.port or 5672}/", f":{proxy.port}/")
        proxy.cut()
        outage = proxy.restore
    else:
        queue_dir = Path(events.app.conf.broker_transport_options["data_folder_in"])
        away = queue_dir.with_name("queue.away")
        os.rename(queue_dir, away)
        outage = lambda: os.rename(away, queue_dir)  # noqa: E731
        url = None

    relay = relay_for_test(events, url)
    stop = threading.Event()

    def run_relay():
        relay.run(stop, idle_wait=0.02)
        connections.close_all()

    thread = threading.Thread(target=run_relay)
    thread.start()
    try:
        # While the broker is down nothing is marked sent, however often the relay tries ...
        # (A relay that marked a refused batch sent would have nothing left to try.)
        wait_until(
            lambda: (
                caplog.text.count("relay: publishing failed") >= 2
                or OutboxMessage.objects.filter(sent_at__isnull=False).exists()
            ),
            timeout=60,
            message="the relay never met the outage",
        )
        assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 3
        outage()  # ... and once it is back, the relay catches up by itself.
        wait_until(
            lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(),
            timeout=30,
            message="the relay did not recover",
        )
    finally:
        stop.set()
        thread.join(timeout=30)
        if proxy:
            proxy.close()
    events.drain(until=lambda: Effect.objects.count() == 3)
    assert list(Effect.objects.values_list("sequence", flat=True)) == [1, 2, 3]


# ------------------------------------------------------------------ waking an idle relay
def _listening_relays() -> list[str]:
    """What each other session that ever listened for the outbox did last (LISTEN while
    its relay is idle, UNLISTEN once busy)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE %s",
            ["%LISTEN carve_outbox"],
        )
        return [query for (query,) in cursor.fetchall()]


@pytest.mark.real
def test_an_idle_relay_wakes_on_each_commit_however_events_fall_around_its_rounds(events):
    """An idle relay publishes on NOTIFY, not on its fallback poll (set here to 20 s, so a
    missed wake-up fails the test). Events go out alone, in bursts and with pauses around
    the relay's linger, so commits land before, during and after its rounds and while it
    switches between listening (idle) and not listening (busy)."""
    relay = relay_for_test(events)
    stop = threading.Event()

    def run_relay():
        relay.run(stop, idle_wait=2.0)  # sleeps up to 20 s unless notified
        connections.close_all()

    thread = threading.Thread(target=run_relay)
    thread.start()
    try:
        wait_until(
            lambda: _listening_relays() == ["LISTEN carve_outbox"],
            timeout=30,
            message="the relay never went idle, listening",
        )
        rng = random.Random(7)
        for round_ in range(12):
            publish_stock_changes([f"W{round_}"], per_sku=rng.choice([1, 1, 3]))
            wait_until(
                lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(),
                timeout=5,
                message=f"an event of round {round_} waited for the fallback poll",
            )
            stop.wait(rng.choice([0.0, 0.01, 0.03, 0.06, 0.2]))
        # Idle again, it listens again.
        wait_until(
            lambda: _listening_relays() == ["LISTEN carve_outbox"],
            timeout=10,
            message="the relay did not go back to listening",
        )
    finally:
        stop.set()
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("NOTIFY carve_outbox")  # wake it to see `stop`
        thread.join(timeout=30)
    assert not thread.is_alive()
    events.drain(until=lambda: Effect.objects.count() == OutboxMessage.objects.count())


@pytest.mark.real
def test_a_busy_relay_does_not_listen(events):
    """After a round that found events the relay comes back by itself (here after a 2 s
    linger); listening meanwhile would only wake its database backend once per commit.
    Idle again, it listens."""
    relay = relay_for_test(events, linger=2.0, busy_linger=2.0)
    stop = threading.Event()

    def run_relay():
        relay.run(stop, idle_wait=0.05)
        connections.close_all()

    thread = threading.Thread(target=run_relay)
    thread.start()
    try:
        wait_until(
            lambda: _listening_relays() == ["LISTEN carve_outbox"],
            timeout=30,
            message="the relay never went idle, listening",
        )
        publish_stock_changes(["BUSY"], per_sku=3)
        wait_until(
            lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(),
            timeout=10,
            message="the relay did not publish",
        )
        wait_until(  # a moment after its round commits, well within the linger
            lambda: _listening_relays() == ["UNLISTEN carve_outbox"],
            timeout=1.5,
            message="the relay still listens while it lingers",
        )
        wait_until(
            lambda: _listening_relays() == ["LISTEN carve_outbox"],
            timeout=30,
            message="the relay did not listen once idle",
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
