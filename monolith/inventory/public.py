"""What other apps may ask of inventory: plain functions returning dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from monolith.inventory import selectors, services
from monolith.inventory.models import Reservation
from monolith.inventory.services import InsufficientStock, LineRequest

__all__ = [
    "InsufficientStock",
    "LineRequest",
    "ProductInfo",
    "ReservationInfo",
    "products_get",
    "reservation_commit",
    "reservation_release",
    "reservation_return",
    "stock_reserve",
]


@dataclass(frozen=True)
class ProductInfo:
    sku: str
    name: str
    price: Decimal
    currency: str
    available: int


@dataclass(frozen=True)
class ReservationInfo:
    order_id: UUID
    status: str
    lines: tuple[LineRequest, ...]


def _reservation_info(reservation: Reservation) -> ReservationInfo:
    lines = tuple(
        LineRequest(sku=line.product.sku, quantity=line.quantity)
        for line in reservation.lines.select_related("product").order_by("product__sku")
    )
    return ReservationInfo(order_id=reservation.order_id, status=reservation.status, lines=lines)


def products_get(*, skus: list[str]) -> dict[str, ProductInfo]:
    """The products with these SKUs that exist, by SKU."""
    return {
        sku: ProductInfo(
            sku=p.sku, name=p.name, price=p.price, currency=p.currency, available=p.stock.available
        )
        for sku, p in selectors.products_by_sku(skus=skus).items()
    }


def stock_reserve(*, order_id: UUID, lines: list[LineRequest]) -> ReservationInfo:
    """Hold stock for an order, all lines or none; raises InsufficientStock."""
    return _reservation_info(services.stock_reserve(order_id=order_id, lines=lines))


def reservation_release(*, order_id: UUID) -> ReservationInfo:
    return _reservation_info(services.reservation_release(order_id=order_id))


def reservation_commit(*, order_id: UUID) -> ReservationInfo:
    return _reservation_info(services.reservation_commit(order_id=order_id))


def reservation_return(*, order_id: UUID) -> ReservationInfo:
    return _reservation_info(services.reservation_return(order_id=order_id))
