"""Which request or event caused the work in progress, so events can carry it on.

A web request sets the correlation id from X-Request-ID; a consumer sets it from the
event it handles (and that event's id as the causation id of anything it publishes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_correlation_id: ContextVar[str] = ContextVar("carve_correlation_id", default="")
_causation_id: ContextVar[str] = ContextVar("carve_causation_id", default="")


def correlation_id() -> str:
    return _correlation_id.get()


def causation_id() -> str:
    return _causation_id.get()


@contextmanager
def caused_by(*, correlation: str, causation: str = "") -> Iterator[None]:
    correlation_token = _correlation_id.set(correlation)
    causation_token = _causation_id.set(causation)
    try:
        yield
    finally:
        _correlation_id.reset(correlation_token)
        _causation_id.reset(causation_token)
