"""The orchestrated saga that fulfils an order when inventory or payments is written by
an extracted service: reserve stock, charge, commit; on a refusal, release and cancel.

    reserving --StockReserved--> charging --ChargeCaptured--> committing --StockCommitted--> done
        |                          |--ChargeDeclined/Failed--> releasing --StockReleased--> done
        |--StockReservationRejected--> done (cancelled: out_of_stock)
    reserving/charging past the deadline --> timed_out (cancelled, timeout): stock held or
        money taken by a late answer is given back when that answer arrives.

Each step is saved with the command it sends (outbox, one transaction); each reply is an
event handled exactly once (inbox). Committing and releasing never time out: the money or
the decision is already there, so the saga waits for inventory to come back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.events import Command
from contracts.events import inventory as inventory_contract
from contracts.events import payments as payments_contract
from messaging.outbox import publish
from monolith.orders.models import Order, OrderSaga
from monolith.orders.transitions import Outcome, order_settle

log = logging.getLogger("carve.saga")
Step = OrderSaga.Step
PAYMENT_REASONS = {
    "declined": Order.CancelReason.PAYMENT_DECLINED,
    "failed": Order.CancelReason.PAYMENT_FAILED,
}


def _send(saga: OrderSaga, command: Command) -> None:
    saga.commands_sent += 1
    publish(command, sequence=saga.commands_sent)


def _move(saga: OrderSaga, step: str) -> None:
    saga.step = step
    saga.save(update_fields=["step", "cancel_reason", "commands_sent", "updated_at"])


def start(order: Order, card_token: str) -> None:
    """Begin fulfilling a pending order (inside the transaction that created it)."""
    saga = OrderSaga.objects.create(
        order=order,
        card_token=card_token,
        deadline=timezone.now() + timedelta(seconds=settings.CARVE_SAGA_TIMEOUT_SECONDS),
    )
    lines = [
        inventory_contract.ReservationLine(sku=line.sku, quantity=line.quantity)
        for line in order.lines.all()
    ]
    _send(saga, inventory_contract.ReserveStockV1(order_id=order.id, lines=lines))
    _move(saga, Step.RESERVING)


def undo(order: Order) -> None:
    """A confirmed order is cancelled: refund it and put its stock back."""
    saga, _ = OrderSaga.objects.get_or_create(
        order=order, defaults={"step": Step.DONE, "card_token": "", "deadline": timezone.now()}
    )
    _send(saga, payments_contract.RefundOrderChargeV1(order_id=order.id, reason="order_cancelled"))
    _send(saga, inventory_contract.ReturnReservationV1(order_id=order.id))
    _move(saga, saga.step)


def _locked(order_id: UUID) -> OrderSaga | None:
    return (
        OrderSaga.objects.select_for_update()
        .select_related("order")
        .filter(order_id=order_id)
        .first()
    )


def on_stock_reserved(order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is None:
        return
    order = saga.order
    if saga.step == Step.RESERVING:
        _send(
            saga,
            payments_contract.ChargeOrderV1(
                order_id=order.id,
                user_id=order.user_id,
                amount=order.total,
                currency=order.currency,
                card_token=saga.card_token,
            ),
        )
        _move(saga, Step.CHARGING)
    elif saga.step == Step.TIMED_OUT:
        _send(saga, inventory_contract.ReleaseReservationV1(order_id=order.id))
        _move(saga, saga.step)


def on_stock_rejected(order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is not None and saga.step == Step.RESERVING:
        order_settle(saga.order, Outcome(False, None, Order.CancelReason.OUT_OF_STOCK))
        _move(saga, Step.DONE)


def on_charge_settled(order_id: UUID, charge_id: UUID, status: str) -> None:
    saga = _locked(order_id)
    if saga is None:
        return
    order = saga.order
    if saga.step == Step.CHARGING:
        order.payment_id = charge_id
        order.save(update_fields=["payment_id", "updated_at"])
        if status == "captured":
            _send(saga, inventory_contract.CommitReservationV1(order_id=order.id))
            _move(saga, Step.COMMITTING)
        else:
            saga.cancel_reason = PAYMENT_REASONS[status]
            _send(saga, inventory_contract.ReleaseReservationV1(order_id=order.id))
            _move(saga, Step.RELEASING)
    elif saga.step == Step.TIMED_OUT and status == "captured":
        _send(
            saga, payments_contract.RefundOrderChargeV1(order_id=order.id, reason="order_timed_out")
        )
        _move(saga, saga.step)


def on_stock_committed(order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is not None and saga.step == Step.COMMITTING:
        order_settle(saga.order, Outcome(True, saga.order.payment_id))
        _move(saga, Step.DONE)


def on_stock_released(order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is not None and saga.step == Step.RELEASING:
        order_settle(saga.order, Outcome(False, saga.order.payment_id, saga.cancel_reason))
        _move(saga, Step.DONE)


def sweep() -> int:
    """Cancel orders whose stock or charge has not answered in time (a periodic job)."""
    expired = 0
    due = OrderSaga.objects.filter(
        step__in=(Step.RESERVING, Step.CHARGING), deadline__lt=timezone.now()
    )
    for order_id in due.values_list("order_id", flat=True)[:200]:
        with transaction.atomic():
            saga = _locked(order_id)
            if saga is None or saga.step not in (Step.RESERVING, Step.CHARGING):
                continue
            if saga.step == Step.CHARGING:  # stock is held: give it back now
                _send(saga, inventory_contract.ReleaseReservationV1(order_id=order_id))
            order_settle(
                saga.order, Outcome(False, saga.order.payment_id, Order.CancelReason.TIMEOUT)
            )
            _move(saga, Step.TIMED_OUT)
            log.warning("order %s timed out while %s; cancelled", order_id, saga.step)
            expired += 1
    return expired
