"""The order history read model: one denormalised row per order.

Written only by services.order_history_apply (fed by events, see handlers.py) and by
the rebuild; never by request handling.
"""

from decimal import Decimal

from django.db import models


class OrderHistory(models.Model):
    """An order with its payment and stock state, as the events of three aggregates tell it.

    `order_version`, `charge_version` and `reservation_version` are the last sequence
    applied from each aggregate (0: none yet), so an older or repeated event never
    overwrites newer data. A row may exist before its order's own event has arrived
    (`order_version` 0): the order's fields are filled in when it does.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"

    class PaymentStatus(models.TextChoices):
        REQUESTED = "requested"
        CAPTURED = "captured"
        DECLINED = "declined"
        FAILED = "failed"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"

    class StockState(models.TextChoices):
        ACTIVE = "active", "held for the order"
        COMMITTED = "committed", "taken out of stock"
        RELEASED = "released", "held, then let go"
        RETURNED = "returned", "taken, then put back"
        REJECTED = "rejected", "not enough stock: nothing held"

    order_id = models.UUIDField(primary_key=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, blank=True, default="")
    cancel_reason = models.CharField(max_length=32, blank=True, default="")
    total = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    lines = models.JSONField(default=list, help_text="sku, name, quantity, unit_price")
    line_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(null=True, blank=True, help_text="when the order was placed")

    payment_id = models.UUIDField(null=True, blank=True)
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, blank=True, default=""
    )
    payment_failure_reason = models.CharField(max_length=64, blank=True, default="")
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    charge_created_at = models.DateTimeField(
        null=True, blank=True, help_text="ranks charges should an order have several"
    )

    stock_state = models.CharField(
        max_length=16, choices=StockState.choices, blank=True, default=""
    )

    order_version = models.PositiveIntegerField(default=0)
    charge_version = models.PositiveIntegerField(default=0)
    reservation_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(help_text="the latest event time seen for this order")

    class Meta:
        verbose_name = "order history"
        verbose_name_plural = "order history"
        ordering = ["-created_at", "order_id"]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="orderhistory_by_user"),
            models.Index(fields=["status"], name="orderhistory_by_status"),
            models.Index(fields=["payment_status"], name="orderhistory_by_payment"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.status or 'not yet placed'})"
