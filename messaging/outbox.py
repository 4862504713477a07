"""Publishing an event = writing it to the outbox in the state change's transaction.

Nothing reaches the broker here: the relay publishes committed rows. So an event exists
exactly when its state change does; a rolled-back transaction publishes nothing.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from django.conf import settings
from django.db import connection

from contracts.envelope import Envelope
from contracts.events import Event
from contracts.registry import routing_key
from messaging.models import RELAY_PARTITIONS, OutboxMessage
from messaging.sql import insert_statement, row_values
from servicekit import context

NOTIFY_CHANNEL = "carve_outbox"


class NotInTransaction(RuntimeError):
    pass


def partition_of(aggregate: str, aggregate_id: str) -> int:
    return zlib.crc32(f"{aggregate}:{aggregate_id}".encode()) % RELAY_PARTITIONS


def publish(event: Event, *, sequence: int, expires_at: datetime | None = None) -> Envelope:
    """Record `event` as version `sequence` of its aggregate, in the current transaction.

    `expires_at` (commands only): past it, the command is discarded, never executed."""
    if not connection.in_atomic_block:
        raise NotInTransaction(
            f"publish({event.TYPE}) must run inside the transaction of the state change "
            "(wrap the service in transaction.atomic)"
        )
    envelope = Envelope(
        type=event.TYPE,
        version=event.VERSION,
        aggregate=event.AGGREGATE,
        aggregate_id=event.aggregate_id(),
        sequence=sequence,
        origin=settings.CARVE_SERVICE_NAME,
        correlation_id=context.correlation_id(),
        causation_id=context.causation_id(),
        expires_at=expires_at,
        data=event.model_dump(mode="json"),
    )
    row = row_values(
        OutboxMessage,
        {
            "event_id": envelope.id,
            "event_type": envelope.type,
            "routing_key": routing_key(envelope.type),
            "aggregate": envelope.aggregate,
            "aggregate_id": envelope.aggregate_id,
            "sequence": sequence,
            "partition": partition_of(envelope.aggregate, envelope.aggregate_id),
            "envelope": envelope.to_json(),
            "created_at": envelope.occurred_at,
        },
    )
    # In SQL, not OutboxMessage.objects.create(): every state change pays for this insert,
    # and the ORM doubled the writer's CPU per event (benchmarks/README.md, events).
    statement = insert_statement(OutboxMessage)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement, one round trip, preparable (whether values are bound by the
            # client or the server). The notification reaches a listening relay when (and
            # only if) this transaction commits.
            cursor.execute(
                f"WITH inserted AS ({statement}) SELECT pg_notify('{NOTIFY_CHANNEL}', '')", row
            )
        else:
            cursor.execute(statement, row)
    return envelope
