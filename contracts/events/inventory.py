"""inventory: products with their stock, and stock held for orders.

Events carry the aggregate's whole state after the change, so a replica can apply the
newest one it has without replaying arithmetic.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import Command, Event
from contracts.events.money import Currency, Money, Sku


class ProductState(Event):
    """A product and its stock (aggregate `inventory.product`, id = SKU)."""

    AGGREGATE = "inventory.product"

    sku: Sku
    name: str
    price: Money
    currency: Currency
    on_hand: int = Field(ge=0)
    reserved: int = Field(ge=0)

    def aggregate_id(self) -> str:
        return self.sku


class ProductCreatedV1(ProductState):
    TYPE = "inventory.ProductCreated"
    VERSION = 1


class StockChangedV1(ProductState):
    """Units on hand or reserved (or the name or price: `updated`) changed; `reason` says
    why, `order_id` for which order."""

    TYPE = "inventory.StockChanged"
    VERSION = 1

    reason: Literal["adjusted", "reserved", "released", "committed", "returned", "updated"]
    order_id: uuid.UUID | None = None


class ReservationLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    quantity: int = Field(ge=1)


class ReservationState(Event):
    """Stock held for one order (aggregate `inventory.reservation`, id = order id)."""

    AGGREGATE = "inventory.reservation"

    order_id: uuid.UUID
    status: Literal["active", "committed", "released", "returned", "rejected"]
    lines: list[ReservationLine]
    created_at: datetime
    updated_at: datetime

    def aggregate_id(self) -> str:
        return str(self.order_id)


class StockReservedV1(ReservationState):
    TYPE = "inventory.StockReserved"
    VERSION = 1


class StockReleasedV1(ReservationState):
    TYPE = "inventory.StockReleased"
    VERSION = 1


class StockCommittedV1(ReservationState):
    TYPE = "inventory.StockCommitted"
    VERSION = 1


class StockReturnedV1(ReservationState):
    TYPE = "inventory.StockReturned"
    VERSION = 1


class StockReservationRejectedV1(ReservationState):
    """Not enough stock (or an unknown SKU) for an order: nothing was held."""

    TYPE = "inventory.StockReservationRejected"
    VERSION = 1

    reason: Literal["out_of_stock", "unknown_sku"]
    sku: str
    requested: int
    available: int


class ReserveStockV1(Command):
    TYPE = "inventory.ReserveStock"
    VERSION = 1

    order_id: uuid.UUID
    lines: list[ReservationLine]

    def aggregate_id(self) -> str:
        return str(self.order_id)


class _ReservationCommand(Command):
    order_id: uuid.UUID

    def aggregate_id(self) -> str:
        return str(self.order_id)


class CommitReservationV1(_ReservationCommand):
    TYPE = "inventory.CommitReservation"
    VERSION = 1


class ReleaseReservationV1(_ReservationCommand):
    TYPE = "inventory.ReleaseReservation"
    VERSION = 1


class ReturnReservationV1(_ReservationCommand):
    TYPE = "inventory.ReturnReservation"
    VERSION = 1


RESERVATION_EVENTS: dict[str, type[ReservationState]] = {
    "active": StockReservedV1,
    "released": StockReleasedV1,
    "committed": StockCommittedV1,
    "returned": StockReturnedV1,
}


def product_fields(product: Any, stock: Any) -> dict[str, Any]:
    """A product's event fields from its records (product: sku, name, price, currency;
    stock: on_hand, reserved)."""
    return {
        "sku": product.sku,
        "name": product.name,
        "price": product.price,
        "currency": product.currency,
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
    }


def reservation_event(reservation: Any, lines: list[ReservationLine]) -> ReservationState:
    """The event for a reservation record's current status (order_id, status, created_at,
    updated_at); not for `rejected`, which says why."""
    return RESERVATION_EVENTS[reservation.status](
        order_id=reservation.order_id,
        status=reservation.status,
        lines=lines,
        created_at=reservation.created_at,
        updated_at=reservation.updated_at,
    )
