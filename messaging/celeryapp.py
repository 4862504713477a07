"""The Celery app of a service: one factory for the embedded broker and for RabbitMQ.

    app = create_celery_app()    # in <service>/config/celery.py, after django.setup()

The service's queue ("carve.<service>") is durable and bound to the topic exchange
"carve.events" with the routing keys of the events its handlers take. Delivery is
at-least-once: tasks ack late, a task whose worker dies is put back, and the consumer
caps redeliveries itself (see messaging.consumer). A delivery the database or broker
failed under is sent back to the queue uncounted (messaging.errors), never acknowledged
as a failed task.

Database connections outlive a task, as they outlive a request in Django: closed when
older than CONN_MAX_AGE or broken (looked at once a second, and after a failed delivery),
not before and after every task as Celery's Django fix-up does by default (a new
PostgreSQL connection per delivery costs more than the delivery's own queries).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from celery import Celery
from django.conf import settings
from kombu import Exchange, Queue, binding

from messaging import handlers
from messaging.fstransport import broker_options

CONSUME_TASK = "carve.events.consume"


def events_exchange() -> Exchange:
    return Exchange(settings.CARVE_EVENTS_EXCHANGE, type="topic", durable=True)


def queue_name(service: str | None = None) -> str:
    return f"{settings.CARVE_EVENTS_QUEUE_PREFIX}{service or settings.CARVE_SERVICE_NAME}"


def service_queue() -> Queue:
    exchange = events_exchange()
    keys = handlers.subscriptions()
    return Queue(
        queue_name(),
        exchange=exchange,
        bindings=[binding(exchange, routing_key=key) for key in keys],
        durable=True,
    )


def broker_config(url: str) -> dict[str, Any]:
    if url.startswith("filesystem://"):
        return {
            "broker_transport": "messaging.fstransport:Transport",
            "broker_transport_options": broker_options(settings.CARVE_BROKER_DIR),
        }
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {"broker_transport_options": {"confirm_publish": True}}
    return {}


def create_celery_app(name: str | None = None) -> Celery:
    service = name or settings.CARVE_SERVICE_NAME
    url = settings.CELERY_BROKER_URL
    app = Celery(service, set_as_current=False)
    app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker that is down is waited for, forever
        broker_heartbeat=10,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # How long a dead pool process's job waits for a result it may have sent before
        # dying (10 s by default). Tasks here send none (task_ignore_result), so waiting only
        # delays the redelivery of the event it held.
        worker_lost_wait=1.0,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_prefetch_multiplier=4,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_queues=[service_queue()],
        task_default_queue=queue_name(),
        task_create_missing_queues=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # No pidbox queue: it is exclusive, and a worker reconnecting after a broker outage
        # would find it still locked by its own dead connection (RESOURCE_LOCKED).
        worker_enable_remote_control=False,
        # Celery's Django fix-up closes every connection around each task unless told to
        # reuse them; the task itself applies Django's policy (close_old_connections).
        CELERY_DB_REUSE_MAX=sys.maxsize,
        **broker_config(url),
    )

    @app.task(name=CONSUME_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def consume(
        task: Any,
        envelopes: list[dict[str, Any]],
        counted: list[str] | None = None,
        infrastructure_retries: int = 0,
    ) -> None:
        from django.db import close_old_connections

        from messaging.consumer import consume_message

        tidy_connections()
        try:
            consume_message(
                envelopes,
                app=app,
                redelivered=bool(task.request.delivery_info.get("redelivered")),
                counted=counted or (),
                infrastructure_retries=infrastructure_retries,
            )
        except BaseException:
            close_old_connections()  # a broken connection goes now, not at the next look
            raise

    return app


TIDY_EVERY_SECONDS = 1.0
_tidied_at = -TIDY_EVERY_SECONDS


def tidy_connections() -> None:
    """Django's connection policy (close_old_connections: drop a connection that is past
    CONN_MAX_AGE or broke) at most once a second per worker process, not around every
    delivery: each call makes the next query check the connection first (CONN_HEALTH_CHECKS,
    a `SELECT 1` round trip), which was 9 % of a PostgreSQL consumer's time in the flip test.
    A delivery that fails closes what broke at once (the task's except clause)."""
    from django.db import close_old_connections

    global _tidied_at
    now = time.monotonic()
    if now - _tidied_at >= TIDY_EVERY_SECONDS:
        _tidied_at = now
        close_old_connections()
