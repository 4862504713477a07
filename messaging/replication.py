"""Applying the other side's events to this side's copy of an aggregate.

Events carry the aggregate's whole state and its version (the envelope's sequence). The
next version is applied, an old or repeated one skipped, one that comes early waits
(RetryLater) for the one before it. Replicated changes are never published again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from messaging.handlers import RetryLater

M = TypeVar("M", bound=models.Model)


def apply_version(
    model: type[M], lookup: dict[str, Any], sequence: int, fields: dict[str, Any]
) -> M | None:
    """Set the row found by `lookup` (created if missing) to `fields` at version `sequence`.

    Returns the row when applied, None when this version (or a newer one) is there already.
    The model needs a `version` field; call inside the consumer's transaction.
    """
    row = model._default_manager.select_for_update().filter(**lookup).first()
    current = int(getattr(row, "version", 0)) if row is not None else 0
    if sequence <= current:
        return None
    if sequence > current + 1:
        what = ", ".join(f"{key}={value}" for key, value in lookup.items())
        raise RetryLater(
            f"{model._meta.label} {what}: version {sequence} arrived before {current + 1}"
        )
    if row is None:
        row = model(**lookup)
    for name, value in fields.items():
        setattr(row, name, value)
    row.version = sequence  # type: ignore[attr-defined]
    row.save()
    return row
