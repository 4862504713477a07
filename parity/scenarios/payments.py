"""Charges made directly: retried with an Idempotency-Key, refunded in parts."""

from __future__ import annotations

from parity.scenarios import scenario
from parity.session import Session

CHARGES = "/api/payments/charges/"
CHARGE = "/api/payments/charges/{charge}/"
REFUNDS = "/api/payments/charges/{charge}/refunds/"


@scenario()
def retried_charge(s: Session) -> None:
    """A charge retried with the same Idempotency-Key is made once: the retry gets the first
    answer; the key reused for another request is refused."""
    alice = s.shopper("alice")
    body = {"amount": "12.00", "currency": "EUR", "card_token": "tok_ok"}
    first = {"Idempotency-Key": "parity-first-charge"}
    s.post("charge with a key", CHARGES, alice, json=body, headers=first)
    s.post("retry with the same key", CHARGES, alice, json=body, headers=first)
    s.post("retry once more", CHARGES, alice, json=body, headers=first)
    s.post(
        "the key for another amount",
        CHARGES,
        alice,
        json={**body, "amount": "13.00"},
        headers=first,
    )
    declined = {**body, "card_token": "tok_declined"}
    second = {"Idempotency-Key": "parity-declined-charge"}
    s.post("a declined charge with a key", CHARGES, alice, json=declined, headers=second)
    s.post("retry the declined charge", CHARGES, alice, json=declined, headers=second)
    s.post(
        "a key that is too long", CHARGES, alice, json=body, headers={"Idempotency-Key": "k" * 300}
    )
    s.post("charge without a key", CHARGES, alice, json=body)
    s.post("charge nothing", CHARGES, alice, json={**body, "amount": "0.00"})
    s.post("charge in a made-up currency", CHARGES, alice, json={**body, "currency": "euro"})
    s.get("list my charges", CHARGES, alice)

    # Keys belong to their user: Bob's first use of Alice's key is a new charge of his.
    bob = s.shopper("bob")
    s.post("bob charges with alice's key", CHARGES, bob, json=body, headers=first)
    # Two retries at the same moment: one charge, both answers carry it.
    both = {"json": {**body, "amount": "7.00"}, "headers": {"Idempotency-Key": "parity-at-once"}}
    s.at_once("the same key twice at once", "POST", CHARGES, [(bob, both), (bob, both)])
    s.get("bob's charges", CHARGES, bob)


@scenario()
def refund_a_charge(s: Session) -> None:
    """A captured charge is refunded in two parts; more than is left, or nothing, is refused."""
    alice = s.shopper("alice")
    body = {"amount": "20.00", "currency": "EUR", "card_token": "tok_ok"}
    charge = s.post("charge 20.00", CHARGES, alice, json=body)
    charge_id = charge.get("id")
    refund = {"amount": "5.00", "reason": "damaged"}
    s.post("refund 5.00", REFUNDS, alice, json=refund, charge=charge_id)
    s.get("the charge, partly refunded", CHARGE, alice, charge=charge_id)
    s.post("refund more than is left", REFUNDS, alice, json={"amount": "20.00"}, charge=charge_id)
    s.post("refund nothing", REFUNDS, alice, json={"amount": "0.00"}, charge=charge_id)
    s.post("refund the rest", REFUNDS, alice, json={}, charge=charge_id)
    s.get("the charge, refunded", CHARGE, alice, charge=charge_id)
    s.post("refund once more", REFUNDS, alice, json={}, charge=charge_id)
    s.post(
        "refund a charge that does not exist",
        REFUNDS,
        alice,
        json={},
        charge="00000000-0000-4000-8000-000000000000",
    )
    s.get("list my charges", CHARGES, alice)
    s.get("read a charge by a malformed id", "/api/payments/charges/not-a-uuid/", alice)
    s.get("list charges without the trailing slash", "/api/payments/charges", alice)
    s.call("delete a charge", "DELETE", CHARGE, alice, charge=charge_id)
    s.get("a payments path that does not exist", "/api/payments/nothing/", alice)
