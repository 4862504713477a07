"""Placing orders: confirmed, refused by the card or the gateway, out of stock, raced for,
cancelled. Once payments and inventory are extracted an order is settled by the saga:
parity polls it to confirmed or cancelled before comparing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parity.scenarios import scenario
from parity.session import Actor, Session

ORDERS = "/api/orders/"
ORDER = "/api/orders/{order}/"
CANCEL = "/api/orders/{order}/cancel/"
CHARGE = "/api/payments/charges/{charge}/"
CHARGES = "/api/payments/charges/"
REFUNDS = "/api/payments/charges/{charge}/refunds/"
PRODUCT = "/api/inventory/products/{sku}/"
RESERVATION = "/api/inventory/reservations/{order}/"
HISTORY = "/api/orders/history/"


def status_is(wanted: str) -> Callable[[Any], bool]:
    return lambda body: body["status"] == wanted


def stock_is(on_hand: int) -> Callable[[Any], bool]:
    return lambda body: body["stock"] == {"on_hand": on_hand, "reserved": 0, "available": on_hand}


def history_is(**fields: str) -> Callable[[Any], bool]:
    """The read model (fed by events, so eventual) shows one order with these fields."""
    return lambda body: (
        len(body["results"]) == 1
        and all(body["results"][0][name] == value for name, value in fields.items())
    )


def poll_history(s: Session, actor: Actor, **fields: str) -> None:
    wanted = ", ".join(f"{k} {v}" for k, v in fields.items())
    s.poll("the order history", HISTORY, actor, until=history_is(**fields), condition=wanted)


def poll_stock(s: Session, step: str, sku: str, on_hand: int) -> None:
    s.poll(
        step,
        PRODUCT,
        until=stock_is(on_hand),
        condition=f"{on_hand} on hand, none reserved",
        sku=sku,
    )


@scenario()
def order_succeeds(s: Session) -> None:
    """A shopper's order of two products is confirmed, charged once, and takes the stock."""
    s.set_stock("SKU-0013", 10)
    s.set_stock("SKU-0014", 10)
    alice = s.shopper("alice")
    order = s.place_order("place an order", alice, [("SKU-0014", 2), ("SKU-0013", 1)])
    order_id, charge_id = order.get("id"), order.get("payment_id")
    s.get("read the order", ORDER, alice, order=order_id)
    s.get("list my orders", ORDERS, alice)
    s.get("list my confirmed orders", ORDERS, alice, query={"status": "confirmed"})
    s.get("list my orders by a status that does not exist", ORDERS, alice, query={"status": "x"})
    s.get("read the charge", CHARGE, alice, charge=charge_id)
    s.get("list my charges", CHARGES, alice)
    s.poll(
        "the reservation",
        RESERVATION,
        s.staff,
        until=status_is("committed"),
        condition="committed",
        order=order_id,
    )
    poll_stock(s, "stock of SKU-0013", "SKU-0013", 9)
    poll_stock(s, "stock of SKU-0014", "SKU-0014", 8)
    poll_history(s, alice, status="confirmed", payment_status="captured", stock_state="committed")


@scenario()
def order_input_mistakes(s: Session) -> None:
    """Orders that cannot be placed as sent are refused before anything is reserved."""
    alice = s.shopper("alice")
    line = {"sku": "SKU-0001", "quantity": 1}
    for step, body in [
        (
            "an unknown product",
            {"lines": [{"sku": "NO-SUCH-SKU", "quantity": 1}], "card_token": "tok_ok"},
        ),
        ("no lines", {"lines": [], "card_token": "tok_ok"}),
        ("a quantity of zero", {"lines": [{**line, "quantity": 0}], "card_token": "tok_ok"}),
        ("an unknown card", {"lines": [line], "card_token": "tok_unheard_of"}),
        ("no card", {"lines": [line]}),
    ]:
        s.post(f"order with {step}", ORDERS, alice, json=body)
    s.post("order without logging in", ORDERS, json={"lines": [line], "card_token": "tok_ok"})
    s.get("my orders: none", ORDERS, alice)
    s.get(
        "read an order that does not exist",
        ORDER,
        alice,
        order="00000000-0000-4000-8000-000000000000",
    )
    s.get("read an order by a malformed id", "/api/orders/not-a-uuid/", alice)


def _refused_payment(s: Session, sku: str, card: str, charge: str, reason: str) -> None:
    s.set_stock(sku, 10)
    alice = s.shopper("alice")
    order = s.place_order(f"place an order paid with {card}", alice, [(sku, 2)], card=card)
    order_id, charge_id = order.get("id"), order.get("payment_id")
    s.get("read the order", ORDER, alice, order=order_id)
    s.get("read the charge", CHARGE, alice, charge=charge_id)
    s.poll(
        "the reservation",
        RESERVATION,
        s.staff,
        until=status_is("released"),
        condition="released",
        order=order_id,
    )
    poll_stock(s, "the stock is untouched", sku, 10)
    s.post("cancel the cancelled order", CANCEL, alice, order=order_id)
    s.post("refund the charge", REFUNDS, alice, json={}, charge=charge_id)
    poll_history(
        s,
        alice,
        status="cancelled",
        cancel_reason=reason,
        payment_status=charge,
        stock_state="released",
    )
    direct = {"amount": "9.99", "currency": "EUR", "card_token": card}
    s.post("charge the same card directly", CHARGES, alice, json=direct)
    s.get("list my charges", CHARGES, alice)


@scenario()
def order_declined(s: Session) -> None:
    """The card is declined: the order is cancelled (payment_declined), the stock released."""
    _refused_payment(s, "SKU-0015", "tok_declined", "declined", "payment_declined")


@scenario()
def order_gateway_error(s: Session) -> None:
    """The payment gateway fails: the order is cancelled (payment_failed), the stock released."""
    _refused_payment(s, "SKU-0016", "tok_gateway_error", "failed", "payment_failed")


@scenario()
def order_out_of_stock(s: Session) -> None:
    """Ordering more than there is is refused and takes nothing; then the last units sell."""
    s.set_stock("SKU-0020", 5)
    alice = s.shopper("alice")
    s.place_order("order more than there is", alice, [("SKU-0020", 6)])
    poll_stock(s, "nothing is held", "SKU-0020", 5)
    s.get("my orders", ORDERS, alice)
    s.get("my charges: none", CHARGES, alice)
    s.place_order("order all there is", alice, [("SKU-0020", 5)])
    s.place_order("order one more", alice, [("SKU-0020", 1)])
    poll_stock(s, "sold out", "SKU-0020", 0)
    s.get("my orders after selling out", ORDERS, alice)
    s.get("my charges after selling out", CHARGES, alice)


@scenario()
def race_for_the_last_unit(s: Session) -> None:
    """Two shoppers order the last unit at once: exactly one gets it, the other is refused."""
    s.set_stock("SKU-0019", 1)
    alice, bob = s.shopper("alice"), s.shopper("bob")
    lines = [("SKU-0019", 1)]
    (winner, won), (loser, _) = s.race(
        "order the last unit", [(alice, lines, "tok_ok"), (bob, lines, "tok_ok")]
    )
    s.get("the winner's orders", ORDERS, winner)
    s.get("the winner's charge", CHARGE, winner, charge=won.get("payment_id"))
    s.get("the loser's orders", ORDERS, loser)
    s.get("the loser's charges", CHARGES, loser)
    poll_stock(s, "sold out", "SKU-0019", 0)


@scenario()
def cancel_and_refund(s: Session) -> None:
    """A confirmed order is cancelled: the charge is refunded and the stock comes back."""
    s.set_stock("SKU-0018", 10)
    alice = s.shopper("alice")
    order = s.place_order("place an order", alice, [("SKU-0018", 3)])
    order_id, charge_id = order.get("id"), order.get("payment_id")
    s.post("cancel it", CANCEL, alice, order=order_id)
    s.poll(
        "the charge",
        CHARGE,
        alice,
        until=status_is("refunded"),
        condition="refunded",
        charge=charge_id,
    )
    poll_stock(s, "the stock is back", "SKU-0018", 10)
    s.poll(
        "the reservation",
        RESERVATION,
        s.staff,
        until=status_is("returned"),
        condition="returned",
        order=order_id,
    )
    s.post("cancel it again", CANCEL, alice, order=order_id)
    s.post("refund the refunded charge", REFUNDS, alice, json={}, charge=charge_id)
    s.get("read the cancelled order", ORDER, alice, order=order_id)
    poll_history(s, alice, status="cancelled", payment_status="refunded", stock_state="returned")
