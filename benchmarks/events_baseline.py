"""The baseline of benchmarks/events.py: bare reliable Celery, no database.

    celery -A benchmarks.events_baseline worker

Tasks ack late, are published persistent with publisher confirms (`confirm_publish`),
carry an event's data and do nothing but count themselves: each pool process keeps its
count in a file of BENCH_COUNT_DIR (one pwrite, no fsync), so the benchmark sees when the
last one ran.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

QUEUE = os.environ.get("BENCH_BASELINE_QUEUE", "carve.bench.baseline")
PREFETCH = int(os.environ.get("BENCH_PREFETCH", "4"))

app = Celery("carve-bench-baseline", set_as_current=False)
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=PREFETCH,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_queues=[Queue(QUEUE, durable=True)],
    task_default_queue=QUEUE,
    task_create_missing_queues=False,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
)

_counter: dict[str, int] = {}


@app.task(name="bench.noop", acks_late=True)
def noop(event: dict[str, object]) -> None:
    if "fd" not in _counter:
        path = os.path.join(os.environ["BENCH_COUNT_DIR"], str(os.getpid()))
        _counter["fd"] = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        _counter["done"] = 0
    _counter["done"] += 1
    os.pwrite(_counter["fd"], b"%012d" % _counter["done"], 0)
