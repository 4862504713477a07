from django.contrib import admin
from django.http import HttpRequest

from monolith.orders.models import Order, OrderLine, OrderSaga


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["sku", "name", "quantity", "unit_price"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "user_id", "status", "cancel_reason", "total", "currency", "created_at"]
    list_filter = ["status", "cancel_reason", "currency", "created_at"]
    search_fields = ["id", "user_id", "payment_id", "lines__sku"]
    # Status and money move only through services, which keep stock and payments in step.
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [OrderLineInline]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False


@admin.register(OrderSaga)
class OrderSagaAdmin(admin.ModelAdmin):
    """Where each order stands while the extracted services fulfil it."""

    list_display = ["order_id", "step", "cancel_reason", "commands_sent", "deadline", "updated_at"]
    list_filter = ["step", "cancel_reason"]
    search_fields = ["order__id"]
    readonly_fields = [f.name for f in OrderSaga._meta.fields if f.name != "card_token"]
    exclude = ["card_token"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
