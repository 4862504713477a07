"""When an event cannot be applied: attempts counted, retries on this service's own queue
with jittered exponential backoff, dead letters, and newer schema versions parked with a
log line that says what to do. Which of these befalls an event is messaging.fate's call;
this module carries it out. A delivery the infrastructure failed under goes back to the
queue uncounted (retry_delivery_uncounted).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.exceptions import Reject
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from contracts.envelope import Envelope
from messaging import waiting
from messaging.celeryapp import CONSUME_TASK, queue_name
from messaging.errors import InfrastructureFailure
from messaging.fate import Fate, Outcome, Try, try_of
from messaging.inbox import Result, consumer_name
from messaging.models import ConsumeAttempt, DeadLetter

log = logging.getLogger("carve.events")


# ------------------------------------------------------------------ attempts and dead letters
@dataclass(frozen=True)
class Attempts:
    attempts: int
    last_error: str
    last_try: Try


def _attempts(attempts: int, last_error: str, last_try: str) -> Attempts:
    return Attempts(attempts, last_error, Try(last_try) if last_try else Try.UNRECORDED)


def count_attempts(envelopes: list[Envelope]) -> dict[uuid.UUID, Attempts]:
    """One more attempt for each event, committed before any of them is applied."""
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        with transaction.atomic():
            for envelope in envelopes:
                row, _ = ConsumeAttempt.objects.get_or_create(
                    consumer=consumer_name(), event_id=envelope.id
                )
                ConsumeAttempt.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
        return read_attempts(envelopes)
    meta = ConsumeAttempt._meta
    quote = connection.ops.quote_name
    id_field = meta.get_field("event_id")
    now = meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    params: list[Any] = []
    for envelope in envelopes:
        params += [consumer_name(), id_field.get_db_prep_value(envelope.id, connection), now]
    table = quote(meta.db_table)
    values = ", ".join(["(%s, %s, 1, '', '', %s)"] * len(envelopes))
    sql = (
        f"INSERT INTO {table} (consumer, event_id, attempts, last_error, last_try, updated_at) "
        f"VALUES {values} "
        f"ON CONFLICT (consumer, event_id) DO UPDATE SET attempts = {table}.attempts + 1, "
        "updated_at = excluded.updated_at RETURNING event_id, attempts, last_error, last_try"
    )
    with connection.cursor() as cursor:  # one statement: its own transaction in autocommit
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {uuid.UUID(str(event_id)): _attempts(*rest) for event_id, *rest in rows}


def read_attempts(envelopes: list[Envelope]) -> dict[uuid.UUID, Attempts]:
    """The attempts counted so far for each event, without counting one more."""
    rows = ConsumeAttempt.objects.filter(
        consumer=consumer_name(), event_id__in=[e.id for e in envelopes]
    ).values_list("event_id", "attempts", "last_error", "last_try")
    found = {row[0]: _attempts(row[1], row[2], row[3]) for row in rows}
    return {e.id: found.get(e.id, Attempts(0, "", Try.UNRECORDED)) for e in envelopes}


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
    waiting.forget([envelope.id])


def backoff_seconds(attempt: int) -> float:
    cap = settings.CARVE_EVENTS_RETRY_MAX_SECONDS
    base = min(settings.CARVE_EVENTS_RETRY_BASE_SECONDS * 2 ** (attempt - 1), cap)
    return base * random.uniform(0.5, 1.0)


def retry_on_own_queue(
    app: Celery,
    raw: list[dict[str, Any]],
    *,
    countdown: float,
    kwargs: dict[str, Any] | None = None,
) -> None:
    app.send_task(
        CONSUME_TASK,
        args=[raw],
        kwargs=kwargs or {},
        exchange="",
        routing_key=queue_name(),
        countdown=countdown,
    )


def settle(app: Celery, envelope: Envelope, fate: Fate, result: Result, attempts: int) -> None:
    """Carry out the fate (messaging.fate.decide) of an event that did not finish."""
    if fate.outcome is Outcome.DEAD:
        if fate.reason == DeadLetter.Reason.UNKNOWN_SCHEMA_VERSION:
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
        else:
            log.error(
                "dead-lettered %s event %s (%s) after %d attempts: %s",
                envelope.type,
                envelope.id,
                fate.reason,
                attempts,
                result.error.strip().splitlines()[-1:],
            )
        with transaction.atomic():
            dead_letter(envelope, reason=fate.reason, error=result.error, attempts=attempts)
        return
    ConsumeAttempt.objects.filter(consumer=consumer_name(), event_id=envelope.id).update(
        last_error=result.error, last_try=try_of(result)
    )
    log.info(
        "retrying %s event %s (%s, attempt %d): %s",
        envelope.type,
        envelope.id,
        fate.outcome,
        attempts,
        result.error.strip().splitlines()[-1:],
    )
    retry_on_own_queue(app, [envelope.to_dict()], countdown=backoff_seconds(attempts))


def infrastructure_backoff(retries: int) -> float:
    """Seconds before the next try of a delivery the infrastructure failed under: jittered,
    doubling, at most CARVE_EVENTS_INFRA_RETRY_MAX_SECONDS (how soon a consumer resumes
    once its database is back)."""
    cap = settings.CARVE_EVENTS_INFRA_RETRY_MAX_SECONDS
    base = min(settings.CARVE_EVENTS_RETRY_BASE_SECONDS * 2**retries, cap)
    return base * random.uniform(0.5, 1.0)


def send_back_uncounted(
    app: Celery, raw: list[dict[str, Any]], failure: InfrastructureFailure, *, retries: int
) -> None:
    """Send a delivery the infrastructure failed under back to this service's queue after a
    backoff, carrying the ids whose attempt it counted already."""
    log.warning("the infrastructure failed under a delivery; it goes back: %s", failure)
    try:
        retry_on_own_queue(
            app,
            raw,
            countdown=infrastructure_backoff(retries),
            kwargs={"counted": sorted(failure.counted), "infrastructure_retries": retries},
        )
    except Exception as exc:
        # The broker is away too: put the message back as it is (it comes again marked
        # redelivered, and counts one attempt, as after a worker's death).
        raise Reject(f"could not send the delivery back: {exc}", requeue=True) from exc
