"""Real workers and relays as processes: SIGKILL mid-handler, and a broker outage.

The broker is the run's own (embedded folder or RabbitMQ); an outage is a cut
FaultProxy in front of RabbitMQ, or the embedded queue folder moved away. The shared
servers are never stopped.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from messaging.models import DeadLetter, InboxMessage
from messaging.testing import FaultProxy, is_amqp, service_process, wait_until
from messaging.tests.factories import publish_stock_changes, send, stock_reserved
from messaging.tests.ledger.models import Effect
from messaging.tests.workers import (
    SETTINGS,
    WORKER,
    effects_of,
    log_of,
    relay_everything,
    start_worker,
    stop,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("victim", ["pool child", "whole worker"])
def test_a_worker_killed_mid_handler_loses_nothing_and_applies_once(events, tmp_path, victim):
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "block-SLOW").touch()
    publish_stock_changes(["SLOW"], per_sku=1)
    publish_stock_changes(["FAST"], per_sku=3)
    relay_everything(events)
    worker = start_worker(events, tmp_path)
    try:
        wait_until(
            lambda: (faults / "started-SLOW").exists(),
            timeout=60,
            message=f"the handler never started\n{log_of(tmp_path)}",
        )
        handler_pid = int((faults / "started-SLOW").read_text())
        if victim == "pool child":
            os.kill(handler_pid, signal.SIGKILL)
        else:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        (faults / "block-SLOW").unlink()
        if victim == "whole worker":
            worker = start_worker(events, tmp_path, name="worker2")
        wait_until(
            lambda: effects_of("SLOW") == [1] and effects_of("FAST") == [1, 2, 3],
            timeout=60,
            message=f"events were lost\n{log_of(tmp_path)}{log_of(tmp_path, 'worker2')}",
        )
    finally:
        stop(worker)
    assert effects_of("SLOW") == [1]
    assert InboxMessage.objects.count() == 4


def test_two_worker_processes_given_the_same_event_apply_it_once(events, tmp_path):
    # Worker A applies the event and commits, and dies before it acknowledges: the broker
    # hands the same message to worker B, which must find it applied. The handler is not
    # ordered, so only the inbox stands between B and a second effect.
    faults = tmp_path / "faults"
    faults.mkdir()
    reserved = stock_reserved("ONCE")
    (faults / f"die-after-commit-{reserved.aggregate_id}").touch()
    first = send(events, reserved)
    worker_a = start_worker(events, tmp_path, name="worker-a")
    try:
        wait_until(
            lambda: worker_a.poll() is not None,
            timeout=60,
            message=f"worker A did not apply the event\n{log_of(tmp_path, 'worker-a')}",
        )
    finally:
        stop(worker_a)
    assert [e.event_id for e in Effect.objects.all()] == [reserved.id]  # committed by A
    after = stock_reserved("AFTER")
    send(events, after)  # queued behind the unacknowledged one
    worker_b = start_worker(events, tmp_path, name="worker-b")
    try:
        wait_until(
            lambda: Effect.objects.filter(event_id=after.id).exists(),
            timeout=60,
            message=f"worker B consumed nothing\n{log_of(tmp_path, 'worker-b')}",
        )
    finally:
        stop(worker_b)
    for name in ("worker-a", "worker-b"):  # both received that very message
        assert f"[{first}] received" in log_of(tmp_path, name), log_of(tmp_path, name)
    assert Effect.objects.filter(event_id=reserved.id).count() == 1
    assert InboxMessage.objects.filter(event_id=reserved.id).count() == 1
    assert not DeadLetter.objects.exists()


def test_an_event_that_kills_its_worker_every_time_is_dead_lettered(events, tmp_path):
    # Every delivery of CRASH kills the pool process: the broker hands it out again marked
    # redelivered, and from then on the consumer counts its attempts until the cap.
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "crash-CRASH").touch()
    publish_stock_changes(["CRASH", "FINE"], per_sku=1)
    relay_everything(events)
    worker = service_process(
        WORKER,
        env={**events.env(), "CARVE_TEST_FAULT_DIR": str(faults), "CARVE_EVENTS_MAX_ATTEMPTS": "2"},
        log_path=tmp_path / "worker.log",
        settings_module=SETTINGS,
    )
    try:
        wait_until(
            lambda: DeadLetter.objects.filter(aggregate_id="CRASH").exists(),
            timeout=90,
            message=f"the crashing event was never dead-lettered\n{log_of(tmp_path)}",
        )
        wait_until(
            lambda: effects_of("FINE") == [1],
            timeout=30,
            message=f"its neighbour was not applied\n{log_of(tmp_path)}",
        )
    finally:
        stop(worker)
    letter = DeadLetter.objects.get(aggregate_id="CRASH")
    assert letter.reason == "worker_lost" and letter.attempts == 3
    assert effects_of("CRASH") == []
    assert not InboxMessage.objects.filter(aggregate_id="CRASH").exists()


def test_relay_and_worker_ride_out_a_broker_outage(events, tmp_path):
    skus = [f"R{i}" for i in range(4)]
    proxy = None
    worker_url = None
    if is_amqp(events.broker_url):
        from kombu.utils.url import url_to_parts

        parts = url_to_parts(events.broker_url)
        proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
        worker_url = events.broker_url.replace(f":{parts.port or 5672}/", f":{proxy.port}/")
    queue_dir = Path(events.broker_dir) / "queue"

    relay_env = {**events.env(), **({"CELERY_BROKER_URL": worker_url} if worker_url else {})}
    relay = service_process(
        [sys.executable, "manage.py", "events_relay"],
        env=relay_env,
        log_path=tmp_path / "relay.log",
        settings_module=SETTINGS,
    )
    worker = start_worker(events, tmp_path, broker_url=worker_url)
    try:
        publish_stock_changes(skus, per_sku=15)
        wait_until(
            lambda: Effect.objects.count() == 60,
            timeout=60,
            message="nothing flowed before the outage\n"
            + log_of(tmp_path)
            + log_of(tmp_path, "relay"),
        )
        if proxy:
            proxy.cut()
        else:
            os.rename(queue_dir, queue_dir.with_name("queue.away"))
        publish_stock_changes(skus, per_sku=15, first=16)  # written while the broker is away
        wait_until(
            lambda: "publishing failed" in log_of(tmp_path, "relay"),
            timeout=60,
            message="the relay never met the outage",
        )
        if proxy:
            proxy.restore()
        else:
            os.rename(queue_dir.with_name("queue.away"), queue_dir)
        wait_until(
            lambda: Effect.objects.count() >= 120,
            timeout=120,
            message=f"not every event arrived after the outage ({Effect.objects.count()}/120)\n"
            f"{log_of(tmp_path)}{log_of(tmp_path, 'relay')}",
        )
    finally:
        stop(worker)
        stop(relay)
        if proxy:
            proxy.close()
    applied = defaultdict(list)
    for effect in Effect.objects.order_by("id"):
        applied[effect.aggregate_id].append(effect.sequence)
    assert {sku: applied[sku] for sku in skus} == {sku: list(range(1, 31)) for sku in skus}
