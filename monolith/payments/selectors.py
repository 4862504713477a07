from uuid import UUID

from django.db.models import QuerySet

from monolith.payments.models import Charge


def charge_list(*, user_id: int) -> QuerySet[Charge]:
    return (
        Charge.objects.filter(user_id=user_id)
        .prefetch_related("refunds")
        .order_by("-created_at", "id")
    )


def charge_get(*, charge_id: UUID, user_id: int | None = None) -> Charge | None:
    charges = Charge.objects.prefetch_related("refunds").filter(pk=charge_id)
    if user_id is not None:
        charges = charges.filter(user_id=user_id)
    return charges.first()
