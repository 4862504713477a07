"""When an event cannot be applied: attempts counted, retries on this service's own queue
with jittered exponential backoff, dead letters after CARVE_EVENTS_MAX_ATTEMPTS (or
CARVE_EVENTS_GAP_ATTEMPTS for an event whose predecessor never came), and newer schema
versions parked with a log line that says what to do.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from contracts.envelope import Envelope
from messaging.celeryapp import CONSUME_TASK, queue_name
from messaging.inbox import Result, consumer_name
from messaging.models import ConsumeAttempt, DeadLetter

log = logging.getLogger("carve.events")


# ------------------------------------------------------------------ attempts and dead letters
@dataclass(frozen=True)
class Attempts:
    attempts: int
    last_error: str


def count_attempts(envelopes: list[Envelope]) -> dict[uuid.UUID, Attempts]:
    """One more attempt for each event, committed before any of them is applied."""
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        with transaction.atomic():
            for envelope in envelopes:
                row, _ = ConsumeAttempt.objects.get_or_create(
                    consumer=consumer_name(), event_id=envelope.id
                )
                ConsumeAttempt.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            counted = ConsumeAttempt.objects.filter(
                consumer=consumer_name(), event_id__in=[e.id for e in envelopes]
            )
            return {row.event_id: Attempts(row.attempts, row.last_error) for row in counted}
    meta = ConsumeAttempt._meta
    quote = connection.ops.quote_name
    id_field = meta.get_field("event_id")
    now = meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    params: list[Any] = []
    for envelope in envelopes:
        params += [consumer_name(), id_field.get_db_prep_value(envelope.id, connection), now]
    table = quote(meta.db_table)
    values = ", ".join(["(%s, %s, 1, '', %s)"] * len(envelopes))
    sql = (
        f"INSERT INTO {table} (consumer, event_id, attempts, last_error, updated_at) "
        f"VALUES {values} "
        f"ON CONFLICT (consumer, event_id) DO UPDATE SET attempts = {table}.attempts + 1, "
        "updated_at = excluded.updated_at RETURNING event_id, attempts, last_error"
    )
    with connection.cursor() as cursor:  # one statement: its own transaction in autocommit
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {uuid.UUID(str(event_id)): Attempts(n, error) for event_id, n, error in rows}


def dead_letter(envelope: Envelope, *, reason: str, error: str, attempts: int) -> None:
    already = DeadLetter.objects.filter(
        consumer=consumer_name(), event_id=envelope.id, replayed_at__isnull=True
    ).exists()
    if not already:
        DeadLetter.objects.create(
            consumer=consumer_name(),
            event_id=envelope.id,
            event_type=envelope.type,
            aggregate=envelope.aggregate,
            aggregate_id=envelope.aggregate_id,
            sequence=envelope.sequence,
            envelope=envelope.to_json(),
            reason=reason,
            error=error,
            attempts=attempts,
        )
    ConsumeAttempt.objects.filter(consumer=consumer_name(), event_id=envelope.id).delete()


def backoff_seconds(attempt: int) -> float:
    base = min(settings.CARVE_EVENTS_RETRY_BASE_SECONDS * 2 ** (attempt - 1), 30.0)
    return base * random.uniform(0.5, 1.0)


def retry_on_own_queue(app: Celery, envelope: Envelope, attempt: int) -> None:
    app.send_task(
        CONSUME_TASK,
        args=[[envelope.to_dict()]],
        exchange="",
        routing_key=queue_name(),
        countdown=backoff_seconds(attempt),
    )


def settle_failure(app: Celery, envelope: Envelope, result: Result, attempts: int) -> None:
    if result.outcome == "parked":
        log.warning(
            "parked %s v%s event %s of %s %s: %s; once upgraded, replay it with "
            "`carve events dlq replay --all`",
            envelope.type,
            envelope.version,
            envelope.id,
            envelope.aggregate,
            envelope.aggregate_id,
            result.error,
        )
        with transaction.atomic():
            dead_letter(
                envelope,
                reason=DeadLetter.Reason.UNKNOWN_SCHEMA_VERSION,
                error=result.error,
                attempts=attempts,
            )
        return
    if result.outcome == "retry":
        cap, reason = settings.CARVE_EVENTS_GAP_ATTEMPTS, DeadLetter.Reason.OUT_OF_ORDER
    else:
        cap, reason = settings.CARVE_EVENTS_MAX_ATTEMPTS, DeadLetter.Reason.FAILED
    if attempts >= cap:
        log.error(
            "dead-lettered %s event %s after %d attempts: %s",
            envelope.type,
            envelope.id,
            attempts,
            result.error.strip().splitlines()[-1:],
        )
        with transaction.atomic():
            dead_letter(envelope, reason=reason, error=result.error, attempts=attempts)
        return
    ConsumeAttempt.objects.filter(consumer=consumer_name(), event_id=envelope.id).update(
        last_error=result.error
    )
    log.info(
        "retrying %s event %s (attempt %d of %d): %s",
        envelope.type,
        envelope.id,
        attempts,
        cap,
        result.error.strip().splitlines()[-1:],
    )
    retry_on_own_queue(app, envelope, attempts)
