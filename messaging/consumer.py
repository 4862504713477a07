"""Applying delivered events exactly once.

At-least-once delivery in, exactly-once effect out: every event is applied in a
transaction that also stores its id in the inbox (unique per consumer), so a redelivered
or duplicated event is a no-op, and a worker killed mid-handler commits nothing.

A fresh delivery is applied in one transaction: every event is applied and the inbox rows
are written together, one commit for the lot. Should any event raise, that transaction
rolls back and the delivery is applied again with a savepoint per event, so only the
failing event is held back. A fresh delivery counts no attempts: should it kill the
worker, the broker hands the message out again marked redelivered (RabbitMQ does; so does
the embedded transport, messaging.fstransport). A redelivery or a retry goes one event per
transaction, counting an attempt (committed) before each, so an event that kills the
worker every time is dead-lettered after CARVE_EVENTS_MAX_ATTEMPTS deliveries or one more,
without dragging its neighbours. Failed events are counted then, and retried on this
service's own queue with jittered exponential backoff.

What becomes of each event (applied, waiting, retried, dead-lettered) is decided by
messaging.fate.decide from the facts gathered here. An early event waits under its
aggregate (messaging.waiting): whichever delivery applies its predecessor applies it too.
A failure of the database or broker is no failure of a handler: consume_delivery raises
InfrastructureFailure, and the worker's consume_message tries the delivery again,
uncounted, until it goes through.

Not counting up front saves each delivery a commit: on PostgreSQL a round trip, on SQLite
a turn at the single write lock, which the consumer of a busy service otherwise waited for
most of its time (benchmarks/README.md, events).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection
from typing import Any

from celery import Celery
from django.conf import settings
from django.db import connection, transaction
from pydantic import ValidationError

from contracts.envelope import Envelope
from messaging import waiting
from messaging.errors import INFRASTRUCTURE_ERRORS, InfrastructureFailure
from messaging.failures import (
    count_attempts,
    dead_letter,
    infrastructure_backoff,
    read_attempts,
    send_back_uncounted,
    settle,
)
from messaging.fate import Facts, Fate, Outcome, decide, try_of
from messaging.inbox import (
    FINISHED,
    Result,
    apply_batch,
    apply_guarded,
    as_uuid,
    consumer_name,
    event_ids,
)
from messaging.models import ConsumeAttempt, DeadLetter, InboxMessage
from messaging.sql import any_of, table

__all__ = ["Result", "consume_delivery", "consumer_name"]
log = logging.getLogger("carve.events")


# ------------------------------------------------------------------ a delivery
def _parse(raw: list[dict[str, Any]]) -> list[Envelope]:
    envelopes = []
    for item in raw:
        try:
            envelopes.append(Envelope.from_dict(item))
        except ValidationError as exc:
            log.error("dropped a message that is not an event envelope: %s", exc)
            bad = Envelope(
                type="unknown.Unparseable",
                version=1,
                aggregate="unknown",
                aggregate_id="unknown",
                sequence=1,
                origin="unknown",
                data={"raw": item if isinstance(item, dict) else repr(item)},
            )
            with transaction.atomic():
                dead_letter(bad, reason=DeadLetter.Reason.FAILED, error=str(exc), attempts=1)
    return envelopes


def _known(envelopes: list[Envelope]) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Which events are in the inbox already, and which have counted attempts (one query)."""
    done: set[uuid.UUID] = set()
    attempted: set[uuid.UUID] = set()
    if not envelopes:
        return done, attempted
    condition, ids = any_of("event_id", event_ids([e.id for e in envelopes]))
    where = f"WHERE consumer = %s AND {condition}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT event_id, 1 FROM {table(InboxMessage)} {where} "
            f"UNION ALL SELECT event_id, 0 FROM {table(ConsumeAttempt)} {where}",
            [consumer_name(), *ids, consumer_name(), *ids],
        )
        for event_id, in_inbox in cursor.fetchall():
            (done if in_inbox else attempted).add(as_uuid(event_id))
    return done, attempted


def consume_delivery(
    raw: list[dict[str, Any]],
    *,
    app: Celery,
    redelivered: bool = False,
    counted: Collection[str] = (),
) -> list[Result]:
    """Apply the events of one broker message; returns what happened to each.

    Raises InfrastructureFailure when the database or broker failed under it: nothing of
    it may be acknowledged then (see messaging.errors). `counted`: ids whose attempt an
    earlier try of this same delivery counted before the infrastructure failed.
    """
    tally = set(counted)
    try:
        return _consume(raw, app=app, redelivered=redelivered, tally=tally)
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureFailure(exc, tally) from exc


def _decide(facts: Facts) -> Fate:
    return decide(
        facts,
        max_attempts=settings.CARVE_EVENTS_MAX_ATTEMPTS,
        gap_attempts=settings.CARVE_EVENTS_GAP_ATTEMPTS,
    )


def _consume(
    raw: list[dict[str, Any]], *, app: Celery, redelivered: bool, tally: set[str]
) -> list[Result]:
    envelopes = _parse(raw)
    done, attempted = _known(envelopes)
    if done & attempted:  # applied by a try that the infrastructure failed after
        ConsumeAttempt.objects.filter(consumer=consumer_name(), event_id__in=done).delete()
    pending = [e for e in envelopes if e.id not in done]
    results = [Result("duplicate") for _ in envelopes]
    if not pending:
        # Applied by an earlier try that died (or lost its database) before it could
        # wake what waits for these events: wake it now.
        waiting.wake(envelopes)
        return results
    seen_before = any(e.id in attempted for e in pending)
    outcomes: dict[uuid.UUID, tuple[Result, int]] = {}
    with_attempts: set[uuid.UUID] = set()  # attempt rows exist: deleted once finished
    if redelivered or seen_before:
        with_attempts = {e.id for e in pending}
        for envelope in pending:
            # A redelivery by the broker always counts (its worker may have died on it); a
            # delivery sent back after an infrastructure failure counted its events once.
            if redelivered or str(envelope.id) not in tally:
                counted = count_attempts([envelope])[envelope.id]
                tally.add(str(envelope.id))
            else:
                counted = read_attempts([envelope])[envelope.id]
            fate = _decide(Facts(attempts=counted.attempts, last=counted.last_try))
            if fate.outcome is Outcome.DEAD:
                error = counted.last_error or "the worker died while handling this event"
                with transaction.atomic():
                    dead_letter(
                        envelope, reason=fate.reason, error=error, attempts=counted.attempts
                    )
                outcomes[envelope.id] = (Result("dead"), counted.attempts)
                continue
            with transaction.atomic():
                result = apply_guarded(envelope)
            outcomes[envelope.id] = (result, counted.attempts)
    else:
        applied = apply_batch(pending)
        if applied is None:
            with transaction.atomic():
                applied = {envelope.id: apply_guarded(envelope) for envelope in pending}
        for envelope in pending:
            outcomes[envelope.id] = (applied[envelope.id], 1)
        # Only now, and only for what is to be retried or parked, is the attempt counted.
        unfinished = [e for e in pending if outcomes[e.id][0].outcome not in FINISHED]
        for event_id, counted in (count_attempts(unfinished) if unfinished else {}).items():
            outcomes[event_id] = (outcomes[event_id][0], counted.attempts)
            tally.add(str(event_id))
    finished = [
        e.id for e in pending if outcomes[e.id][0].outcome in FINISHED and e.id in with_attempts
    ]
    if finished:
        ConsumeAttempt.objects.filter(consumer=consumer_name(), event_id__in=finished).delete()
        waiting.forget(finished)
    # Whatever waited for an event applied here goes now, in order (messaging.waiting).
    woken = waiting.wake(
        e for e in envelopes if e.id in done or outcomes[e.id][0].outcome in FINISHED
    )
    fates = {}
    for envelope in pending:
        result, attempts = outcomes[envelope.id]
        if envelope.id in woken:  # a copy of it waited already, and went just now
            outcomes[envelope.id] = (woken[envelope.id], attempts)
        elif result.outcome not in FINISHED and result.outcome != "dead":
            fates[envelope.id] = _decide(Facts(attempts=attempts, tried=try_of(result)))
    early = [e for e in pending if e.id in fates and fates[e.id].outcome is Outcome.WAITING]
    for event_id, result in waiting.park(early).items():
        if event_id in fates:  # its predecessor was applied meanwhile
            outcomes[event_id] = (result, outcomes[event_id][1])
            del fates[event_id]
    for envelope in pending:
        if envelope.id in fates:
            result, attempts = outcomes[envelope.id]
            settle(app, envelope, fates[envelope.id], result, attempts)
    by_id = {e.id: outcomes[e.id][0] for e in pending}
    return [by_id.get(e.id, Result("duplicate")) for e in envelopes]


def consume_message(
    raw: list[dict[str, Any]],
    *,
    app: Celery,
    redelivered: bool,
    counted: Collection[str] = (),
    infrastructure_retries: int = 0,
) -> None:
    """consume_delivery for a worker's task: should the database or broker fail under the
    delivery, it is tried again here, uncounted, after a backoff, until it succeeds (so
    the queue's order holds across an outage) or CARVE_EVENTS_INFRA_WAIT_SECONDS have
    passed; then it is sent back to the queue, still uncounted. Never does the task fail:
    Celery would acknowledge it (task_acks_on_failure_or_timeout)."""
    deadline = time.monotonic() + settings.CARVE_EVENTS_INFRA_WAIT_SECONDS
    tally = set(counted)
    while True:
        try:
            consume_delivery(raw, app=app, redelivered=redelivered, counted=tally)
            return
        except InfrastructureFailure as failure:
            tally, redelivered = failure.counted, False  # later tries are this worker's own
            pause = infrastructure_backoff(infrastructure_retries)
            infrastructure_retries += 1
            if time.monotonic() + pause > deadline:
                send_back_uncounted(app, raw, failure, retries=infrastructure_retries)
                return
            log.warning(
                "the infrastructure failed under a delivery; trying it again in %.1f s: %s",
                pause,
                failure,
            )
            connection.close()  # a broken connection is opened afresh on the next try
            time.sleep(pause)
