"""How orders reaches inventory and payments: only through their public.py.

LocalFulfilment runs the whole placement in the caller's transaction (the monolith as it
was) and reports the outcome at once. SagaFulfilment drives whichever side writes
inventory and payments by commands and reply events, behind the same two methods, and
reports no outcome yet (the order stays pending until the saga ends). Which one is used
follows who writes the two contexts (messaging/ownership.py).
"""

from __future__ import annotations

from typing import Protocol

from messaging import ownership
from monolith.inventory import public as inventory
from monolith.orders import saga
from monolith.orders.models import Order
from monolith.orders.transitions import Outcome
from monolith.payments import public as payments


class Fulfilment(Protocol):
    def order_fulfil(self, *, order: Order, card_token: str) -> Outcome | None:
        """Reserve, charge and settle `order`; None while that is still under way."""

    def order_unwind(self, *, order: Order) -> None:
        """Undo a confirmed order: refund its payment and return its stock."""


class LocalFulfilment:
    def order_fulfil(self, *, order: Order, card_token: str) -> Outcome:
        inventory.stock_reserve(
            order_id=order.id,
            lines=[
                inventory.LineRequest(sku=line.sku, quantity=line.quantity)
                for line in order.lines.all()
            ],
        )
        charge = payments.charge_create(
            user_id=order.user_id,
            amount=order.total,
            currency=order.currency,
            card_token=card_token,
            order_id=order.id,
        )
        if charge.captured:
            inventory.reservation_commit(order_id=order.id)
            return Outcome(confirmed=True, payment_id=charge.id)
        inventory.reservation_release(order_id=order.id)
        reason = (
            Order.CancelReason.PAYMENT_DECLINED
            if charge.status == payments.DECLINED
            else Order.CancelReason.PAYMENT_FAILED
        )
        return Outcome(confirmed=False, payment_id=charge.id, cancel_reason=reason)

    def order_unwind(self, *, order: Order) -> None:
        if order.payment_id is not None:
            payments.refund_create(charge_id=order.payment_id, reason="order_cancelled")
        inventory.reservation_return(order_id=order.id)


class SagaFulfilment:
    """Inventory or payments is written by an extracted service: drive them by commands.

    The order stays pending until the saga's replies settle it (see orders/saga.py).
    """

    def order_fulfil(self, *, order: Order, card_token: str) -> Outcome | None:
        saga.start(order, card_token)
        return None

    def order_unwind(self, *, order: Order) -> None:
        saga.undo(order)


def fulfilment() -> Fulfilment:
    """In-process while the monolith writes both inventory and payments, else the saga."""
    if ownership.is_owner("inventory") and ownership.is_owner("payments"):
        return LocalFulfilment()
    return SagaFulfilment()
