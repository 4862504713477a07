from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from messaging.admin import ReadOnlyAdmin, ReadOnlyInline
from monolith.orders import services
from monolith.orders.models import Order, OrderLine, OrderSaga
from servicekit.errors import DomainError


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    readonly_fields = ["sku", "name", "quantity", "unit_price"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "user_id", "status", "cancel_reason", "total", "currency", "created_at"]
    list_filter = ["status", "cancel_reason", "currency", "created_at"]
    search_fields = ["id", "user_id", "payment_id", "lines__sku"]
    # Status and money move only through services, which keep stock and payments in step.
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [OrderLineInline]
    date_hierarchy = "created_at"
    actions = ["cancel"]

    @admin.action(description="Cancel the selected orders (refund and return the stock)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        cancelled = 0
        for order in queryset:
            try:
                services.order_cancel(user_id=order.user_id, order_id=order.id)
            except DomainError as error:
                self.message_user(request, f"Order {order.id}: {error}", messages.WARNING)
            else:
                cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} order(s).", messages.SUCCESS)


@admin.register(OrderSaga)
class OrderSagaAdmin(ReadOnlyAdmin):
    """Where each order stands while the extracted services fulfil it."""

    list_display = ["order_id", "step", "cancel_reason", "commands_sent", "deadline", "updated_at"]
    list_filter = ["step", "cancel_reason"]
    search_fields = ["order__id"]
    readonly_fields = [f.name for f in OrderSaga._meta.fields if f.name != "card_token"]
    exclude = ["card_token"]
