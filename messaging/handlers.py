"""Event handlers of this service, registered by type.

    from messaging.handlers import handles

    @handles(StockChangedV1)
    def stock_changed(event: StockChangedV1, envelope: Envelope) -> None: ...

A handler runs inside the consumer's transaction, with the inbox row for the event, so
its effects and "this event is done" commit together. Several apps of a service may
handle one type (the monolith's inventory replicates StockReserved, its orders saga
reacts to it): they run in registration order, in that one transaction.

`ordered=True` makes the library apply an aggregate's events strictly in sequence: stale
or duplicate ones are skipped, an early one waits (RetryLater) until the missing one has
been applied.

Which modules hold a service's handlers is the setting CARVE_EVENT_HANDLER_MODULES; the
service's queue is bound to exactly the types they handle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from contracts.envelope import Envelope
from contracts.events import Event
from contracts.registry import routing_key

HandlerFunc = Callable[[Any, Envelope], None]


class RetryLater(Exception):
    """Not an error: the event cannot be applied yet (an earlier one is missing)."""


@dataclass(frozen=True)
class Handler:
    event_type: str
    func: HandlerFunc
    ordered: bool


_handlers: dict[str, list[Handler]] = {}


def handles(
    event_class: type[Event], *, ordered: bool = False
) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register the decorated function as a handler of `event_class`'s type.

    It receives every schema version of the type this code knows.
    """

    def register(func: HandlerFunc) -> HandlerFunc:
        registered = _handlers.setdefault(event_class.TYPE, [])
        if not any(handler.func is func for handler in registered):
            registered.append(Handler(event_class.TYPE, func, ordered))
        return func

    return register


def handler_for(event_type: str) -> Handler | None:
    """One handler running every registered one in order (ordered if any of them is)."""
    registered = _handlers.get(event_type)
    if not registered:
        return None
    if len(registered) == 1:
        return registered[0]

    def run_all(event: Any, envelope: Envelope) -> None:
        for handler in registered:
            handler.func(event, envelope)

    return Handler(event_type, run_all, any(handler.ordered for handler in registered))


def subscriptions() -> list[str]:
    """Routing keys this service's queue is bound to."""
    return sorted(routing_key(event_type) for event_type in _handlers)


def load_handler_modules() -> None:
    for module in getattr(settings, "CARVE_EVENT_HANDLER_MODULES", []):
        importlib.import_module(module)


def unregister(event_type: str) -> None:
    """Drop the handlers of a type (for tests that register their own)."""
    _handlers.pop(event_type, None)
