from django.contrib import admin

from messaging.admin import ReadOnlyAdmin, ReadOnlyInline
from monolith.payments.models import Charge, Refund


class RefundInline(ReadOnlyInline):
    model = Refund
    readonly_fields = ["id", "amount", "reason", "created_at"]


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "user_id",
        "order_id",
        "amount",
        "currency",
        "status",
        "refunded_amount",
        "created_at",
    ]
    list_filter = ["status", "currency", "failure_reason", "created_at"]
    search_fields = ["id", "order_id", "user_id", "idempotency_key", "gateway_reference"]
    # Money and outcomes are records of what the gateway did: editing them would corrupt the books.
    readonly_fields = [f.name for f in Charge._meta.fields]
    inlines = [RefundInline]
    date_hierarchy = "created_at"


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "charge", "amount", "reason", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["id", "charge__id", "charge__order_id"]
    readonly_fields = ["id", "charge", "amount", "reason", "created_at"]
