"""inventory's domain events, built from its models and written to the outbox."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.events import inventory as contract
from messaging.outbox import publish
from monolith.inventory.models import Product, Reservation, Stock


def product_created(product: Product, stock: Stock) -> None:
    publish(
        contract.ProductCreatedV1(**contract.product_fields(product, stock)),
        sequence=product.version,
    )


def stock_changed(stock: Stock, *, reason: Any, order_id: UUID | None = None) -> None:
    product = stock.product
    event = contract.StockChangedV1(
        **contract.product_fields(product, stock), reason=reason, order_id=order_id
    )
    publish(event, sequence=product.version)


def reservation_changed(reservation: Reservation, lines: list[contract.ReservationLine]) -> None:
    event = contract.reservation_event(reservation, lines)
    publish(event, sequence=reservation.version)


def reservation_rejected(
    reservation: Reservation, *, reason: Any, sku: str, requested: int, available: int
) -> None:
    event = contract.StockReservationRejectedV1(
        order_id=reservation.order_id,
        status="rejected",
        lines=[],
        created_at=reservation.created_at,
        updated_at=reservation.updated_at,
        reason=reason,
        sku=sku,
        requested=requested,
        available=available,
    )
    publish(event, sequence=reservation.version)
