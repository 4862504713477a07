from django.contrib import admin

from messaging.admin import ReadOnlyAdmin
from monolith.orderhistory.models import OrderHistory


@admin.register(OrderHistory)
class OrderHistoryAdmin(ReadOnlyAdmin):
    list_display = [
        "order_id",
        "user_id",
        "status",
        "cancel_reason",
        "total",
        "currency",
        "payment_status",
        "refunded_amount",
        "stock_state",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "payment_status", "stock_state", "cancel_reason"]
    # A user id matches exactly (as text, so any search term is valid); ids by part.
    search_fields = ["order_id", "user_id__exact", "payment_id"]
    # A read model: events write it, `manage.py rebuild_order_history` rewrites it.
    readonly_fields = [f.name for f in OrderHistory._meta.fields]
    date_hierarchy = "created_at"
