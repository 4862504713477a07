"""The envelope every event travels in, whatever its type."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """Metadata plus the event's data.

    `sequence` is the aggregate's version after the change: consumers use it to drop
    stale or duplicate events and to wait for a missing one. `origin` is the service that
    made the change; a replica never re-publishes an event it did not originate.
    `causation_id` is the id of the event or command whose handling published this one: a
    reply names the command it answers (messaging/replies.py).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = Field(ge=1, description="schema version of `data`")
    aggregate: str
    aggregate_id: str
    sequence: int = Field(ge=1)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    origin: str
    correlation_id: str = ""
    causation_id: str = ""
    # A command's time limit: not executed after it (see messaging/commands.py); None for
    # events and for commands that must always run (compensations).
    expires_at: datetime | None = None
    data: dict[str, Any]

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Envelope:
        return cls.model_validate_json(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Envelope:
        return cls.model_validate(raw)

    def to_dict(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.to_json())
        return loaded

    @property
    def context(self) -> str:
        return self.type.split(".", 1)[0]
