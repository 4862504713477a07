"""Writing the order history: folding events into rows, live and in a rebuild.

Events of one order come from three aggregates (the order, its charge, its stock
reservation), each with its own sequence, in any relative order and possibly more than
once. `fold` applies an aggregate's event only when it is newer than what the row holds,
and every field of a row depends on the newest event of one aggregate only (the order's
fields on the order's, the payment fields on the charge's, the stock state on the
reservation's; `updated_at` is the latest time of an event that changed the row), so any
arrival order of the same events gives the same row. The live handlers and the rebuild
both go through `fold`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.events import Event
from contracts.events import inventory as inventory_events
from contracts.events import orders as order_events
from contracts.events import payments as payment_events
from contracts.registry import UnknownEventType, UnknownSchemaVersion, event_class
from messaging.consumer import consumer_name
from messaging.models import InboxMessage
from monolith.orderhistory.models import OrderHistory

ORDER_EVENTS: tuple[type[order_events.OrderState], ...] = (
    order_events.OrderPlacedV1,
    order_events.OrderConfirmedV1,
    order_events.OrderCancelledV1,
)
CHARGE_EVENTS: tuple[type[payment_events.ChargeState], ...] = (
    payment_events.ChargeRequestedV1,
    payment_events.ChargeCapturedV1,
    payment_events.ChargeDeclinedV1,
    payment_events.ChargeFailedV1,
    payment_events.ChargeRefundedV1,
)
RESERVATION_EVENTS: tuple[type[inventory_events.ReservationState], ...] = (
    inventory_events.StockReservedV1,
    inventory_events.StockReleasedV1,
    inventory_events.StockCommittedV1,
    inventory_events.StockReturnedV1,
    inventory_events.StockReservationRejectedV1,
)
HISTORY_EVENTS: tuple[type[Event], ...] = ORDER_EVENTS + CHARGE_EVENTS + RESERVATION_EVENTS

# A charge still waiting for the gateway is "pending" in payments, "requested" here.
PAYMENT_STATUS = {"pending": OrderHistory.PaymentStatus.REQUESTED}
CENT = Decimal("0.01")


def order_of(event: Event) -> uuid.UUID | None:
    """The order an event is about; None for a charge that is not for an order."""
    if isinstance(
        event,
        order_events.OrderState | payment_events.ChargeState | inventory_events.ReservationState,
    ):
        return event.order_id
    raise TypeError(f"{type(event).__name__} is not an order history event")


def _fold_order(row: OrderHistory, event: order_events.OrderState, sequence: int) -> bool:
    if sequence <= row.order_version:
        return False
    row.order_version = sequence
    row.user_id = event.user_id
    row.status = event.status
    row.cancel_reason = event.cancel_reason[:32]
    row.total = event.total
    row.currency = event.currency
    row.lines = [
        {
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": str(line.unit_price.quantize(CENT)),
        }
        for line in event.lines
    ]
    row.line_count = len(event.lines)
    row.created_at = event.created_at
    if not row.charge_version:  # a charge's own events know its id best
        row.payment_id = event.payment_id
    return True


def _fold_charge(row: OrderHistory, event: payment_events.ChargeState, sequence: int) -> bool:
    if row.charge_version and row.payment_id != event.charge_id:
        # Another charge for the same order: the later one (by creation, then id) wins,
        # whichever arrives first.
        held = row.charge_created_at
        if held is not None and (event.created_at, str(event.charge_id)) <= (
            held,
            str(row.payment_id),
        ):
            return False
    elif sequence <= row.charge_version:
        return False
    row.charge_version = sequence
    row.payment_id = event.charge_id
    row.charge_created_at = event.created_at
    row.payment_status = PAYMENT_STATUS.get(event.status, event.status)
    row.payment_failure_reason = event.failure_reason[:64]
    row.refunded_amount = event.refunded_amount
    if not row.order_version:  # the order's own event says whose it is, once it arrives
        row.user_id = event.user_id
    return True


def _fold_reservation(
    row: OrderHistory, event: inventory_events.ReservationState, sequence: int
) -> bool:
    if sequence <= row.reservation_version:
        return False
    row.reservation_version = sequence
    row.stock_state = event.status
    return True


def fold(row: OrderHistory, event: Event, envelope: Envelope) -> bool:
    """Apply one event to its order's row in memory; True when the row changed.

    `updated_at` becomes the event's time when the event is newer than what the row holds
    of its aggregate (and later than the current value): a stale event changes nothing.
    """
    if isinstance(event, order_events.OrderState):
        changed = _fold_order(row, event, envelope.sequence)
    elif isinstance(event, payment_events.ChargeState):
        changed = _fold_charge(row, event, envelope.sequence)
    elif isinstance(event, inventory_events.ReservationState):
        changed = _fold_reservation(row, event, envelope.sequence)
    else:
        raise TypeError(f"{type(event).__name__} is not an order history event")
    if changed and envelope.occurred_at > row.updated_at:
        row.updated_at = envelope.occurred_at
    return changed


def _locked_row(order_id: uuid.UUID, envelope: Envelope) -> OrderHistory:
    """The order's row, locked until the caller's transaction ends; created if missing.

    Two events of a new order may be applied at once by two workers: the insert that
    loses the race does nothing, and both then take the one row's lock in turn.
    """
    rows = OrderHistory.objects.select_for_update()
    row = rows.filter(order_id=order_id).first()
    if row is None:
        OrderHistory.objects.bulk_create(
            [OrderHistory(order_id=order_id, updated_at=envelope.occurred_at)],
            ignore_conflicts=True,
        )
        row = rows.get(order_id=order_id)
    return row


def order_history_apply(*, event: Event, envelope: Envelope) -> None:
    """Apply one event of an order, its charge or its reservation to the order's row.

    Runs inside the consumer's transaction; stale and repeated events change nothing.
    """
    order_id = order_of(event)
    if order_id is None:
        return
    with transaction.atomic():
        row = _locked_row(order_id, envelope)
        if fold(row, event, envelope):
            row.save()


# ------------------------------------------------------------------ rebuild
class RebuildError(Exception):
    """The retained events cannot be replayed; nothing was changed."""


@dataclass(frozen=True)
class RebuildReport:
    events: int
    rows: int


_FIELDS = [f.name for f in OrderHistory._meta.concrete_fields if not f.primary_key]


def _parse(inbox_id: int, raw: str) -> tuple[Event, Envelope]:
    try:
        envelope = Envelope.from_json(raw)
    except ValidationError as exc:
        raise RebuildError(f"inbox row {inbox_id} is not an event envelope: {exc}") from None
    try:
        cls = event_class(envelope.type, envelope.version)
    except (UnknownEventType, UnknownSchemaVersion) as exc:
        raise RebuildError(
            f"inbox row {inbox_id} holds {envelope.type} v{envelope.version}, which this "
            f"code cannot read ({exc}); upgrade the contracts package and run it again"
        ) from None
    try:
        return cls.model_validate(envelope.data), envelope
    except ValidationError as exc:
        raise RebuildError(
            f"inbox row {inbox_id} ({envelope.type} v{envelope.version}) does not match "
            f"its schema: {exc}"
        ) from None


def _apply_batch(items: Iterable[tuple[Event, Envelope]]) -> None:
    """Fold a batch of events into their rows: one read, one insert, one update."""
    parsed = [(order_of(event), event, envelope) for event, envelope in items]
    wanted = {order_id for order_id, _, _ in parsed if order_id is not None}
    existing = OrderHistory.objects.in_bulk(list(wanted))
    new: dict[uuid.UUID, OrderHistory] = {}
    changed: dict[uuid.UUID, OrderHistory] = {}
    for order_id, event, envelope in parsed:
        if order_id is None:
            continue
        row = existing.get(order_id) or new.get(order_id)
        if row is None:
            row = new[order_id] = OrderHistory(order_id=order_id, updated_at=envelope.occurred_at)
        if fold(row, event, envelope) and order_id in existing:
            changed[order_id] = row
    OrderHistory.objects.bulk_create(new.values())
    OrderHistory.objects.bulk_update(changed.values(), _FIELDS)


def _lock_table() -> None:
    """Hold off live writers until the rebuild commits (PostgreSQL); readers still see the
    old rows meanwhile. SQLite's single writer lock does the same once the rebuild writes."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(OrderHistory._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")


def order_history_rebuild(
    *,
    batch_size: int = 500,
    progress_every: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Empty the order history and replay every retained event of its types.

    The events are those this service's consumer applied and kept in its inbox, replayed
    in the order they were processed, `batch_size` at a time; `progress(n)` is called
    each time the count passes a multiple of `progress_every`. One transaction: a failure
    leaves the old rows, and live events wait for the rebuild, then apply on top of it.
    """
    types = [cls.TYPE for cls in HISTORY_EVENTS]
    inbox = InboxMessage.objects.filter(consumer=consumer_name(), event_type__in=types)
    replayed = 0
    with transaction.atomic():
        _lock_table()
        OrderHistory.objects.all().delete()
        after = 0
        while True:
            batch = list(
                inbox.filter(id__gt=after).order_by("id").values_list("id", "envelope")[:batch_size]
            )
            if not batch:
                break
            _apply_batch(_parse(inbox_id, raw) for inbox_id, raw in batch)
            before, replayed = replayed, replayed + len(batch)
            if progress is not None and replayed // progress_every > before // progress_every:
                progress(replayed)
            after = batch[-1][0]
        rows = OrderHistory.objects.count()
    return RebuildReport(events=replayed, rows=rows)
