"""orders: an order from placement to a terminal state (aggregate `orders.order`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import Event
from contracts.events.money import Currency, Money, Sku


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    name: str
    quantity: int = Field(ge=1)
    unit_price: Money


class OrderState(Event):
    AGGREGATE = "orders.order"

    order_id: uuid.UUID
    user_id: int
    status: Literal["pending", "confirmed", "cancelled"]
    cancel_reason: str
    total: Money
    currency: Currency
    payment_id: uuid.UUID | None
    lines: list[OrderLine]
    created_at: datetime

    def aggregate_id(self) -> str:
        return str(self.order_id)


class OrderPlacedV1(OrderState):
    TYPE = "orders.OrderPlaced"
    VERSION = 1


class OrderConfirmedV1(OrderState):
    TYPE = "orders.OrderConfirmed"
    VERSION = 1


class OrderCancelledV1(OrderState):
    TYPE = "orders.OrderCancelled"
    VERSION = 1
