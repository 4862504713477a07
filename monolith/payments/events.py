"""payments' domain events, built from its models and written to the outbox."""

from __future__ import annotations

from contracts.events.payments import charge_event
from messaging.outbox import publish
from monolith.payments.models import Charge


def charge_changed(charge: Charge) -> None:
    """Requested, captured, declined, failed or refunded: the event follows the status."""
    refunds = list(charge.refunds.order_by("created_at", "id"))
    publish(charge_event(charge, refunds), sequence=charge.version)
