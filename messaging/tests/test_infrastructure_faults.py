"""Nothing lost when the infrastructure blinks (issue 14): real workers as processes.

A failure of the database (refused transaction, connection lost, server unreachable) is
not a failure of the handler: the delivery goes back to the queue uncounted and is
applied, once and in order, when the database is back; nothing is dead-lettered. A late
predecessor is waited for (up to CARVE_EVENTS_GAP_ATTEMPTS) and its successors then apply
in order. The database outage is a cut FaultProxy in front of PostgreSQL (real mode
only: an embedded database is a file); the shared server is never stopped.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

import pytest

from messaging.models import ConsumeAttempt, DeadLetter, InboxMessage, WaitingEvent
from messaging.testing import (
    FaultProxy,
    database_server,
    database_url,
    service_process,
    wait_until,
)
from messaging.tests.factories import publish_stock_changes, send, stock_changed
from messaging.tests.ledger.models import Effect
from messaging.tests.workers import (
    SETTINGS,
    effects_of,
    log_of,
    relay_everything,
    start_worker,
    stop,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]
INFRASTRUCTURE_FAILED = "the infrastructure failed under a delivery"


def applied_by_sku() -> dict[str, list[int]]:
    applied = defaultdict(list)
    for aggregate_id, sequence in Effect.objects.order_by("id").values_list(
        "aggregate_id", "sequence"
    ):
        applied[aggregate_id].append(sequence)
    return applied


def test_a_refused_transaction_sends_the_delivery_back_uncounted(events, tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "conflict-BLINK").touch()  # every transaction of BLINK's handler is refused
    publish_stock_changes(["BLINK", "STEADY"], per_sku=3)
    relay_everything(events)
    # Tried again by the worker for 1 s, then sent back to the queue, and so on.
    worker = start_worker(
        events,
        tmp_path,
        env={"CARVE_EVENTS_MAX_ATTEMPTS": "2", "CARVE_EVENTS_INFRA_WAIT_SECONDS": "1"},
    )
    try:
        # More tries than MAX_ATTEMPTS allows a failing handler: none of them counted.
        wait_until(
            lambda: log_of(tmp_path).count(f"{INFRASTRUCTURE_FAILED}; it goes back") > 2,
            timeout=60,
            message=f"the delivery was not sent back\n{log_of(tmp_path)}",
        )
        assert f"{INFRASTRUCTURE_FAILED}; trying it again" in log_of(tmp_path)
        assert effects_of("BLINK") == []
        assert not DeadLetter.objects.exists()
        (faults / "conflict-BLINK").unlink()  # the database takes it again
        wait_until(
            lambda: effects_of("BLINK") == [1, 2, 3] and effects_of("STEADY") == [1, 2, 3],
            timeout=60,
            message=f"events were lost\n{log_of(tmp_path)}",
        )
    finally:
        stop(worker)
    assert not DeadLetter.objects.exists()
    assert not ConsumeAttempt.objects.exists()
    assert InboxMessage.objects.count() == 6


@pytest.mark.real
@pytest.mark.parametrize(("outage", "workers"), [(5, 1), (30, 1), (5, 2)])
def test_a_consumer_database_cut_while_events_flow_loses_nothing(events, tmp_path, outage, workers):
    skus = [f"DB{i:02}" for i in range(20)]
    per_sku = 100  # 2,000 events
    proxy = FaultProxy(*database_server())
    relay = None
    # With two worker processes, deliveries of one aggregate go back and come again in
    # another order than they were published: most of the backlog arrives early, and must
    # go as soon as its predecessor is applied. Retries with backoff come a minute later
    # at the soonest, after the deadline below.
    env = {} if workers == 1 else {"CARVE_EVENTS_RETRY_BASE_SECONDS": "60"}
    worker = start_worker(
        events,
        tmp_path,
        database=database_url(through=proxy),
        concurrency=workers,
        env={**env, "CARVE_EVENTS_RETRY_MAX_SECONDS": "120"} if env else None,
    )
    try:
        relay = service_process(
            [sys.executable, "manage.py", "events_relay"],
            env=events.env(),
            log_path=tmp_path / "relay.log",
            settings_module=SETTINGS,
        )
        publish_stock_changes(skus, per_sku=25)
        wait_until(
            lambda: Effect.objects.count() >= 100,
            timeout=120,
            message=f"nothing flowed before the outage\n{log_of(tmp_path)}",
        )
        proxy.cut()
        cut_at = time.monotonic()
        publish_stock_changes(skus, per_sku=per_sku - 25, first=26)  # flowing meanwhile
        wait_until(
            lambda: INFRASTRUCTURE_FAILED in log_of(tmp_path),
            timeout=60,
            message=f"the worker never met the outage\n{log_of(tmp_path)}",
        )
        time.sleep(max(0.0, cut_at + outage - time.monotonic()))  # the outage itself
        proxy.restore()
        restored_at = time.monotonic()
        before = Effect.objects.count()
        wait_until(
            lambda: Effect.objects.count() > before,
            timeout=60,
            message=f"nothing applied once the database was back\n{log_of(tmp_path)[-5000:]}",
        )
        resumed = time.monotonic() - restored_at
        total = len(skus) * per_sku
        wait_until(
            lambda: Effect.objects.count() >= total,
            timeout=180,
            message=f"events were lost ({Effect.objects.count()}/{total})\n"
            f"{log_of(tmp_path)[-5000:]}",
        )
        print(
            f"\ndatabase cut {outage} s while {total} events flowed to {workers} worker(s): "
            f"applying resumed "
            f"{resumed:.1f} s after the database came back, the last of "
            f"{total - before} waiting events applied after {time.monotonic() - restored_at:.1f} s"
        )
    finally:
        stop(worker)
        if relay is not None:
            stop(relay)
        proxy.close()
    assert applied_by_sku() == {sku: list(range(1, per_sku + 1)) for sku in skus}
    assert not DeadLetter.objects.exists()


def test_a_predecessor_late_by_20_s_is_waited_for_and_its_successors_apply_in_order(
    events, tmp_path
):
    skus = ["LATE1", "LATE2"]
    late = {sku: stock_changed(sku, 1) for sku in skus}
    # The successors arrive at once, each alone; the predecessors 20 s later. A failing
    # handler would be dead-lettered after 2 tries: a missing predecessor is not a failure.
    worker = start_worker(events, tmp_path, env={"CARVE_EVENTS_MAX_ATTEMPTS": "2"})
    try:
        sent_at = time.monotonic()
        for sequence in range(2, 6):
            for sku in skus:
                send(events, stock_changed(sku, sequence))
        wait_until(
            lambda: ConsumeAttempt.objects.filter(attempts__gt=3).exists(),
            timeout=30,
            message=f"the successors were not tried\n{log_of(tmp_path)}",
        )
        time.sleep(max(0.0, sent_at + 20 - time.monotonic()))  # the predecessors' delay
        assert Effect.objects.count() == 0 and not DeadLetter.objects.exists()
        for envelope in late.values():
            send(events, envelope)
        wait_until(
            lambda: Effect.objects.count() == 10,
            timeout=90,
            message=f"the successors did not follow\n{log_of(tmp_path)}",
        )
    finally:
        stop(worker)
    assert applied_by_sku() == {sku: [1, 2, 3, 4, 5] for sku in skus}
    assert not DeadLetter.objects.exists()


def test_with_two_workers_early_events_go_as_soon_as_their_predecessor_is_applied(events, tmp_path):
    # Any retry with backoff would come 5 to 10 minutes later: whatever applies within the
    # deadlines below went because its predecessor did, not because a backoff ran out.
    worker = start_worker(
        events,
        tmp_path,
        concurrency=2,
        env={"CARVE_EVENTS_RETRY_BASE_SECONDS": "600", "CARVE_EVENTS_RETRY_MAX_SECONDS": "600"},
    )
    try:
        # Two aggregates whose first event is late, each successor alone, newest first; a
        # third flows meanwhile.
        for sequence in (5, 4, 3, 2):
            for sku in ("GAPA", "GAPB"):
                send(events, stock_changed(sku, sequence))
        for sequence in range(1, 6):
            send(events, stock_changed("FREE", sequence))
        wait_until(
            lambda: WaitingEvent.objects.count() == 8 and effects_of("FREE") == [1, 2, 3, 4, 5],
            timeout=60,
            message=f"the gaps held back another aggregate\n{log_of(tmp_path)}",
        )
        send(events, stock_changed("GAPA", 1))
        wait_until(
            lambda: effects_of("GAPA") == [1, 2, 3, 4, 5],
            timeout=60,
            message=f"the successors did not follow their predecessor\n{log_of(tmp_path)}",
        )
        # Two workers racing on the same aggregates: every event alone, newest first, so
        # most arrive early while a sibling worker is applying their predecessor.
        skus = [f"RACE{i}" for i in range(10)]
        for sequence in (5, 4, 3, 2, 1):
            for sku in skus:
                send(events, stock_changed(sku, sequence))
        wait_until(
            lambda: all(effects_of(sku) == [1, 2, 3, 4, 5] for sku in skus),
            timeout=60,
            message=f"an early event missed its predecessor\n{log_of(tmp_path)}",
        )
    finally:
        stop(worker)
    assert effects_of("GAPB") == []
    assert set(WaitingEvent.objects.values_list("aggregate_id", flat=True)) == {"GAPB"}
    assert not DeadLetter.objects.exists()
