"""The inventory API: /api/inventory/products/ and reservations."""

from __future__ import annotations

from uuid import UUID

from rest_framework import serializers

from contracts.api.fields import CurrencyField, MoneyField

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z"


class StockOutput(serializers.Serializer):
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()


class ProductOutput(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    price = MoneyField()
    currency = serializers.CharField()
    stock = StockOutput()


class ProductInput(serializers.Serializer):
    sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    name = serializers.CharField(max_length=200)
    price = MoneyField()
    currency = CurrencyField()
    on_hand = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)


class StockAdjustInput(serializers.Serializer):
    delta = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000)

    def validate_delta(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")
        return value


class ReservationLineOutput(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()


class ReservationOutput(serializers.Serializer):
    order_id = serializers.UUIDField()
    status = serializers.CharField()
    lines = ReservationLineOutput(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def order_id_param(raw: str | None) -> UUID | None:
    """The ?order_id= filter, validated."""
    if raw is None:
        return None
    try:
        value: UUID = serializers.UUIDField().run_validation(raw)
        return value
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"order_id": exc.detail}) from None
