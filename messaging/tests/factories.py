"""Envelopes and outbox rows for the messaging tests."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import transaction

from contracts.envelope import Envelope
from contracts.events.inventory import StockChangedV1
from messaging.outbox import publish


def stock_changed(sku: str, sequence: int, **overrides: Any) -> Envelope:
    data = StockChangedV1(
        sku=sku,
        name="Mug",
        price=Decimal("4.50"),
        currency="EUR",
        on_hand=sequence,
        reserved=0,
        reason="adjusted",
    ).model_dump(mode="json")
    fields: dict[str, Any] = {
        "type": StockChangedV1.TYPE,
        "version": 1,
        "aggregate": StockChangedV1.AGGREGATE,
        "aggregate_id": sku,
        "sequence": sequence,
        "origin": "elsewhere",
        "data": data,
    }
    fields.update(overrides)
    return Envelope(**fields)


def publish_stock_changes(skus: list[str], per_sku: int, *, first: int = 1) -> None:
    """Commit `per_sku` StockChanged events per SKU (sequences from `first`), interleaved."""
    for sequence in range(first, first + per_sku):
        for sku in skus:
            with transaction.atomic():
                publish(
                    StockChangedV1(
                        sku=sku,
                        name="Mug",
                        price=Decimal("4.50"),
                        currency="EUR",
                        on_hand=sequence,
                        reserved=0,
                        reason="adjusted",
                    ),
                    sequence=sequence,
                )


def new_id() -> uuid.UUID:
    return uuid.uuid4()
