"""Real workers and relays of the messaging tests' ledger service, as processes."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from messaging.models import OutboxMessage
from messaging.publishers import connect_publisher
from messaging.relay import Relay, ensure_partitions
from messaging.testing import EventsEnv, celery_worker_args, service_process
from messaging.tests.ledger.models import Effect

SETTINGS = "monolith.config.settings.test"
WORKER = celery_worker_args("monolith.config.celery", concurrency=1)


def start_worker(
    events: EventsEnv,
    tmp_path: Path,
    name: str = "worker",
    broker_url: str | None = None,
    *,
    database: str | None = None,
    concurrency: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    full_env = {**events.env(), "CARVE_TEST_FAULT_DIR": str(tmp_path / "faults"), **(env or {})}
    if broker_url:
        full_env["CELERY_BROKER_URL"] = broker_url
    return service_process(
        celery_worker_args("monolith.config.celery", concurrency=concurrency),
        env=full_env,
        log_path=tmp_path / f"{name}.log",
        settings_module=SETTINGS,
        database=database,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except Exception:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def relay_everything(events: EventsEnv) -> None:
    ensure_partitions()
    relay = Relay(lambda: connect_publisher(events.app))
    try:
        while relay.run_once() or OutboxMessage.objects.filter(sent_at__isnull=True).exists():
            pass
    finally:
        relay.drop_publisher()


def effects_of(sku: str) -> list[int]:
    return list(Effect.objects.filter(aggregate_id=sku).values_list("sequence", flat=True))


def log_of(tmp_path: Path, name: str = "worker") -> str:
    path = tmp_path / f"{name}.log"
    return path.read_text() if path.exists() else ""
