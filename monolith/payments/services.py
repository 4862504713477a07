"""The only code that writes payments.

Every charge first commits a `pending` row (and its ChargeRequested event) as the owner of
payments, then asks the gateway, then records the answer. With an Idempotency-Key the
pending row sits under a unique (user, key) constraint. A concurrent or later request with
the same key hits the constraint, waits for the first to settle and returns its result,
so the card is charged once. The same key with a different request body is a 409.

Keys live in two spaces that cannot meet: an API caller's key is stored as "api:<key>"
(caller_key), the key of an order's charge, which the orders saga uses, as "order:<id>"
(order_key). No request can take, or collide with, the key of an order's charge.

A charge that pays an order is refunded only through the order (cancelling it refunds
the charge and returns the stock): a customer's refund of it is a 409 charge_pays_order.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging import ownership
from monolith.payments import events
from monolith.payments.models import Charge, Refund
from servicekit import fakegateway as gateway
from servicekit.errors import Conflict, NotFound, ValidationFailed

STALE_PENDING = timedelta(minutes=5)


def card_token_validate(*, card_token: str) -> None:
    if card_token not in gateway.CARD_TOKENS:
        known = ", ".join(sorted(gateway.CARD_TOKENS))
        raise ValidationFailed(
            {"card_token": [f"Unknown test card {card_token!r}; use one of {known}."]}
        )


def caller_key(key: str) -> str:
    """Where an API caller's Idempotency-Key is kept: the callers' own key space."""
    return f"api:{key}"


def order_key(order_id: object) -> str:
    """The key of an order's charge: one charge per order, on either side, in a key space
    no API caller can write (see caller_key)."""
    return f"order:{order_id}"


def _apply_gateway_result(charge: Charge, result: gateway.GatewayResult) -> None:
    if result.outcome == gateway.APPROVED:
        charge.status = Charge.Status.CAPTURED
    elif result.outcome == gateway.DECLINED:
        charge.status = Charge.Status.DECLINED
    else:
        charge.status = Charge.Status.FAILED
    charge.failure_reason = result.reason
    charge.gateway_reference = result.reference


def _request(
    *,
    user_id: int,
    amount: Decimal,
    currency: str,
    card_token: str,
    order_id: UUID | None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Charge:
    """Record, as the owner of payments, that the gateway is being asked (pending)."""
    with transaction.atomic():
        ownership.ensure_owner("payments")
        charge = Charge.objects.create(
            user_id=user_id,
            order_id=order_id,
            amount=amount,
            currency=currency,
            card_token=card_token,
            status=Charge.Status.PENDING,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        events.charge_changed(charge)
    return charge


def _settle(charge: Charge, result: gateway.GatewayResult) -> Charge:
    """Record the gateway's answer. This completes a request this side started, so it is
    written even if payments changed hands meanwhile: the answer replicates like any event."""
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(pk=charge.pk)
        if charge.status == Charge.Status.PENDING:
            _apply_gateway_result(charge, result)
            charge.version += 1
            charge.save()
            events.charge_changed(charge)
    return charge


def charge_create(
    *,
    user_id: int,
    amount: Decimal,
    currency: str,
    card_token: str,
    order_id: UUID | None = None,
) -> Charge:
    """Charge a card once; the outcome (captured, declined, failed) is on the charge."""
    card_token_validate(card_token=card_token)
    charge = _request(
        user_id=user_id, amount=amount, currency=currency, card_token=card_token, order_id=order_id
    )
    result = gateway.gateway_charge(card_token=card_token, amount=amount, currency=currency)
    return _settle(charge, result)


def _fingerprint(**fields: object) -> str:
    canonical = json.dumps({k: str(v) for k, v in fields.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _settled(user_id: int, idempotency_key: str, fingerprint: str) -> Charge:
    """The charge first made with this key, once it has left `pending`."""
    deadline = time.monotonic() + settings.CARVE_GATEWAY_SLOW_SECONDS + 10
    while True:
        charge = Charge.objects.get(user_id=user_id, idempotency_key=idempotency_key)
        if charge.request_fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request; use a new key.",
                code="idempotency_key_reused",
            )
        if charge.status != Charge.Status.PENDING:
            return charge
        if timezone.now() - charge.created_at > STALE_PENDING and ownership.is_owner("payments"):
            # The first request died between recording the request and the gateway's answer.
            _settle(charge, gateway.GatewayResult(gateway.ERROR, "interrupted", ""))
            continue
        if time.monotonic() > deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry shortly.",
                code="idempotent_request_in_progress",
            )
        time.sleep(0.05)


def charge_create_idempotent(
    *,
    user_id: int,
    idempotency_key: str,
    amount: Decimal,
    currency: str,
    card_token: str,
    order_id: UUID | None = None,
) -> tuple[Charge, bool]:
    """Like charge_create, but a retried request returns the first result.

    Returns the charge and whether it is a replay of an earlier request.
    """
    card_token_validate(card_token=card_token)
    fingerprint = _fingerprint(
        amount=amount, currency=currency, card_token=card_token, order_id=order_id
    )
    try:
        charge = _request(
            user_id=user_id,
            amount=amount,
            currency=currency,
            card_token=card_token,
            order_id=order_id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    except IntegrityError:
        return _settled(user_id, idempotency_key, fingerprint), True
    result = gateway.gateway_charge(card_token=card_token, amount=amount, currency=currency)
    return _settle(charge, result), False


def refund_create(*, charge_id: UUID, amount: Decimal | None = None, reason: str = "") -> Refund:
    """Give back part or all of a captured charge (all of what is left by default).

    The system's own refunds: an order's compensation (cancelled, timed out)."""
    with transaction.atomic():
        return _refund(_refundable(charge_id, user_id=None), amount, reason)


def refund_request(
    *, user_id: int, charge_id: UUID, amount: Decimal | None = None, reason: str = ""
) -> Refund:
    """A customer's refund of one of their charges; one that pays an order is a 409
    (charge_pays_order): the order is cancelled instead, which refunds it and returns
    the stock, so money and goods never part."""
    with transaction.atomic():
        charge = _refundable(charge_id, user_id=user_id)
        if charge.order_id is not None:
            raise Conflict(
                f"Charge {charge_id} pays order {charge.order_id}; cancel the order "
                f"(POST /api/orders/{charge.order_id}/cancel/) to refund it.",
                code="charge_pays_order",
                order_id=str(charge.order_id),
            )
        return _refund(charge, amount, reason)


def _refundable(charge_id: UUID, *, user_id: int | None) -> Charge:
    ownership.ensure_owner("payments")
    charges = Charge.objects.select_for_update().filter(pk=charge_id)
    if user_id is not None:
        charges = charges.filter(user_id=user_id)
    charge = charges.first()
    if charge is None:
        raise NotFound(f"No charge {charge_id}.")
    if charge.status not in {Charge.Status.CAPTURED, Charge.Status.PARTIALLY_REFUNDED}:
        raise Conflict(
            f"Charge {charge_id} is {charge.status}; only captured charges refund.",
            code="charge_not_refundable",
        )
    return charge


def _refund(charge: Charge, amount: Decimal | None, reason: str) -> Refund:
    remaining = charge.amount - charge.refunded_amount
    amount = remaining if amount is None else amount
    if amount <= 0:
        raise ValidationFailed({"amount": ["Must be greater than zero."]})
    if amount > remaining:
        raise Conflict(
            f"Only {remaining} {charge.currency} of this charge is left to refund.",
            code="refund_exceeds_charge",
            refundable=str(remaining),
        )
    gateway.gateway_refund(reference=charge.gateway_reference, amount=amount)
    refund = Refund.objects.create(charge=charge, amount=amount, reason=reason)
    charge.refunded_amount += amount
    charge.status = (
        Charge.Status.REFUNDED
        if charge.refunded_amount == charge.amount
        else Charge.Status.PARTIALLY_REFUNDED
    )
    charge.version += 1
    charge.save(update_fields=["refunded_amount", "status", "version", "updated_at"])
    events.charge_changed(charge)
    return refund
