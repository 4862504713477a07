"""Applying the inventory service's products and reservations to the monolith's tables
(see messaging/replication.py for the versioning rules). Nothing here publishes."""

from __future__ import annotations

from contracts.events.inventory import ProductState, ReservationState
from messaging.handlers import RetryLater
from messaging.replication import apply_version
from monolith.inventory.models import Product, Reservation, ReservationLine, Stock


def product_apply(state: ProductState, sequence: int) -> bool:
    fields = {"name": state.name, "price": state.price, "currency": state.currency}
    product = apply_version(Product, {"sku": state.sku}, sequence, fields)
    if product is None:
        return False
    Stock.objects.update_or_create(
        product=product, defaults={"on_hand": state.on_hand, "reserved": state.reserved}
    )
    return True


def reservation_apply(state: ReservationState, sequence: int) -> bool:
    skus = {line.sku for line in state.lines}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    if skus - set(products):
        raise RetryLater(
            f"reservation {state.order_id}: products {sorted(skus - set(products))} not here yet"
        )
    reservation = apply_version(
        Reservation, {"order_id": state.order_id}, sequence, {"status": state.status}
    )
    if reservation is None:
        return False
    # The writer's timestamps, not the moment this copy was made: both sides answer alike.
    Reservation.objects.filter(pk=reservation.pk).update(
        created_at=state.created_at, updated_at=state.updated_at
    )
    reservation.lines.all().delete()
    ReservationLine.objects.bulk_create(
        ReservationLine(reservation=reservation, product=products[line.sku], quantity=line.quantity)
        for line in state.lines
    )
    return True
