"""Applying the payments service's charges to the monolith's tables (see
messaging/replication.py for the versioning rules). Nothing here publishes."""

from __future__ import annotations

from contracts.events.payments import ChargeState, charge_record
from messaging.replication import apply_version
from monolith.payments.models import Charge, Refund


def charge_apply(state: ChargeState, sequence: int) -> bool:
    charge = apply_version(Charge, {"pk": state.charge_id}, sequence, charge_record(state))
    if charge is None:
        return False
    Charge.objects.filter(pk=charge.pk).update(created_at=state.created_at)
    known = set(charge.refunds.values_list("id", flat=True))
    for refund in state.refunds:
        if refund.id not in known:
            Refund.objects.create(
                id=refund.id, charge=charge, amount=refund.amount, reason=refund.reason
            )
            Refund.objects.filter(pk=refund.id).update(created_at=refund.created_at)
    return True
