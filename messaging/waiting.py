"""Early events wait per aggregate, and go as soon as their predecessor is applied.

An event of an ordered handler that arrives before its predecessor (a sibling worker has
the predecessor in hand, a delivery the database failed under brings it later, the relay
published it late) is parked here, under its aggregate and sequence. Whoever applies an
aggregate's event applies that aggregate's parked successors right after it, in order:
one aggregate's gap never holds back another, and a successor never sits out a backoff
once its predecessor is there.

Parking and waking cannot miss each other: a worker parks an event (committed), then
looks at the aggregate's cursor; a worker applying the predecessor commits it, then looks
for parked successors. Whichever looks last sees the other's commit.

The event's own retry with backoff (messaging.fate's WAITING) still runs beside the wait:
it is the clock of the gap limit (CARVE_EVENTS_GAP_ATTEMPTS: an event whose predecessor
never comes is dead-lettered out_of_order), and the safety net should a worker die between
applying a predecessor and waking its successor. Once the event is applied, that retry
finds it in the inbox and is a duplicate.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from contracts.envelope import Envelope
from messaging.handlers import handler_for
from messaging.inbox import FINISHED, Result, apply_guarded, consumer_name
from messaging.models import AggregateCursor, ConsumeAttempt, WaitingEvent

log = logging.getLogger("carve.events")
Key = tuple[str, str]


def is_ordered(envelope: Envelope) -> bool:
    handler = handler_for(envelope.type)
    return handler is not None and handler.ordered


def park(envelopes: list[Envelope]) -> dict[uuid.UUID, Result]:
    """Park early events (committed at once), then apply those whose predecessor was
    applied meanwhile. Returns what became of the events finished here (see wake)."""
    if not envelopes:
        return {}
    WaitingEvent.objects.bulk_create(
        [
            WaitingEvent(
                consumer=consumer_name(),
                event_id=envelope.id,
                aggregate=envelope.aggregate,
                aggregate_id=envelope.aggregate_id,
                sequence=envelope.sequence,
                envelope=envelope.to_json(),
            )
            for envelope in envelopes
        ],
        ignore_conflicts=True,
    )
    return wake(envelopes)


def forget(event_ids: Iterable[uuid.UUID]) -> None:
    """These events are finished or dead-lettered: they wait no longer."""
    WaitingEvent.objects.filter(consumer=consumer_name(), event_id__in=list(event_ids)).delete()


def wake(envelopes: Iterable[Envelope]) -> dict[uuid.UUID, Result]:
    """Apply, in order, the parked events of these events' aggregates that are next now
    (and those next after them). Returns what became of the events finished here."""
    keys = {(e.aggregate, e.aggregate_id) for e in envelopes if is_ordered(e)}
    if not keys:
        return {}
    parked: dict[Key, list[WaitingEvent]] = defaultdict(list)
    for row in WaitingEvent.objects.filter(
        consumer=consumer_name(),
        aggregate__in={aggregate for aggregate, _ in keys},
        aggregate_id__in={aggregate_id for _, aggregate_id in keys},
    ).order_by("sequence"):
        if (row.aggregate, row.aggregate_id) in keys:
            parked[(row.aggregate, row.aggregate_id)].append(row)
    if not parked:
        return {}
    cursors = {
        (aggregate, aggregate_id): sequence
        for aggregate, aggregate_id, sequence in AggregateCursor.objects.filter(
            consumer=consumer_name(),
            aggregate__in={aggregate for aggregate, _ in parked},
            aggregate_id__in={aggregate_id for _, aggregate_id in parked},
        ).values_list("aggregate", "aggregate_id", "sequence")
    }
    finished: dict[uuid.UUID, Result] = {}
    for key, rows in parked.items():
        last = cursors.get(key, 0)
        for row in rows:
            if row.sequence > last + 1:
                break  # its predecessor is still missing
            envelope = Envelope.from_json(row.envelope)
            with transaction.atomic():
                result = apply_guarded(envelope)
                if result.outcome in FINISHED:
                    WaitingEvent.objects.filter(pk=row.pk).delete()
                    ConsumeAttempt.objects.filter(
                        consumer=consumer_name(), event_id=envelope.id
                    ).delete()
            if result.outcome not in FINISHED:
                # Still early (a cursor read before a sibling's commit) or failing: its own
                # retry takes it from here, counted.
                break
            finished[envelope.id] = result
            log.debug("%s %s once its predecessor was applied", result.outcome, row)
            last = max(last, row.sequence)
    return finished
