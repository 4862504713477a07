"""Event types by bounded context. Each class is one schema version of one event."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """Base of every event type: immutable, strict about unknown fields.

    Subclasses set TYPE ("<context>.<EventName>"), VERSION and AGGREGATE, and say how to
    find the aggregate id in their data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]
    AGGREGATE: ClassVar[str]
    # "event": something that happened in the type's context. "command": a request to
    # the type's context (sent by another, e.g. the orders saga), answered by its events.
    KIND: ClassVar[str] = "event"

    def aggregate_id(self) -> str:
        raise NotImplementedError


class Command(Event):
    """A request to the context named in TYPE, sent on behalf of an orders saga.

    Handlers make every command idempotent by its business key (the order id), since the
    context's owner may change while a command is in flight and both sides may see it.
    """

    KIND = "command"
    AGGREGATE = "orders.saga"
