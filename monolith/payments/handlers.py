"""What the monolith's payments does with events: replicate the payments service's
charges, and run payment commands from the orders saga while it writes payments.

Loaded through CARVE_EVENT_HANDLER_MODULES (never imported by other code)."""

from __future__ import annotations

from contracts.envelope import Envelope
from contracts.events import payments as contract
from messaging.commands import execute_or_defer, handles_command
from messaging.handlers import handles
from messaging.ownership import me
from monolith.payments import replica, services
from monolith.payments.models import Charge
from servicekit.errors import Conflict


@handles(contract.ChargeRequestedV1)
@handles(contract.ChargeCapturedV1)
@handles(contract.ChargeDeclinedV1)
@handles(contract.ChargeFailedV1)
@handles(contract.ChargeRefundedV1)
def charge_changed(event: contract.ChargeState, envelope: Envelope) -> None:
    if envelope.origin != me():
        replica.charge_apply(event, envelope.sequence)


def order_key(order_id: object) -> str:
    """The Idempotency-Key of an order's charge: one charge per order, on either side."""
    return f"order:{order_id}"


@handles(contract.ChargeOrderV1)
@handles_command
def charge_order(command: contract.ChargeOrderV1, envelope: Envelope) -> None:
    def run() -> None:
        try:
            services.charge_create_idempotent(
                user_id=command.user_id,
                idempotency_key=order_key(command.order_id),
                amount=command.amount,
                currency=command.currency,
                card_token=command.card_token,
                order_id=command.order_id,
            )
        except Conflict:
            pass  # the first request for this order is still being answered: it will settle

    execute_or_defer(
        "payments",
        what=f"charge order {command.order_id}",
        run=run,
        done=lambda: (
            Charge.objects.filter(order_id=command.order_id)
            .exclude(status=Charge.Status.PENDING)
            .exists()
        ),
    )


@handles(contract.RefundOrderChargeV1)
@handles_command
def refund_order_charge(command: contract.RefundOrderChargeV1, envelope: Envelope) -> None:
    refundable = (Charge.Status.CAPTURED, Charge.Status.PARTIALLY_REFUNDED)

    def run() -> None:
        for charge in Charge.objects.filter(order_id=command.order_id, status__in=refundable):
            services.refund_create(charge_id=charge.id, reason=command.reason)

    def done() -> bool:
        charges = Charge.objects.filter(order_id=command.order_id)
        unrefunded = charges.filter(status__in=(*refundable, Charge.Status.PENDING))
        return charges.exists() and not unrefunded.exists()

    execute_or_defer("payments", what=f"refund order {command.order_id}", run=run, done=done)
