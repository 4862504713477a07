"""The one place that decides what becomes of an event of a delivery.

Every event of a delivery ends in exactly one outcome: applied (or duplicate, stale,
ignored: finished either way), waiting for its predecessor, retried because the
infrastructure failed, retried because its handler failed, or dead-lettered with a
reason. `decide` chooses it from the facts alone (inbox row, attempts counted, what the
aggregate cursor and the handler made of this try, what the last try left), so the whole
policy reads as one table (messaging/tests/test_fate.py).

Attempts: a try is counted when the event did not finish (and, on a redelivery, before
the try: a worker that dies mid-event leaves its count behind). An infrastructure
failure (database or broker unreachable, connection lost, serialization failure) is not a
failure of the handler: it never counts and never dead-letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from messaging.inbox import Result
from messaging.models import DeadLetter


class Try(StrEnum):
    """What one try of an event came to."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # its inbox row was there (a concurrent delivery won)
    STALE = "stale"  # the aggregate cursor is past it already
    IGNORED = "ignored"  # no handler here: recorded, nothing to do
    EARLY = "early"  # the aggregate cursor is behind: a predecessor is missing
    HANDLER_ERROR = "handler_error"
    NEWER_VERSION = "newer_version"  # a schema version this consumer does not know
    INFRASTRUCTURE = "infrastructure"
    UNRECORDED = "unrecorded"  # counted, then nothing recorded: the worker died on it


FINISHED_TRIES = {Try.APPLIED, Try.DUPLICATE, Try.STALE, Try.IGNORED}
_TRY_OF_RESULT = {
    "applied": Try.APPLIED,
    "duplicate": Try.DUPLICATE,
    "stale": Try.STALE,
    "ignored": Try.IGNORED,
    "retry": Try.EARLY,
    "failed": Try.HANDLER_ERROR,
    "parked": Try.NEWER_VERSION,
}


def try_of(result: Result) -> Try:
    """What a messaging.inbox.Result says of the try."""
    return _TRY_OF_RESULT[result.outcome]


class Outcome(StrEnum):
    TRY = "try"  # (before a try) go ahead
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"
    # Parked under its aggregate until its predecessor is applied (messaging.waiting), and
    # retried later meanwhile, counted against CARVE_EVENTS_GAP_ATTEMPTS.
    WAITING = "waiting"
    INFRASTRUCTURE_RETRY = "infrastructure_retry"  # the delivery goes back, uncounted
    HANDLER_RETRY = "handler_retry"  # retried later, counted against MAX_ATTEMPTS
    DEAD = "dead"


@dataclass(frozen=True)
class Facts:
    """What is known of one event at a decision.

    in_inbox: its inbox row exists. attempts: tries counted so far, this one included.
    tried: what this try came to; None before the try. last: what the last counted try
    recorded (UNRECORDED when it recorded nothing).
    """

    in_inbox: bool = False
    attempts: int = 0
    tried: Try | None = None
    last: Try = Try.UNRECORDED


@dataclass(frozen=True)
class Fate:
    outcome: Outcome
    reason: str = ""  # a DeadLetter.Reason when outcome is DEAD


_DEAD_REASON = {
    Try.EARLY: DeadLetter.Reason.OUT_OF_ORDER,
    Try.HANDLER_ERROR: DeadLetter.Reason.FAILED,
    Try.NEWER_VERSION: DeadLetter.Reason.UNKNOWN_SCHEMA_VERSION,
    Try.UNRECORDED: DeadLetter.Reason.WORKER_LOST,
}


def decide(facts: Facts, *, max_attempts: int, gap_attempts: int) -> Fate:
    """The fate of one event (see the module docstring)."""
    if facts.in_inbox:
        return Fate(Outcome.DUPLICATE)
    if facts.tried is None:
        # Before a counted try: only an event whose tries died with their worker (or
        # whose worker died after recording a failure) can be past its cap here.
        cap = gap_attempts if facts.last is Try.EARLY else max_attempts
        if facts.attempts > cap:
            return Fate(Outcome.DEAD, _DEAD_REASON.get(facts.last, DeadLetter.Reason.FAILED))
        return Fate(Outcome.TRY)
    tried = facts.tried
    if tried in FINISHED_TRIES:
        return Fate(Outcome(tried.value))
    if tried is Try.INFRASTRUCTURE:
        return Fate(Outcome.INFRASTRUCTURE_RETRY)
    if tried is Try.NEWER_VERSION:
        return Fate(Outcome.DEAD, DeadLetter.Reason.UNKNOWN_SCHEMA_VERSION)
    if tried is Try.EARLY:
        if facts.attempts < gap_attempts:
            return Fate(Outcome.WAITING)
        return Fate(Outcome.DEAD, DeadLetter.Reason.OUT_OF_ORDER)
    if facts.attempts < max_attempts:
        return Fate(Outcome.HANDLER_RETRY)
    return Fate(Outcome.DEAD, _DEAD_REASON.get(tried, DeadLetter.Reason.FAILED))
