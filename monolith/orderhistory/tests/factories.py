"""Envelopes of one order's life, as the monolith or the extracted services publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts.envelope import Envelope
from contracts.events import Event
from contracts.events import inventory as inventory_events
from contracts.events import orders as order_events
from contracts.events import payments as payment_events

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ORDER_EVENTS = {
    "pending": order_events.OrderPlacedV1,
    "confirmed": order_events.OrderConfirmedV1,
    "cancelled": order_events.OrderCancelledV1,
}
CHARGE_EVENTS = {
    "pending": payment_events.ChargeRequestedV1,
    "captured": payment_events.ChargeCapturedV1,
    "declined": payment_events.ChargeDeclinedV1,
    "failed": payment_events.ChargeFailedV1,
    "partially_refunded": payment_events.ChargeRefundedV1,
    "refunded": payment_events.ChargeRefundedV1,
}
STOCK_EVENTS = {
    "active": inventory_events.StockReservedV1,
    "committed": inventory_events.StockCommittedV1,
    "released": inventory_events.StockReleasedV1,
    "returned": inventory_events.StockReturnedV1,
    "rejected": inventory_events.StockReservationRejectedV1,
}


def envelope(event: Event, sequence: int, *, origin: str, at: datetime) -> Envelope:
    return Envelope(
        type=event.TYPE,
        version=event.VERSION,
        aggregate=event.AGGREGATE,
        aggregate_id=event.aggregate_id(),
        sequence=sequence,
        origin=origin,
        occurred_at=at,
        data=event.model_dump(mode="json"),
    )


@dataclass
class Story:
    """One order: call order(), charge() and stock() in the order things happen; each
    call is the next version of its aggregate, a minute after the previous event."""

    user_id: int
    placed_at: datetime = T0
    lines: list[tuple[str, int, str]] = field(default_factory=lambda: [("MUG", 2, "4.50")])
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)
    charge_id: uuid.UUID = field(default_factory=uuid.uuid4)
    versions: dict[str, int] = field(default_factory=dict)
    ticks: int = 0

    @property
    def total(self) -> Decimal:
        return sum((Decimal(price) * qty for _, qty, price in self.lines), Decimal("0.00"))

    def _next(self, aggregate: str, event: Event, origin: str) -> Envelope:
        self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        self.ticks += 1
        at = self.placed_at + timedelta(minutes=self.ticks)
        return envelope(event, self.versions[aggregate], origin=origin, at=at)

    def order(self, status: str, *, cancel_reason: str = "", paid: bool = True) -> Envelope:
        fields: dict[str, Any] = {
            "order_id": self.order_id,
            "user_id": self.user_id,
            "status": status,
            "cancel_reason": cancel_reason,
            "total": self.total,
            "currency": "EUR",
            "payment_id": self.charge_id if paid else None,
            "lines": [
                order_events.OrderLine(
                    sku=sku, name=f"{sku} name", quantity=qty, unit_price=Decimal(price)
                )
                for sku, qty, price in self.lines
            ],
            "created_at": self.placed_at,
        }
        event = ORDER_EVENTS[status](**fields)
        return self._next("order", event, "monolith")

    def charge(
        self, status: str, *, refunded: str = "0.00", origin: str = "payments", **kw: Any
    ) -> Envelope:
        fields: dict[str, Any] = {
            "charge_id": self.charge_id,
            "user_id": self.user_id,
            "order_id": self.order_id,
            "amount": self.total,
            "currency": "EUR",
            "status": status,
            "failure_reason": kw.get("failure_reason", ""),
            "refunded_amount": Decimal(refunded),
            "refunds": [],
            "created_at": self.placed_at,
            "idempotency_key": f"order:{self.order_id}",
            "request_fingerprint": "",
            "card_token": "tok_ok",
            "gateway_reference": "",
        }
        event = CHARGE_EVENTS[status](**fields)
        return self._next("charge", event, origin)

    def stock(self, status: str, *, origin: str = "inventory") -> Envelope:
        fields: dict[str, Any] = {
            "order_id": self.order_id,
            "status": status,
            "lines": [
                inventory_events.ReservationLine(sku=sku, quantity=qty)
                for sku, qty, _ in self.lines
            ],
            "created_at": self.placed_at,
            "updated_at": self.placed_at,
        }
        if status == "rejected":
            sku, qty, _ = self.lines[0]
            fields.update(reason="out_of_stock", sku=sku, requested=qty, available=0)
        return self._next("reservation", STOCK_EVENTS[status](**fields), origin)

    # ------------------------------------------------------------ whole paths
    def paid(self) -> list[Envelope]:
        return [
            self.order("pending"),
            self.stock("active"),
            self.charge("pending"),
            self.charge("captured"),
            self.stock("committed"),
            self.order("confirmed"),
        ]

    def declined(self) -> list[Envelope]:
        return [
            self.order("pending"),
            self.stock("active"),
            self.charge("pending"),
            self.charge("declined", failure_reason="card_declined"),
            self.stock("released"),
            self.order("cancelled", cancel_reason="payment_declined"),
        ]

    def out_of_stock(self) -> list[Envelope]:
        return [
            self.order("pending", paid=False),
            self.stock("rejected"),
            self.order("cancelled", cancel_reason="out_of_stock", paid=False),
        ]

    def refunded_after_cancel(self) -> list[Envelope]:
        return [
            *self.paid(),
            self.order("cancelled", cancel_reason="customer_cancelled"),
            self.charge("refunded", refunded=str(self.total)),
            self.stock("returned"),
        ]


def apply(envelopes: list[Envelope]) -> None:
    """Apply envelopes straight through the service, as the handlers would (no broker)."""
    from contracts.registry import event_class
    from monolith.orderhistory.services import order_history_apply

    for item in envelopes:
        event = event_class(item.type, item.version).model_validate(item.data)
        order_history_apply(event=event, envelope=item)


def deliveries(envelopes: list[Envelope]) -> list[list[Envelope]]:
    """Split a run of envelopes where an event id repeats, so no delivery holds one event
    twice (a relay never sends that, and the consumer counts attempts per delivery with
    one upsert, which PostgreSQL refuses for a repeated key). Repeats across deliveries
    are what the tests exercise."""
    out: list[list[Envelope]] = [[]]
    for item in envelopes:
        if any(item.id == seen.id for seen in out[-1]):
            out.append([])
        out[-1].append(item)
    return [chunk for chunk in out if chunk]
