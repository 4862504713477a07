import uuid
from decimal import Decimal

from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"

    class CancelReason(models.TextChoices):
        OUT_OF_STOCK = "out_of_stock"
        PAYMENT_DECLINED = "payment_declined"
        PAYMENT_FAILED = "payment_failed"
        CUSTOMER_CANCELLED = "customer_cancelled"
        TIMEOUT = "timeout"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.BigIntegerField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    cancel_reason = models.CharField(
        max_length=32, choices=CancelReason.choices, blank=True, default=""
    )
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    payment_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["user_id", "-created_at"])]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class OrderSaga(models.Model):
    """Where an order stands while the extracted services fulfil it (see orders/saga.py).

    Persisted, so a worker restart resumes it: every step is a command sent through the
    outbox in the same transaction as the step itself, and every reply an event.
    """

    class Step(models.TextChoices):
        RESERVING = "reserving", "asked inventory to hold stock"
        CHARGING = "charging", "stock held; asked payments to charge"
        COMMITTING = "committing", "paid; asked inventory to commit the stock"
        RELEASING = "releasing", "not paid; asked inventory to release the stock"
        DONE = "done", "the order is confirmed or cancelled"
        TIMED_OUT = "timed_out", "cancelled for taking too long; undoing late answers"

    order = models.OneToOneField(
        Order, primary_key=True, related_name="saga", on_delete=models.CASCADE
    )
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.RESERVING)
    card_token = models.CharField(max_length=64)
    cancel_reason = models.CharField(max_length=32, blank=True, default="")
    commands_sent = models.PositiveIntegerField(default=0)
    # command type -> id of the last one sent: a reply counts only if it answers it
    sent = models.JSONField(default=dict, blank=True)
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["step", "deadline"], name="saga_by_step_deadline")]

    def __str__(self) -> str:
        return f"saga of order {self.order_id} ({self.step})"
