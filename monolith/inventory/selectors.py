from uuid import UUID

from django.db.models import QuerySet

from monolith.inventory.models import Product, Reservation


def product_list(*, search: str = "") -> QuerySet[Product]:
    products = Product.objects.select_related("stock").order_by("sku")
    if search:
        products = products.filter(name__icontains=search) | products.filter(sku__icontains=search)
    return products


def product_get(*, sku: str) -> Product | None:
    return Product.objects.select_related("stock").filter(sku=sku).first()


def products_by_sku(*, skus: list[str]) -> dict[str, Product]:
    return {p.sku: p for p in Product.objects.select_related("stock").filter(sku__in=skus)}


def reservation_list(*, order_id: UUID | None = None) -> QuerySet[Reservation]:
    reservations = Reservation.objects.prefetch_related("lines__product").order_by(
        "-created_at", "id"
    )
    if order_id:
        reservations = reservations.filter(order_id=order_id)
    return reservations


def reservation_get(*, order_id: UUID) -> Reservation | None:
    return Reservation.objects.prefetch_related("lines__product").filter(order_id=order_id).first()
