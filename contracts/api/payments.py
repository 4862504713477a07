"""The payments API: /api/payments/charges/ and their refunds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from contracts.api.fields import CurrencyField, MoneyField

IDEMPOTENCY_HEADER = "Idempotency-Key"


class RefundOutput(serializers.Serializer):
    id = serializers.UUIDField()
    amount = MoneyField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class ChargeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    order_id = serializers.UUIDField(allow_null=True)
    amount = MoneyField()
    currency = serializers.CharField()
    status = serializers.CharField()
    failure_reason = serializers.CharField()
    refunded_amount = MoneyField()
    refunds = RefundOutput(many=True)
    created_at = serializers.DateTimeField()


class ChargeInput(serializers.Serializer):
    amount = MoneyField(min_value=Decimal("0.01"))
    currency = CurrencyField()
    card_token = serializers.CharField(max_length=64)
    order_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Always null: an order is paid when it is placed (POST /api/orders/).",
    )

    def validate_order_id(self, value: Any) -> None:
        # An order's charge is made by the order itself (its saga, or in-process), for its
        # total, by its user: a charge a caller makes can pay no order, theirs or another's.
        if value is not None:
            raise serializers.ValidationError(
                "A charge cannot pay an order: an order is paid when it is placed "
                "(POST /api/orders/). Leave order_id out."
            )
        return None


class RefundInput(serializers.Serializer):
    amount = MoneyField(min_value=Decimal("0.01"), required=False, default=None, allow_null=True)
    reason = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


def idempotency_key(headers: Any) -> str | None:
    """The Idempotency-Key header, validated; None when absent."""
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise serializers.ValidationError(
            {IDEMPOTENCY_HEADER: ["Must be 1 to 255 printable characters, e.g. a UUID."]}
        )
    return str(key)
