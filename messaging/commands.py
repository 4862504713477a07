"""Running a command on whichever side writes its context.

Both sides take a context's commands (the owner may change while one is in flight).
The side that writes the context runs it. The other parks it: a periodic job drops it
once the owner's result has replicated here (`done()`), or runs it if this side has
meanwhile become the writer. Commands are idempotent by their business key, so a command
both sides end up running still has one effect. Parking costs the consumer nothing: it
never waits or retries on the broker for the other side.

A command sent with an `expires_at` (messaging/replies.py) is discarded once that moment
has passed, wherever it is: delivered late, or parked and resumed at a later route move.
Its sender has given up on it (a saga that timed out and cancelled its order), so running
it would act for a process that has ended, e.g. charge a cancelled order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from contracts.envelope import Envelope
from contracts.registry import event_class
from messaging import ownership, replies
from messaging.handlers import handler_for
from messaging.models import ParkedCommand

log = logging.getLogger("carve.commands")
_resuming: ContextVar[bool] = ContextVar("carve_resuming_parked", default=False)


class StillParked(Exception):
    """A parked command whose context is still written elsewhere and not done yet."""


def execute_or_defer(
    context: str, *, what: str, done: Callable[[], bool], run: Callable[[], None]
) -> None:
    """Run `run` here if this side writes `context`, unless `done()` says it happened;
    otherwise park the command being handled (see the module docstring)."""
    if done():
        return
    if ownership.is_owner(context):
        try:
            with transaction.atomic():
                run()
            return
        except ownership.NotOwner:
            pass  # the context moved while this command ran: park it
    if _resuming.get():
        raise StillParked(what)
    envelope = _handling.get()
    if envelope is None:
        raise RuntimeError("execute_or_defer() runs inside a command handler")
    ParkedCommand.objects.get_or_create(
        event_id=envelope.id,
        defaults={"event_type": envelope.type, "context": context, "envelope": envelope.to_json()},
    )


_handling: ContextVar[Envelope | None] = ContextVar("carve_command_envelope", default=None)


C = TypeVar("C")


def handles_command(func: Callable[[C, Envelope], None]) -> Callable[[C, Envelope], None]:
    """Wrap a command handler so execute_or_defer() knows the envelope it may park."""

    def wrapped(command: C, envelope: Envelope) -> None:
        if replies.expired(envelope, timezone.now()):
            log.warning(
                "discarded %s %s: it expired at %s (its sender gave up on it)",
                envelope.type,
                envelope.id,
                envelope.expires_at,
            )
            return
        token = _handling.set(envelope)
        try:
            func(command, envelope)
        finally:
            _handling.reset(token)

    wrapped.__name__ = getattr(func, "__name__", "command")
    wrapped.__qualname__ = getattr(func, "__qualname__", "command")
    wrapped.__module__ = func.__module__
    return wrapped


def resume_parked(limit: int = 200) -> int:
    """Drop parked commands that are done, run those this side may run now (a periodic
    job of the relay process). Returns how many left the park."""
    resolved = 0
    for parked in ParkedCommand.objects.order_by("id")[:limit]:
        envelope = Envelope.from_json(parked.envelope)
        handler = handler_for(envelope.type)
        token = _resuming.set(True)
        try:
            with transaction.atomic(), replies.handling(envelope):
                if handler is not None:
                    event = event_class(envelope.type, envelope.version).model_validate(
                        envelope.data
                    )
                    handler.func(event, envelope)
                ParkedCommand.objects.filter(pk=parked.pk).delete()
            resolved += 1
        except StillParked:
            ParkedCommand.objects.filter(pk=parked.pk).update(checks=parked.checks + 1)
        except Exception:
            log.exception("parked %s %s could not be resumed", envelope.type, envelope.id)
        finally:
            _resuming.reset(token)
    return resolved
