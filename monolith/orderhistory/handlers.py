"""The order history hears every change of an order, its charge and its stock reservation,
whichever side made it (origin monolith, payments or inventory).

Loaded through CARVE_EVENT_HANDLER_MODULES (never imported by other code). Not ordered:
the row keeps the last sequence it applied per aggregate and ignores older ones itself.
"""

from __future__ import annotations

from contracts.envelope import Envelope
from contracts.events import inventory, orders, payments
from messaging.handlers import handles
from monolith.orderhistory import services


@handles(orders.OrderPlacedV1)
@handles(orders.OrderConfirmedV1)
@handles(orders.OrderCancelledV1)
def order_changed(event: orders.OrderState, envelope: Envelope) -> None:
    services.order_history_apply(event=event, envelope=envelope)


@handles(payments.ChargeRequestedV1)
@handles(payments.ChargeCapturedV1)
@handles(payments.ChargeDeclinedV1)
@handles(payments.ChargeFailedV1)
@handles(payments.ChargeRefundedV1)
def charge_changed(event: payments.ChargeState, envelope: Envelope) -> None:
    services.order_history_apply(event=event, envelope=envelope)


@handles(inventory.StockReservedV1)
@handles(inventory.StockReleasedV1)
@handles(inventory.StockCommittedV1)
@handles(inventory.StockReturnedV1)
@handles(inventory.StockReservationRejectedV1)
def reservation_changed(event: inventory.ReservationState, envelope: Envelope) -> None:
    services.order_history_apply(event=event, envelope=envelope)
