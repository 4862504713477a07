"""Applying the payments service's charges to the monolith's copy."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contracts.events.payments import ChargeCapturedV1, ChargeRefundedV1, RefundState
from messaging.handlers import RetryLater
from monolith.payments import replica
from monolith.payments.models import Charge

pytestmark = pytest.mark.django_db
CHARGE_ID = uuid.uuid4()
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def captured(**changes):
    fields = dict(
        charge_id=CHARGE_ID,
        user_id=7,
        order_id=None,
        amount=Decimal("20.00"),
        currency="EUR",
        status="captured",
        failure_reason="",
        refunded_amount=Decimal("0.00"),
        refunds=[],
        created_at=CREATED,
        idempotency_key="key-1",
        request_fingerprint="fp",
        card_token="tok_ok",
        gateway_reference="gw_1",
    )
    fields.update(changes)
    return fields


def test_a_charge_and_its_refund_replicate_once():
    assert replica.charge_apply(ChargeCapturedV1(**captured()), 1)
    refund = RefundState(id=uuid.uuid4(), amount=Decimal("5.00"), reason="r", created_at=CREATED)
    refunded = ChargeRefundedV1(
        **captured(status="partially_refunded", refunded_amount=Decimal("5.00"), refunds=[refund])
    )
    assert replica.charge_apply(refunded, 2)
    assert not replica.charge_apply(refunded, 2)
    charge = Charge.objects.get(pk=CHARGE_ID)
    assert (charge.status, charge.refunded_amount, charge.version) == (
        "partially_refunded",
        Decimal("5.00"),
        2,
    )
    assert charge.created_at == CREATED and charge.idempotency_key == "key-1"
    assert [r.amount for r in charge.refunds.all()] == [Decimal("5.00")]


def test_a_refund_before_its_charge_waits():
    with pytest.raises(RetryLater):
        replica.charge_apply(ChargeRefundedV1(**captured(status="refunded")), 2)
    assert not Charge.objects.exists()


def test_a_replicated_charge_is_never_published_again():
    # A copy that published the changes it applies would send them back to their origin,
    # which would apply and publish them again: a replication loop.
    from messaging.models import OutboxMessage

    assert replica.charge_apply(ChargeCapturedV1(**captured()), 1)
    refund = RefundState(id=uuid.uuid4(), amount=Decimal("20.00"), reason="r", created_at=CREATED)
    refunded = ChargeRefundedV1(
        **captured(status="refunded", refunded_amount=Decimal("20.00"), refunds=[refund])
    )
    assert replica.charge_apply(refunded, 2)
    assert Charge.objects.get(pk=CHARGE_ID).status == "refunded"
    assert not OutboxMessage.objects.exists()
