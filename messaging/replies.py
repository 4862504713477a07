"""Commands and their replies: a process (a saga) trusts only the answers to what it asked.

The consumer runs every handler with the handled envelope's id as the causation id of what
it publishes, so each event a command's handler publishes names that command. A saga keeps
the id of each command it sends (`send` returns the envelope) and lets a reply move it only
if `accept` says so: the reply was caused by that command and agrees with what the command
asked (amount, currency, user, ...). Anything else, e.g. an event that merely carries the
same order id because someone else made it, is ignored and logged.

    envelope = replies.send(ChargeOrderV1(...), sequence=n, expires_at=deadline)
    saga.sent[ChargeOrderV1.TYPE] = str(envelope.id)
    ...
    if replies.accept(reply, command_id=saga.sent.get(ChargeOrderV1.TYPE),
                      asked={"amount": order.total}, answered={"amount": event.amount}):
        ...

A command sent with `expires_at` is discarded, never executed, by a handler wrapped in
`messaging.commands.handles_command` once that moment has passed (the sender has given up
on it, e.g. its saga timed out): a late or parked copy cannot act for a process that ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import Command
from messaging.outbox import publish
from servicekit import context

log = logging.getLogger("carve.replies")


def send(command: Command, *, sequence: int, expires_at: datetime | None = None) -> Envelope:
    """Publish `command` (in the current transaction); keep the envelope's id to match
    its replies."""
    return publish(command, sequence=sequence, expires_at=expires_at)


def accept(
    reply: Envelope,
    *,
    command_id: str | UUID | None,
    asked: Mapping[str, object] | None = None,
    answered: Mapping[str, object] | None = None,
) -> bool:
    """Whether `reply` answers the command `command_id` and agrees with what it asked.

    `asked` and `answered` map the same names to the command's and the reply's values.
    A refusal is logged (with what differed) and the reply should be ignored."""
    if command_id is None or reply.causation_id != str(command_id):
        log.warning(
            "ignored %s %s: not a reply to command %s (caused by %r)",
            reply.type,
            reply.id,
            command_id,
            reply.causation_id,
        )
        return False
    asked, answered = asked or {}, answered or {}
    differing = sorted(name for name in asked if answered.get(name) != asked[name])
    if differing:
        log.warning(
            "ignored %s %s: it answers command %s but differs in %s (asked %s, answered %s)",
            reply.type,
            reply.id,
            command_id,
            ", ".join(differing),
            {name: str(asked[name]) for name in differing},
            {name: str(answered.get(name)) for name in differing},
        )
        return False
    return True


@contextmanager
def handling(envelope: Envelope) -> Iterator[None]:
    """Publish what is published inside as caused by `envelope` (as the consumer does)."""
    with context.caused_by(
        correlation=envelope.correlation_id or str(envelope.id), causation=str(envelope.id)
    ):
        yield


def expired(envelope: Envelope, now: datetime) -> bool:
    return envelope.expires_at is not None and now >= envelope.expires_at
