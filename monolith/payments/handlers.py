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


@handles(contract.ChargeRequestedV1)
@handles(contract.ChargeCapturedV1)
@handles(contract.ChargeDeclinedV1)
@handles(contract.ChargeFailedV1)
@handles(contract.ChargeRefundedV1)
def charge_changed(event: contract.ChargeState, envelope: Envelope) -> None:
    if envelope.origin != me():
        replica.charge_apply(event, envelope.sequence)


@handles(contract.ChargeOrderV1)
@handles_command
def charge_order(command: contract.ChargeOrderV1, envelope: Envelope) -> None:
    # A Conflict is not swallowed: "still in progress" is retried until the first request
    # settles (its answer is then this command's answer); "key used with another request"
    # cannot happen in order_key's space unless two different commands charge one order,
    # and is dead-lettered for a person to see (the saga times out and undoes the order).
    def run() -> None:
        services.charge_create_idempotent(
            user_id=command.user_id,
            idempotency_key=services.order_key(command.order_id),
            amount=command.amount,
            currency=command.currency,
            card_token=command.card_token,
            order_id=command.order_id,
        )

    execute_or_defer(
        "payments",
        what=f"charge order {command.order_id}",
        run=run,
        done=lambda: (
            Charge.objects.filter(
                user_id=command.user_id, idempotency_key=services.order_key(command.order_id)
            )
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
