from django.contrib import admin

from monolith.payments.models import Charge, Refund


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    readonly_fields = ["id", "amount", "reason", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["id", "charge", "amount", "reason", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["id", "charge__id", "charge__order_id"]
    readonly_fields = ["id", "charge", "amount", "reason", "created_at"]

    def has_add_permission(self, request):
        return False
