"""Applying the inventory service's events to the monolith's copy (and, generated, the
other way round): next version applied, stale or repeated skipped, early ones wait."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contracts.events.inventory import ReservationLine, StockChangedV1, StockReservedV1
from messaging.handlers import RetryLater
from messaging.models import OutboxMessage
from monolith.inventory import replica
from monolith.inventory.models import Product, Reservation, Stock

pytestmark = pytest.mark.django_db


def state(on_hand: int, reserved: int = 0, name: str = "Lamp") -> StockChangedV1:
    return StockChangedV1(
        sku="REP-1",
        name=name,
        price=Decimal("9.50"),
        currency="EUR",
        on_hand=on_hand,
        reserved=reserved,
        reason="adjusted",
    )


def copy():
    product = Product.objects.get(sku="REP-1")
    stock = Stock.objects.get(product=product)
    return product.version, product.name, stock.on_hand, stock.reserved


def test_versions_apply_in_order_and_repeats_are_no_ops():
    assert replica.product_apply(state(10), 1)
    assert replica.product_apply(state(8, 2, name="Lamp II"), 2)
    assert not replica.product_apply(state(10), 1)  # stale
    assert not replica.product_apply(state(8, 2), 2)  # repeated
    assert copy() == (2, "Lamp II", 8, 2)


def test_an_early_version_waits_for_the_missing_one():
    replica.product_apply(state(10), 1)
    with pytest.raises(RetryLater, match="version 3 arrived before 2"):
        replica.product_apply(state(5), 3)
    assert copy() == (1, "Lamp", 10, 0)
    replica.product_apply(state(7), 2)
    replica.product_apply(state(5), 3)
    assert copy() == (3, "Lamp", 5, 0)


def test_a_first_event_that_is_not_version_one_waits_for_a_backfill():
    with pytest.raises(RetryLater):
        replica.product_apply(state(10), 4)
    assert not Product.objects.exists()


def test_reservations_replace_their_lines_and_wait_for_unknown_products():
    order_id = uuid.uuid4()
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    reserved = StockReservedV1(
        order_id=order_id,
        status="active",
        lines=[ReservationLine(sku="REP-1", quantity=2)],
        created_at=when,
        updated_at=when,
    )
    with pytest.raises(RetryLater, match="not here yet"):
        replica.reservation_apply(reserved, 1)
    replica.product_apply(state(10), 1)
    assert replica.reservation_apply(reserved, 1)
    reservation = Reservation.objects.get(order_id=order_id)
    assert reservation.created_at == reservation.updated_at == when  # the writer's, not now
    assert [(ln.product.sku, ln.quantity) for ln in reservation.lines.all()] == [("REP-1", 2)]
    assert not replica.reservation_apply(reserved, 1)
    assert reservation.lines.count() == 1


def test_a_replicated_change_is_never_published_again():
    # A copy that published the changes it applies would send them back to their origin,
    # which would apply and publish them again: a replication loop.
    replica.product_apply(state(10), 1)
    replica.product_apply(state(8, 2), 2)
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    reserved = StockReservedV1(
        order_id=uuid.uuid4(),
        status="active",
        lines=[ReservationLine(sku="REP-1", quantity=2)],
        created_at=when,
        updated_at=when,
    )
    assert replica.reservation_apply(reserved, 1)
    assert copy() == (2, "Lamp", 8, 2)
    assert not OutboxMessage.objects.exists()
