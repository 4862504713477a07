"""The orders saga hears the answers of inventory and payments (whichever side sent them).

Loaded through CARVE_EVENT_HANDLER_MODULES (never imported by other code)."""

from __future__ import annotations

from contracts.envelope import Envelope
from contracts.events import inventory, payments
from messaging.handlers import handles
from monolith.orders import saga


@handles(inventory.StockReservedV1)
def stock_reserved(event: inventory.StockReservedV1, envelope: Envelope) -> None:
    saga.on_stock_reserved(envelope, event.order_id)


@handles(inventory.StockReservationRejectedV1)
def stock_rejected(event: inventory.StockReservationRejectedV1, envelope: Envelope) -> None:
    saga.on_stock_rejected(envelope, event.order_id)


@handles(inventory.StockCommittedV1)
def stock_committed(event: inventory.StockCommittedV1, envelope: Envelope) -> None:
    saga.on_stock_committed(envelope, event.order_id)


@handles(inventory.StockReleasedV1)
def stock_released(event: inventory.StockReleasedV1, envelope: Envelope) -> None:
    saga.on_stock_released(envelope, event.order_id)


@handles(payments.ChargeCapturedV1)
@handles(payments.ChargeDeclinedV1)
@handles(payments.ChargeFailedV1)
def charge_settled(event: payments.ChargeState, envelope: Envelope) -> None:
    saga.on_charge_settled(envelope, event)
