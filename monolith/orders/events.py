"""orders' domain events, built from its models and written to the outbox."""

from __future__ import annotations

from typing import Any

from contracts.events import orders as contract
from messaging.outbox import publish
from monolith.orders.models import Order


def _state(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "user_id": order.user_id,
        "status": order.status,
        "cancel_reason": order.cancel_reason,
        "total": order.total,
        "currency": order.currency,
        "payment_id": order.payment_id,
        "lines": [
            contract.OrderLine(
                sku=line.sku, name=line.name, quantity=line.quantity, unit_price=line.unit_price
            )
            for line in order.lines.all()
        ],
        "created_at": order.created_at,
    }


def order_changed(order: Order) -> None:
    """Placed, confirmed or cancelled: the event follows the order's status."""
    if order.status == Order.Status.PENDING:
        event: contract.OrderState = contract.OrderPlacedV1(**_state(order))
    elif order.status == Order.Status.CONFIRMED:
        event = contract.OrderConfirmedV1(**_state(order))
    else:
        event = contract.OrderCancelledV1(**_state(order))
    publish(event, sequence=order.version)
