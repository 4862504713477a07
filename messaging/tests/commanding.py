"""Delivering a command to its registered handler in-process, as the consumer would."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from contracts.envelope import Envelope
from contracts.events import Command
from messaging import handlers


def deliver_command(command: Command, *, expires_at: datetime | None = None) -> Envelope:
    envelope = Envelope(
        type=command.TYPE,
        version=command.VERSION,
        aggregate=command.AGGREGATE,
        aggregate_id=command.aggregate_id(),
        sequence=1,
        origin="monolith",
        expires_at=expires_at,
        data=command.model_dump(mode="json"),
    )
    with transaction.atomic():
        handler = handlers.handler_for(command.TYPE)
        assert handler is not None
        handler.func(command, envelope)
    return envelope
