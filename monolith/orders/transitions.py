"""An order's moves to a terminal state, each saved with its event (used by the services
and by the saga, so both settle an order the same way)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from monolith.orders import events
from monolith.orders.models import Order


@dataclass(frozen=True)
class Outcome:
    confirmed: bool
    payment_id: UUID | None
    cancel_reason: str = ""


def order_settle(order: Order, outcome: Outcome) -> None:
    """Confirm or cancel (with a reason) a pending order; in the caller's transaction."""
    order.payment_id = outcome.payment_id or order.payment_id
    if outcome.confirmed:
        order.status = Order.Status.CONFIRMED
        order.cancel_reason = ""
    else:
        order.status = Order.Status.CANCELLED
        order.cancel_reason = outcome.cancel_reason
    order.version += 1
    order.save(update_fields=["status", "cancel_reason", "payment_id", "version", "updated_at"])
    events.order_changed(order)
