"""payments: charges and their refunds (aggregate `payments.charge`, id = charge id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from contracts.events import Command, Event
from contracts.events.money import Currency, Money


class RefundState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID
    amount: Money
    reason: str
    created_at: datetime


class ChargeState(Event):
    AGGREGATE = "payments.charge"

    charge_id: uuid.UUID
    user_id: int
    order_id: uuid.UUID | None
    amount: Money
    currency: Currency
    status: Literal["pending", "captured", "declined", "failed", "partially_refunded", "refunded"]
    failure_reason: str
    refunded_amount: Money
    refunds: list[RefundState]
    created_at: datetime
    # What a retried request is matched against, so the side that owns payments next
    # replays the first result instead of charging again.
    idempotency_key: str | None
    request_fingerprint: str
    card_token: str
    gateway_reference: str

    def aggregate_id(self) -> str:
        return str(self.charge_id)


class ChargeRequestedV1(ChargeState):
    """The gateway is being asked (status pending): a retry with the same key must wait."""

    TYPE = "payments.ChargeRequested"
    VERSION = 1


class ChargeCapturedV1(ChargeState):
    TYPE = "payments.ChargeCaptured"
    VERSION = 1


class ChargeDeclinedV1(ChargeState):
    TYPE = "payments.ChargeDeclined"
    VERSION = 1


class ChargeFailedV1(ChargeState):
    TYPE = "payments.ChargeFailed"
    VERSION = 1


class ChargeRefundedV1(ChargeState):
    TYPE = "payments.ChargeRefunded"
    VERSION = 1


class ChargeOrderV1(Command):
    """Charge an order's total; answered by ChargeCaptured, ChargeDeclined or ChargeFailed."""

    TYPE = "payments.ChargeOrder"
    VERSION = 1

    order_id: uuid.UUID
    user_id: int
    amount: Money
    currency: Currency
    card_token: str

    def aggregate_id(self) -> str:
        return str(self.order_id)


class RefundOrderChargeV1(Command):
    """Refund what is left of an order's charge; answered by ChargeRefunded."""

    TYPE = "payments.RefundOrderCharge"
    VERSION = 1

    order_id: uuid.UUID
    reason: str

    def aggregate_id(self) -> str:
        return str(self.order_id)


STATUS_EVENTS: dict[str, type[ChargeState]] = {
    "pending": ChargeRequestedV1,
    "captured": ChargeCapturedV1,
    "declined": ChargeDeclinedV1,
    "failed": ChargeFailedV1,
    "partially_refunded": ChargeRefundedV1,
    "refunded": ChargeRefundedV1,
}
RECORD_FIELDS = (
    "user_id",
    "order_id",
    "amount",
    "currency",
    "status",
    "failure_reason",
    "refunded_amount",
    "idempotency_key",
    "request_fingerprint",
    "card_token",
    "gateway_reference",
)


def charge_event(charge: Any, refunds: list[Any]) -> ChargeState:
    """The event for a charge record's current status (any object with the charge's fields:
    id, created_at and RECORD_FIELDS; refunds with id, amount, reason, created_at)."""
    return STATUS_EVENTS[charge.status](
        charge_id=charge.id,
        created_at=charge.created_at,
        refunds=[
            RefundState(id=r.id, amount=r.amount, reason=r.reason, created_at=r.created_at)
            for r in refunds
        ],
        **{name: getattr(charge, name) for name in RECORD_FIELDS},
    )


def charge_record(state: ChargeState) -> dict[str, Any]:
    """A charge record's fields from an event (the replica's side of charge_event)."""
    return {name: getattr(state, name) for name in RECORD_FIELDS}
