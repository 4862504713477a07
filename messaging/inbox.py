"""Applying events in the handler's transaction, with the inbox row that makes a
redelivered or duplicated event a no-op: one event (with a savepoint), or a whole fresh
delivery in one transaction and a few statements (the hot path, in plain SQL).
"""

from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from contracts.envelope import Envelope
from contracts.registry import UnknownEventType, UnknownSchemaVersion, event_class
from messaging.errors import INFRASTRUCTURE_ERRORS
from messaging.handlers import RetryLater, handler_for
from messaging.models import AggregateCursor, ConsumeAttempt, InboxMessage
from messaging.sql import any_of, insert_statement, row_values, table
from servicekit import context

log = logging.getLogger("carve.events")
FINISHED = {"applied", "duplicate", "stale", "ignored"}


@dataclass(frozen=True)
class Result:
    """What happened to one event: applied, duplicate, stale, ignored, parked, retry, failed."""

    outcome: str
    error: str = ""


def consumer_name() -> str:
    return str(settings.CARVE_SERVICE_NAME)


# ------------------------------------------------------------------ applying one event
def _inbox_row(envelope: Envelope) -> list[Any]:
    """The inbox row of `envelope`, as parameters of insert_statement(InboxMessage)."""
    return row_values(
        InboxMessage,
        {
            "consumer": consumer_name(),
            "event_id": envelope.id,
            "event_type": envelope.type,
            "aggregate": envelope.aggregate,
            "aggregate_id": envelope.aggregate_id,
            "sequence": envelope.sequence,
            "origin": envelope.origin,
            "envelope": envelope.to_json(),
            "occurred_at": envelope.occurred_at,
        },
    )


def _early(envelope: Envelope, last: int) -> str:
    return (
        f"{envelope.aggregate} {envelope.aggregate_id}: "
        f"#{envelope.sequence} arrived before #{last + 1}"
    )


def _advance_cursor(envelope: Envelope) -> str | None:
    """For ordered handlers: None when this event is next (the cursor now points at it),
    "stale" when it was applied already; raises RetryLater when an earlier one is missing.

    The cursor moves by a conditional UPDATE from the previous sequence, so a worker never
    waits on (or keeps a lock on) a cursor that a sibling worker is still moving.
    """
    sequence = envelope.sequence
    cursor = AggregateCursor.objects.filter(
        consumer=consumer_name(), aggregate=envelope.aggregate, aggregate_id=envelope.aggregate_id
    )
    while True:
        if sequence > 1 and cursor.filter(sequence=sequence - 1).update(sequence=sequence):
            return None
        last = cursor.values_list("sequence", flat=True).first()
        if last is None and sequence == 1:
            AggregateCursor.objects.create(
                consumer=consumer_name(),
                aggregate=envelope.aggregate,
                aggregate_id=envelope.aggregate_id,
                sequence=1,
            )
            return None
        last = last or 0
        if sequence <= last:
            return "stale"
        if sequence > last + 1:
            raise RetryLater(_early(envelope, last))
        # The previous event committed between the two statements: move on from it.


def apply_event(
    envelope: Envelope,
    *,
    position: str | None = None,
    inbox: list[list[Any]] | None = None,
) -> Result:
    """Apply one event inside the caller's transaction (or savepoint).

    `position` ("next" or "stale"): the caller has checked the inbox and moved the cursor
    for this event already (_claim_positions). `inbox`: collect the inbox row there for the
    caller to insert, instead of inserting it now.
    """
    if (
        position is None
        and InboxMessage.objects.filter(consumer=consumer_name(), event_id=envelope.id).exists()
    ):
        return Result("duplicate")
    row = _inbox_row(envelope)
    handler = handler_for(envelope.type)
    if handler is None:
        outcome = "ignored"
    else:
        event = event_class(envelope.type, envelope.version).model_validate(envelope.data)
        if handler.ordered and position is None:
            position = _advance_cursor(envelope) or "next"
        if handler.ordered and position == "stale":
            outcome = "stale"
        else:
            correlation = envelope.correlation_id or str(envelope.id)
            with context.caused_by(correlation=correlation, causation=str(envelope.id)):
                handler.func(event, envelope)
            outcome = "applied"
    if inbox is None:
        _insert_inbox([row])
    else:
        inbox.append(row)
    return Result(outcome)


def apply_guarded(envelope: Envelope) -> Result:
    """_apply in a savepoint: a failure undoes this event's effects and nothing else."""
    try:
        with transaction.atomic():
            return apply_event(envelope)
    except INFRASTRUCTURE_ERRORS:
        raise  # not the handler's failure: the delivery goes back whole (messaging.fate)
    except IntegrityError:
        # Almost always a concurrent delivery of the same event winning the inbox row.
        if InboxMessage.objects.filter(consumer=consumer_name(), event_id=envelope.id).exists():
            return Result("duplicate")
        return Result("failed", traceback.format_exc())
    except RetryLater as exc:
        return Result("retry", str(exc))
    except (UnknownSchemaVersion, UnknownEventType) as exc:
        return Result("parked", str(exc))
    except Exception:
        return Result("failed", traceback.format_exc())


# ------------------------------------------------------------------ plain SQL for the hot path
# (messaging/sql.py says why)
def event_ids(ids: list[uuid.UUID]) -> list[Any]:
    field = InboxMessage._meta.get_field("event_id")
    return [field.get_db_prep_value(id_, connection) for id_ in ids]


def as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _insert_inbox(rows: list[list[Any]]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 100):
            chunk = rows[start : start + 100]
            cursor.execute(
                insert_statement(InboxMessage, len(chunk)), [v for row in chunk for v in row]
            )


def _forget_attempts(finished: list[uuid.UUID]) -> None:
    if finished:
        condition, ids = any_of("event_id", event_ids(finished))
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table(ConsumeAttempt)} WHERE consumer = %s AND {condition}",
                [consumer_name(), *ids],
            )


# ------------------------------------------------------------------ applying a batch
class _CursorMoved(Exception):
    """A sibling worker moved a cursor between reading and moving it: go event by event."""


def _claim_positions(
    envelopes: list[Envelope],
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, Result]]:
    """For the ordered events of a batch: read their aggregates' cursors (one query), tell
    next from stale from early events, and move each cursor past its run of next events
    (one conditional UPDATE, one INSERT). Returns (next/stale by id, early ones as "retry").
    """
    ordered = []
    for envelope in envelopes:
        handler = handler_for(envelope.type)
        if handler is not None and handler.ordered:
            ordered.append(envelope)
    if not ordered:
        return {}, {}
    keys = {(e.aggregate, e.aggregate_id) for e in ordered}
    cursors = table(AggregateCursor)
    aggregates = sorted({aggregate for aggregate, _ in keys})
    ids = sorted({aggregate_id for _, aggregate_id in keys})
    of_aggregates, aggregate_params = any_of("aggregate", aggregates)
    of_ids, id_params = any_of("aggregate_id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT aggregate, aggregate_id, sequence FROM {cursors} WHERE consumer = %s "
            f"AND {of_aggregates} AND {of_ids}",
            [consumer_name(), *aggregate_params, *id_params],
        )
        rows = cursor.fetchall()
    start = {(a, i): sequence for a, i, sequence in rows if (a, i) in keys}
    last = dict(start)
    positions: dict[uuid.UUID, str] = {}
    early: dict[uuid.UUID, Result] = {}
    for envelope in ordered:
        key = (envelope.aggregate, envelope.aggregate_id)
        current = last.get(key, 0)
        if envelope.sequence <= current:
            positions[envelope.id] = "stale"
        elif envelope.sequence == current + 1:
            positions[envelope.id] = "next"
            last[key] = envelope.sequence
        else:
            early[envelope.id] = Result("retry", _early(envelope, current))
    moves = [(key, start[key], last[key]) for key in start if last[key] != start[key]]
    new = [(key, last[key]) for key in last if key not in start]
    with connection.cursor() as cursor:
        if moves and connection.vendor != "postgresql":
            for (aggregate, aggregate_id), old, to in moves:  # SQLite: one UPDATE each
                moved = AggregateCursor.objects.filter(
                    consumer=consumer_name(),
                    aggregate=aggregate,
                    aggregate_id=aggregate_id,
                    sequence=old,
                ).update(sequence=to)
                if not moved:
                    raise _CursorMoved()
        elif moves:
            cursor.execute(
                f"UPDATE {cursors} SET sequence = v.column4 FROM (VALUES "
                + ", ".join(["(%s, %s, %s, %s)"] * len(moves))
                + f") AS v WHERE {cursors}.consumer = %s AND {cursors}.aggregate = v.column1 "
                f"AND {cursors}.aggregate_id = v.column2 AND {cursors}.sequence = v.column3",
                [value for (a, i), old, to in moves for value in (a, i, old, to)]
                + [consumer_name()],
            )
            if cursor.rowcount != len(moves):
                raise _CursorMoved()
        if new:
            cursor.execute(
                f"INSERT INTO {cursors} (consumer, aggregate, aggregate_id, sequence) VALUES "
                + ", ".join(["(%s, %s, %s, %s)"] * len(new))
                + " ON CONFLICT (consumer, aggregate, aggregate_id) DO NOTHING",
                [value for (a, i), to in new for value in (consumer_name(), a, i, to)],
            )
            if cursor.rowcount != len(new):
                raise _CursorMoved()
    return positions, early


def apply_batch(envelopes: list[Envelope]) -> dict[uuid.UUID, Result] | None:
    """Apply fresh events in one transaction without a savepoint each: cursors moved for
    the lot up front, inbox rows written in one statement, the attempts of the finished
    events forgotten in the same transaction.

    Events found early (out of order) are left for the caller. Should anything raise,
    everything rolls back and this returns None: the caller then goes event by event.
    """
    inbox: list[list[Any]] = []
    try:
        with transaction.atomic():
            positions, results = _claim_positions(envelopes)
            for envelope in envelopes:
                if envelope.id not in results:
                    results[envelope.id] = apply_event(
                        envelope, position=positions.get(envelope.id, "next"), inbox=inbox
                    )
            _insert_inbox(inbox)
            _forget_attempts([id_ for id_, r in results.items() if r.outcome in FINISHED])
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception:
        log.debug("a delivery failed as a whole; applying its events one by one", exc_info=True)
        return None
    return results
