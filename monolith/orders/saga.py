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

The saga trusts only the replies to its own commands (messaging/replies.py): it keeps the
id of each command it sent, and a reply moves it only if it was caused by that command and
agrees with it (a charge for the order's total, currency and user); anything else that names
the order is ignored and logged. Reserving and charging expire at the saga's deadline: a
copy delivered or resumed after the saga timed out is discarded, never executed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.envelope import Envelope
from contracts.events import Command
from contracts.events import inventory as inventory_contract
from contracts.events import payments as payments_contract
from messaging import replies
from monolith.orders.models import Order, OrderSaga
from monolith.orders.transitions import Outcome, order_settle

log = logging.getLogger("carve.saga")
Step = OrderSaga.Step
PAYMENT_REASONS = {
    "declined": Order.CancelReason.PAYMENT_DECLINED,
    "failed": Order.CancelReason.PAYMENT_FAILED,
}


def _send(saga: OrderSaga, command: Command, *, until_deadline: bool = False) -> None:
    """Send `command`, remembering its id to match its replies. `until_deadline`: it is
    discarded unless executed before the saga's deadline (after it the saga has ended)."""
    saga.commands_sent += 1
    envelope = replies.send(
        command,
        sequence=saga.commands_sent,
        expires_at=saga.deadline if until_deadline else None,
    )
    saga.sent = {**saga.sent, command.TYPE: str(envelope.id)}


def _move(saga: OrderSaga, step: str) -> None:
    saga.step = step
    saga.save(update_fields=["step", "cancel_reason", "commands_sent", "sent", "updated_at"])


def _answers(saga: OrderSaga, reply: Envelope, command: type[Command]) -> bool:
    return replies.accept(reply, command_id=saga.sent.get(command.TYPE))


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
    _send(
        saga,
        inventory_contract.ReserveStockV1(order_id=order.id, lines=lines),
        until_deadline=True,
    )
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


def on_stock_reserved(reply: Envelope, order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is None or not _answers(saga, reply, inventory_contract.ReserveStockV1):
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
            until_deadline=True,
        )
        _move(saga, Step.CHARGING)
    elif saga.step == Step.TIMED_OUT:
        _send(saga, inventory_contract.ReleaseReservationV1(order_id=order.id))
        _move(saga, saga.step)


def on_stock_rejected(reply: Envelope, order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is None or not _answers(saga, reply, inventory_contract.ReserveStockV1):
        return
    if saga.step == Step.RESERVING:
        order_settle(saga.order, Outcome(False, None, Order.CancelReason.OUT_OF_STOCK))
        _move(saga, Step.DONE)


def on_charge_settled(reply: Envelope, charge: payments_contract.ChargeState) -> None:
    """A charge for the order has an outcome: it counts only if it is the one the saga
    asked for (its ChargeOrder's reply, for the order's total, currency and user)."""
    saga = _locked(charge.order_id) if charge.order_id is not None else None
    if saga is None:
        return
    order = saga.order
    if not replies.accept(
        reply,
        command_id=saga.sent.get(payments_contract.ChargeOrderV1.TYPE),
        asked={
            "order_id": order.id,
            "user_id": order.user_id,
            "amount": order.total,
            "currency": order.currency,
        },
        answered={
            "order_id": charge.order_id,
            "user_id": charge.user_id,
            "amount": charge.amount,
            "currency": charge.currency,
        },
    ):
        return
    if saga.step == Step.CHARGING:
        order.payment_id = charge.charge_id
        order.save(update_fields=["payment_id", "updated_at"])
        if charge.status == "captured":
            _send(saga, inventory_contract.CommitReservationV1(order_id=order.id))
            _move(saga, Step.COMMITTING)
        else:
            saga.cancel_reason = PAYMENT_REASONS[charge.status]
            _send(saga, inventory_contract.ReleaseReservationV1(order_id=order.id))
            _move(saga, Step.RELEASING)
    elif saga.step == Step.TIMED_OUT and charge.status == "captured":
        _send(
            saga, payments_contract.RefundOrderChargeV1(order_id=order.id, reason="order_timed_out")
        )
        _move(saga, saga.step)


def on_stock_committed(reply: Envelope, order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is None or not _answers(saga, reply, inventory_contract.CommitReservationV1):
        return
    if saga.step == Step.COMMITTING:
        order_settle(saga.order, Outcome(True, saga.order.payment_id))
        _move(saga, Step.DONE)


def on_stock_released(reply: Envelope, order_id: UUID) -> None:
    saga = _locked(order_id)
    if saga is None or not _answers(saga, reply, inventory_contract.ReleaseReservationV1):
        return
    if saga.step == Step.RELEASING:
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
            step = saga.step
            _move(saga, Step.TIMED_OUT)
            log.warning("order %s timed out while %s; cancelled", order_id, step)
            expired += 1
    return expired
