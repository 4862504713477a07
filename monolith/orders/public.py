"""What other apps may ask of orders: plain functions returning dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from monolith.orders import selectors


@dataclass(frozen=True)
class OrderSummary:
    id: UUID
    user_id: int
    status: str
    cancel_reason: str
    total: Decimal
    currency: str


def order_summary_get(*, order_id: UUID) -> OrderSummary | None:
    order = selectors.order_get(order_id=order_id)
    if order is None:
        return None
    return OrderSummary(
        id=order.id,
        user_id=order.user_id,
        status=order.status,
        cancel_reason=order.cancel_reason,
        total=order.total,
        currency=order.currency,
    )
