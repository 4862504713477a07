"""The only code that writes inventory. Stock rows are locked (SELECT ... FOR UPDATE, in
SKU order so two orders never deadlock) before any count changes, and the database
itself refuses a negative or over-reserved count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction

from contracts.events.inventory import ReservationLine as EventLine
from messaging import ownership
from monolith.inventory import events
from monolith.inventory.models import Product, Reservation, ReservationLine, Stock
from servicekit.errors import Conflict, NotFound, ValidationFailed


class InsufficientStock(Conflict):
    error_type = "conflict"

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(
            f"Only {available} of {sku} available, {requested} requested.",
            code="insufficient_stock",
            sku=sku,
            requested=requested,
            available=available,
        )


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


def merge_lines(lines: Iterable[LineRequest]) -> list[LineRequest]:
    """One line per SKU, in SKU order (the lock order)."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return [LineRequest(sku=sku, quantity=qty) for sku, qty in sorted(totals.items())]


def product_create(
    *, sku: str, name: str, price: Decimal, currency: str, on_hand: int = 0
) -> Product:
    if Product.objects.filter(sku=sku).exists():
        raise ValidationFailed({"sku": [f"A product with SKU {sku} exists."]})
    try:
        with transaction.atomic():
            ownership.ensure_owner("inventory")
            product = Product.objects.create(sku=sku, name=name, price=price, currency=currency)
            stock = Stock.objects.create(product=product, on_hand=on_hand)
            events.product_created(product, stock)
    except IntegrityError:
        raise ValidationFailed({"sku": [f"A product with SKU {sku} exists."]}) from None
    return product


def _locked_stock(skus: list[str]) -> dict[str, Stock]:
    stocks = (
        Stock.objects.select_for_update()
        .select_related("product")
        .filter(product__sku__in=skus)
        .order_by("product__sku")
    )
    return {stock.product.sku: stock for stock in stocks}


def _save_stock(stock: Stock, *, reason: str, order_id: UUID | None = None) -> None:
    """Save changed counts (the row is locked) as a new version of the product."""
    stock.save(update_fields=["on_hand", "reserved", "updated_at"])
    product = stock.product
    product.version += 1
    product.save(update_fields=["version", "updated_at"])
    events.stock_changed(stock, reason=reason, order_id=order_id)


@transaction.atomic
def product_update(*, sku: str, name: str, price: Decimal) -> Product:
    """Rename or reprice a product (an operator's edit in admin)."""
    ownership.ensure_owner("inventory")
    stock = _locked_stock([sku]).get(sku)
    if stock is None:
        raise NotFound(f"No product with SKU {sku}.")
    product = stock.product
    product.name, product.price = name, price
    product.save(update_fields=["name", "price", "updated_at"])
    _save_stock(stock, reason="updated")
    return product


@transaction.atomic
def stock_adjust(*, sku: str, delta: int) -> Stock:
    """Add (receive goods) or remove (write off) units on hand."""
    ownership.ensure_owner("inventory")
    stock = _locked_stock([sku]).get(sku)
    if stock is None:
        raise NotFound(f"No product with SKU {sku}.")
    new_on_hand = stock.on_hand + delta
    if new_on_hand < stock.reserved:
        raise Conflict(
            f"Cannot remove {-delta} of {sku}: {stock.on_hand} on hand, {stock.reserved} reserved.",
            code="stock_below_reserved",
        )
    stock.on_hand = new_on_hand
    _save_stock(stock, reason="adjusted")
    return stock


@transaction.atomic
def stock_reserve(*, order_id: UUID, lines: list[LineRequest]) -> Reservation:
    """Hold stock for every line of an order, all or nothing. Idempotent per order."""
    ownership.ensure_owner("inventory")
    existing = Reservation.objects.filter(order_id=order_id).first()
    if existing is not None:
        return existing
    merged = merge_lines(lines)
    stocks = _locked_stock([line.sku for line in merged])
    unknown = [line.sku for line in merged if line.sku not in stocks]
    if unknown:
        raise ValidationFailed({"sku": [f"Unknown SKU: {', '.join(unknown)}."]})
    for line in merged:
        stock = stocks[line.sku]
        if stock.available < line.quantity:
            raise InsufficientStock(line.sku, line.quantity, stock.available)
    reservation = Reservation.objects.create(order_id=order_id)
    for line in merged:
        stock = stocks[line.sku]
        stock.reserved += line.quantity
        _save_stock(stock, reason="reserved", order_id=order_id)
        ReservationLine.objects.create(
            reservation=reservation, product=stock.product, quantity=line.quantity
        )
    events.reservation_changed(
        reservation, [EventLine(sku=ln.sku, quantity=ln.quantity) for ln in merged]
    )
    return reservation


def _settle(order_id: UUID, *, to: str, allowed_from: set[str]) -> Reservation:
    ownership.ensure_owner("inventory")
    reservation = Reservation.objects.select_for_update().filter(order_id=order_id).first()
    if reservation is None:
        raise NotFound(f"No reservation for order {order_id}.")
    if reservation.status == to:
        return reservation  # already done: retries are no-ops
    if reservation.status not in allowed_from:
        raise Conflict(
            f"Reservation for order {order_id} is {reservation.status}; cannot make it {to}.",
            code="reservation_state",
        )
    lines = list(reservation.lines.select_related("product"))
    stocks = _locked_stock([line.product.sku for line in lines])
    for line in lines:
        stock = stocks[line.product.sku]
        if to == Reservation.Status.RELEASED:
            stock.reserved -= line.quantity
        elif to == Reservation.Status.COMMITTED:
            stock.reserved -= line.quantity
            stock.on_hand -= line.quantity
        elif to == Reservation.Status.RETURNED:
            stock.on_hand += line.quantity
        _save_stock(stock, reason=to, order_id=order_id)
    reservation.status = to
    reservation.version += 1
    reservation.save(update_fields=["status", "version", "updated_at"])
    events.reservation_changed(
        reservation, [EventLine(sku=ln.product.sku, quantity=ln.quantity) for ln in lines]
    )
    return reservation


@transaction.atomic
def reservation_release(*, order_id: UUID) -> Reservation:
    """Give held units back to the shelf (the order was not paid)."""
    return _settle(
        order_id, to=Reservation.Status.RELEASED, allowed_from={Reservation.Status.ACTIVE}
    )


@transaction.atomic
def reservation_commit(*, order_id: UUID) -> Reservation:
    """The order is paid: held units leave the warehouse."""
    return _settle(
        order_id, to=Reservation.Status.COMMITTED, allowed_from={Reservation.Status.ACTIVE}
    )


@transaction.atomic
def reservation_return(*, order_id: UUID) -> Reservation:
    """A paid order was cancelled: its units come back on hand."""
    return _settle(
        order_id, to=Reservation.Status.RETURNED, allowed_from={Reservation.Status.COMMITTED}
    )


@transaction.atomic
def reservation_reject(
    *, order_id: UUID, refused: InsufficientStock | ValidationFailed
) -> Reservation:
    """Record that stock could not be held for an order (so the saga hears why)."""
    ownership.ensure_owner("inventory")
    existing = Reservation.objects.filter(order_id=order_id).first()
    if existing is not None:
        return existing
    reservation = Reservation.objects.create(order_id=order_id, status=Reservation.Status.REJECTED)
    if isinstance(refused, InsufficientStock):
        reason, sku = "out_of_stock", str(refused.extra["sku"])
        requested, available = int(refused.extra["requested"]), int(refused.extra["available"])
    else:
        reason, sku, requested, available = "unknown_sku", str(refused.errors), 0, 0
    events.reservation_rejected(
        reservation, reason=reason, sku=sku, requested=requested, available=available
    )
    return reservation
