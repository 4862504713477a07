"""Accounts and who may see what."""

from __future__ import annotations

from parity.scenarios import scenario
from parity.session import PASSWORD, Actor, Session


@scenario()
def register_and_log_in(s: Session) -> None:
    """Register, log in and read the account; the usual mistakes are refused alike."""
    name = s.username("newcomer")
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    s.post("register", "/api/users/register/", json=body)
    s.post("register the same name again", "/api/users/register/", json=body)
    s.post(
        "register with a bad e-mail address",
        "/api/users/register/",
        json={**body, "username": f"{name}-2", "email": "not-an-address"},
    )
    s.post(
        "log in with a wrong password",
        "/api/users/token/",
        json={"username": name, "password": "not-the-password"},
    )
    token = s.post("log in", "/api/users/token/", json={"username": name, "password": PASSWORD})
    me = Actor("newcomer", name, token.get("token"))
    s.get("read my account", "/api/users/me/", me)
    s.get("read an account without a token", "/api/users/me/")
    s.get("read an account with a forged token", "/api/users/me/", Actor("forger", token="x.y.z"))
    s.get("my orders: none yet", "/api/orders/", me)
    s.get("my charges: none yet", "/api/payments/charges/", me)
    s.get("my charges with a forged token", "/api/payments/charges/", Actor("forger", token="x"))


@scenario()
def reading_anothers_order(s: Session) -> None:
    """Bob cannot read, cancel or refund Alice's order or charge: 404, as if it were not there."""
    s.set_stock("SKU-0017", 10)
    alice, bob = s.shopper("alice"), s.shopper("bob")
    order = s.place_order("alice places an order", alice, [("SKU-0017", 1)])
    order_id, charge_id = order.get("id"), order.get("payment_id")
    s.get("alice reads her order", "/api/orders/{order}/", alice, order=order_id)
    s.get("bob reads alice's order", "/api/orders/{order}/", bob, order=order_id)
    s.get("bob reads alice's charge", "/api/payments/charges/{charge}/", bob, charge=charge_id)
    s.post("bob cancels alice's order", "/api/orders/{order}/cancel/", bob, order=order_id)
    s.post(
        "bob refunds alice's charge",
        "/api/payments/charges/{charge}/refunds/",
        bob,
        json={},
        charge=charge_id,
    )
    s.get("bob's orders", "/api/orders/", bob)
    s.get("bob's charges", "/api/payments/charges/", bob)
    s.get("bob's order history", "/api/orders/history/", bob)
    s.get("bob lists reservations (staff only)", "/api/inventory/reservations/", bob)
    s.get(
        "bob reads alice's reservation", "/api/inventory/reservations/{order}/", bob, order=order_id
    )
    s.get("anyone reads alice's order", "/api/orders/{order}/", order=order_id)
    s.get("anyone reads alice's charge", "/api/payments/charges/{charge}/", charge=charge_id)
    s.get("alice's charge is intact", "/api/payments/charges/{charge}/", alice, charge=charge_id)
    s.get("alice's order is intact", "/api/orders/{order}/", alice, order=order_id)
