"""What other apps may ask of payments: plain functions returning dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from monolith.payments import services
from monolith.payments.models import Charge

CAPTURED = Charge.Status.CAPTURED.value
DECLINED = Charge.Status.DECLINED.value
FAILED = Charge.Status.FAILED.value


@dataclass(frozen=True)
class ChargeInfo:
    id: UUID
    status: str
    amount: Decimal
    currency: str
    failure_reason: str

    @property
    def captured(self) -> bool:
        return self.status == CAPTURED


@dataclass(frozen=True)
class RefundInfo:
    id: UUID
    charge_id: UUID
    amount: Decimal


def charge_create(
    *, user_id: int, amount: Decimal, currency: str, card_token: str, order_id: UUID | None = None
) -> ChargeInfo:
    charge = services.charge_create(
        user_id=user_id, amount=amount, currency=currency, card_token=card_token, order_id=order_id
    )
    return ChargeInfo(
        id=charge.id,
        status=charge.status,
        amount=charge.amount,
        currency=charge.currency,
        failure_reason=charge.failure_reason,
    )


def refund_create(*, charge_id: UUID, reason: str = "") -> RefundInfo:
    """Refund what is left of a charge."""
    refund = services.refund_create(charge_id=charge_id, reason=reason)
    return RefundInfo(id=refund.id, charge_id=refund.charge_id, amount=refund.amount)


def card_token_validate(*, card_token: str) -> None:
    """Raise ValidationFailed (card_token) unless the gateway knows this test card."""
    services.card_token_validate(card_token=card_token)
