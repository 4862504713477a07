"""Envelopes and outbox rows for the messaging tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from contracts.envelope import Envelope
from contracts.events.inventory import StockChangedV1, StockReservedV1
from messaging.celeryapp import CONSUME_TASK, queue_name
from messaging.outbox import publish
from messaging.testing import EventsEnv


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


def stock_reserved(order: str) -> Envelope:
    """A StockReserved event (its handler is not ordered) of the reservation `order`."""
    now = datetime.now(UTC)
    order_id = uuid.uuid5(uuid.NAMESPACE_URL, order)
    data = StockReservedV1(
        order_id=order_id, status="active", lines=[], created_at=now, updated_at=now
    ).model_dump(mode="json")
    return Envelope(
        type=StockReservedV1.TYPE,
        version=1,
        aggregate=StockReservedV1.AGGREGATE,
        aggregate_id=str(order_id),
        sequence=1,
        origin="elsewhere",
        data=data,
    )


def send(events: EventsEnv, envelope: Envelope) -> str:
    """Put one event on the service's queue straight away (past outbox and relay); returns
    the id of the task message that carries it."""
    result = events.app.send_task(
        CONSUME_TASK, args=[[envelope.to_dict()]], exchange="", routing_key=queue_name()
    )
    return str(result.id)


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
