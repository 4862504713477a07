from uuid import UUID

from django.db.models import QuerySet

from monolith.orders.models import Order


def order_list(*, user_id: int, status: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.filter(user_id=user_id).prefetch_related("lines")
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-created_at", "id")


def order_get(*, order_id: UUID, user_id: int | None = None) -> Order | None:
    orders = Order.objects.prefetch_related("lines").filter(pk=order_id)
    if user_id is not None:
        orders = orders.filter(user_id=user_id)
    return orders.first()
