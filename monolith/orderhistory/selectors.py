from django.db.models import QuerySet

from monolith.orderhistory.models import OrderHistory


def order_history_list(*, user_id: int, status: str | None = None) -> QuerySet[OrderHistory]:
    """A user's orders, newest first; only those whose own event has arrived (a row made by
    an early charge or reservation event has no order fields yet)."""
    rows = OrderHistory.objects.filter(user_id=user_id, order_version__gt=0)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "order_id")
