import uuid

from django.db import models


class Charge(models.Model):
    """One attempt to take money from a card, with its outcome."""

    class Status(models.TextChoices):
        PENDING = "pending"  # the gateway has not answered yet (idempotent requests only)
        CAPTURED = "captured"
        DECLINED = "declined"
        FAILED = "failed"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.BigIntegerField(db_index=True)
    order_id = models.UUIDField(null=True, blank=True, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    card_token = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices)
    failure_reason = models.CharField(max_length=64, blank=True, default="")
    gateway_reference = models.CharField(max_length=64, blank=True, default="")
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # NULL, not "": charges without a key must not collide in the unique constraint below.
    # "api:<the caller's key>" or "order:<order id>" (services.caller_key, order_key)
    idempotency_key = models.CharField(max_length=260, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="one_charge_per_idempotency_key",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="charge_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0)
                & models.Q(refunded_amount__lte=models.F("amount")),
                name="refund_within_charge",
            ),
        ]

    def __str__(self) -> str:
        return f"charge {self.id} {self.amount} {self.currency} ({self.status})"


class Refund(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    charge = models.ForeignKey(Charge, related_name="refunds", on_delete=models.PROTECT)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")
        ]

    def __str__(self) -> str:
        return f"refund {self.id} of {self.amount}"
