"""Serializer fields every service agrees on, so money and currencies look the same
on every side of a migration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

MAX_AMOUNT = Decimal("1000000.00")
# The currencies the example's shop sells and its card gateway settles. A well-formed code
# outside this list ("XXX", "ABC") is refused like a malformed one: nothing can be priced,
# charged or refunded in a currency the gateway does not take.
CURRENCIES = ("CHF", "EUR", "GBP", "USD")


class MoneyField(serializers.DecimalField):
    """An amount with two decimals, sent and received as a string ("12.50")."""

    def __init__(self, *, min_value: Decimal = Decimal("0.00"), **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(min_value=min_value, **kwargs)


class CurrencyField(serializers.RegexField):
    """An ISO 4217 code of a currency the shop takes (CURRENCIES)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages", {"invalid": "Use a three-letter ISO 4217 code, e.g. EUR."}
        )
        super().__init__(r"^[A-Z]{3}\Z", max_length=3, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = str(super().to_internal_value(data))
        if code not in CURRENCIES:
            raise serializers.ValidationError(
                f"{code} is not a currency this shop takes; use one of {', '.join(CURRENCIES)}."
            )
        return code
