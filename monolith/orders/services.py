"""The only code that writes orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db import transaction

from messaging.ownership import NotOwner
from monolith.inventory import public as inventory
from monolith.orders import events
from monolith.orders.adapters import Fulfilment, SagaFulfilment, fulfilment
from monolith.orders.models import Order, OrderLine
from monolith.orders.transitions import Outcome, order_settle
from monolith.payments import public as payments
from servicekit.errors import Conflict, NotFound, ValidationFailed


@dataclass(frozen=True)
class OrderLineRequest:
    sku: str
    quantity: int


def _merge(lines: list[OrderLineRequest]) -> dict[str, int]:
    quantities: dict[str, int] = {}
    for line in lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    return quantities


def _priced_lines(lines: list[OrderLineRequest]) -> tuple[list[OrderLine], Decimal, str]:
    quantities = _merge(lines)
    products = inventory.products_get(skus=list(quantities))
    unknown = {
        f"lines.{index}.sku": [f"Unknown SKU: {line.sku}."]
        for index, line in enumerate(lines)
        if line.sku not in products
    }
    if unknown:
        raise ValidationFailed(unknown)
    currencies = sorted({p.currency for p in products.values()})
    if len(currencies) > 1:
        raise ValidationFailed(
            {
                "lines": [
                    f"One order takes one currency; these products are in {', '.join(currencies)}."
                ]
            }
        )
    order_lines = [
        OrderLine(sku=sku, name=products[sku].name, quantity=qty, unit_price=products[sku].price)
        for sku, qty in sorted(quantities.items())
    ]
    total = sum((line.unit_price * line.quantity for line in order_lines), Decimal("0.00"))
    return order_lines, total, currencies[0]


def order_place(*, user_id: int, lines: list[OrderLineRequest], card_token: str) -> Order:
    """Create an order and fulfil it: reserve stock, charge, confirm (or cancel with why).

    In-process, not enough stock is a Conflict (409) and leaves nothing behind; through the
    saga the order comes back pending and ends cancelled (out_of_stock). If inventory or
    payments changes hands during an in-process placement, it is redone through the saga.
    """
    if not lines:
        raise ValidationFailed({"lines": ["An order needs at least one line."]})
    payments.card_token_validate(card_token=card_token)
    order_lines, total, currency = _priced_lines(lines)
    try:
        return _place(user_id, order_lines, total, currency, card_token, fulfilment())
    except NotOwner:
        return _place(user_id, order_lines, total, currency, card_token, SagaFulfilment())


def _place(
    user_id: int,
    order_lines: list[OrderLine],
    total: Decimal,
    currency: str,
    card_token: str,
    how: Fulfilment,
) -> Order:
    with transaction.atomic():
        order = Order.objects.create(user_id=user_id, total=total, currency=currency)
        for line in order_lines:
            line.pk, line.order = None, order
        OrderLine.objects.bulk_create(order_lines)
        events.order_changed(order)
        outcome = how.order_fulfil(order=order, card_token=card_token)
        if outcome is not None:
            order_settle(order, outcome)
    return order


def order_cancel(*, user_id: int, order_id: UUID) -> Order:
    """Cancel a confirmed order: refund its payment and return its stock."""
    try:
        return _cancel(user_id, order_id, fulfilment())
    except NotOwner:
        return _cancel(user_id, order_id, SagaFulfilment())


def _cancel(user_id: int, order_id: UUID, how: Fulfilment) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, user_id=user_id).first()
        if order is None:
            raise NotFound(f"No order {order_id}.")
        if order.status == Order.Status.CANCELLED:
            raise Conflict(
                f"Order {order_id} is already cancelled.", code="order_already_cancelled"
            )
        if order.status == Order.Status.PENDING:
            raise Conflict(
                f"Order {order_id} is still being placed; cancel it once it is confirmed.",
                code="order_in_progress",
            )
        how.order_unwind(order=order)
        order_settle(order, Outcome(False, order.payment_id, Order.CancelReason.CUSTOMER_CANCELLED))
    return order
