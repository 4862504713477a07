"""Issue 12, money: what an ordinary demo account tried, through the proxy, with payments
and inventory on the monolith, in canary 50 and extracted. Every order ends with the money
story the README tells: confirmed = its own user paid its total, cancelled = nothing kept."""

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.harness import Client, Deployment, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OWNER = {"monolith": "monolith", "canary 50": "service", "extracted": "service"}


@pytest.fixture(scope="module")
def money_stack(shared_deployment: Deployment) -> Deployment:
    return shared_deployment


@pytest.fixture(scope="module", params=["monolith", "canary 50", "extracted"])
def routed(request: pytest.FixtureRequest, money_stack: Deployment) -> Deployment:
    """Payments and inventory routed as the test's parameter, handed over everywhere."""
    for context in ("payments", "inventory"):
        money_stack.route(context, request.param)
    for context in ("payments", "inventory"):
        owner = context if OWNER[request.param] == "service" else "monolith"
        money_stack.wait_owner(context, owner)
    return money_stack


def charge_of(client: Client, charge_id: str) -> dict[str, Any]:
    response = client.get(f"/api/payments/charges/{charge_id}/")
    assert response.status_code == 200, response.text
    return dict(response.json())


def holds_its_money_story(client: Client, order: dict[str, Any]) -> bool:
    """Confirmed: the order's charge (its user's) captured exactly its total; cancelled:
    nothing of it kept."""
    if order["status"] == "confirmed":
        charge = charge_of(client, order["payment_id"])
        return (charge["status"], charge["amount"], charge["currency"]) == (
            "captured",
            order["total"],
            order["currency"],
        )
    if order["payment_id"] is None:
        return order["status"] == "cancelled"
    charge = charge_of(client, order["payment_id"])
    kept = Decimal(charge["amount"]) - Decimal(charge["refunded_amount"])
    return order["status"] == "cancelled" and (charge["status"] != "captured" and kept == 0)


def test_a_cent_never_pays_an_order(routed):
    """The issue's script: a 909.90 order, then 0.01 charges with the order's key."""
    client = Client(routed.urls["proxy"])
    placed = client.order(("SKU-0010", 10))
    key = {"Idempotency-Key": f"order:{placed['id']}"}
    cent = {"amount": "0.01", "currency": "EUR", "card_token": "tok_ok"}
    naming = client.post("/api/payments/charges/", {**cent, "order_id": placed["id"]}, **key)
    assert naming.status_code == 400 and "order_id" in naming.json()["errors"], naming.text
    assert client.post("/api/payments/charges/", cent, **key).status_code == 201
    order = client.settled(placed["id"])
    assert (order["status"], order["total"]) == ("confirmed", "909.90")
    assert holds_its_money_story(client, order)


def test_no_charge_against_anothers_order_nor_in_a_made_up_currency(routed):
    alice, bob = Client(routed.urls["proxy"]), Client(routed.urls["proxy"], "user0002")
    placed = alice.order(("SKU-0011", 1))
    cent = {"amount": "0.01", "currency": "EUR", "card_token": "tok_ok"}
    against = bob.post("/api/payments/charges/", {**cent, "order_id": placed["id"]})
    assert against.status_code == 400 and "order_id" in against.json()["errors"]
    made_up = bob.post("/api/payments/charges/", {**cent, "currency": "XXX"})
    assert made_up.status_code == 400 and "currency" in made_up.json()["errors"]
    assert holds_its_money_story(alice, alice.settled(placed["id"]))


def test_an_orders_charge_is_refunded_by_cancelling_the_order(routed):
    client = Client(routed.urls["proxy"])
    order = client.settled(client.order(("SKU-0012", 2))["id"])
    assert order["status"] == "confirmed"
    refund = client.post(f"/api/payments/charges/{order['payment_id']}/refunds/", {})
    assert refund.status_code == 409 and refund.json()["code"] == "charge_pays_order"
    assert charge_of(client, order["payment_id"])["refunded_amount"] == "0.00"

    assert client.post(f"/api/orders/{order['id']}/cancel/").status_code == 200
    wait_until(
        lambda: holds_its_money_story(client, client.get(f"/api/orders/{order['id']}/").json()),
        timeout=60,
        message="the cancelled order's charge was not refunded",
    )
