"""A first parity check: the same requests to the monolith and to a service give the
same answers (status, body, error shape), whichever side writes the context."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.integration.harness import Client, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def normal(body: Any) -> Any:
    """Hosts in pagination links differ by design; nothing else may."""
    if isinstance(body, dict):
        return {k: normal(v) for k, v in body.items()}
    if isinstance(body, list):
        return [normal(v) for v in body]
    if isinstance(body, str):
        return re.sub(r"http://127\.0\.0\.1:\d+", "http://HOST", body)
    return body


def answer(
    base: str, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, f"{base}{path}", json=body, headers=headers, timeout=30)
    return response.status_code, normal(response.json())


def token(base: str, username: str, password: str = "carve-demo") -> str:
    response = requests.post(
        f"{base}/api/users/token/", json={"username": username, "password": password}, timeout=10
    )
    return str(response.json()["token"])


def same(
    stack, service: str, method: str, path: str, who: str | None, body: Any = None
) -> tuple[int, Any]:
    monolith = answer(stack.urls["monolith"], method, path, who, body)
    extracted = answer(stack.urls[service], method, path, who, body)
    assert monolith == extracted, f"{method} {path}\nmonolith: {monolith}\n{service}: {extracted}"
    return monolith


READS = [
    ("inventory", "GET", "/api/inventory/products/?page_size=3", "user"),
    ("inventory", "GET", "/api/inventory/products/?page=2&page_size=5", None),
    ("inventory", "GET", "/api/inventory/products/SKU-0003/", None),
    ("inventory", "GET", "/api/inventory/products/NOPE/", None),
    ("inventory", "GET", "/api/inventory/reservations/", "user"),
    ("payments", "GET", "/api/payments/charges/", "user"),
    ("payments", "GET", "/api/payments/charges/", None),
    ("payments", "GET", "/api/payments/charges/00000000-0000-0000-0000-000000000000/", "user"),
]
REFUSED_WRITES = [
    ("payments", "POST", "/api/payments/charges/", "user", {"amount": "-1", "currency": "eur"}),
    ("payments", "POST", "/api/payments/charges/", None, {"amount": "5.00"}),
    (
        "payments",
        "POST",
        "/api/payments/charges/",
        "user",
        {"amount": "5.00", "currency": "EUR", "card_token": "tok_nope"},
    ),
    ("inventory", "POST", "/api/inventory/products/", "user", {"sku": "X"}),
    ("inventory", "POST", "/api/inventory/products/SKU-0001/stock/", "staff", {"delta": 0}),
]


def test_both_sides_answer_alike(shared_deployment):
    stack = shared_deployment
    proxy = stack.urls["proxy"]
    tokens = {
        "user": token(proxy, "user0004"),
        "staff": token(proxy, "admin", "admin"),
        None: None,
    }
    client = Client(proxy, "user0004")
    charge = client.post(
        "/api/payments/charges/", {"amount": "12.00", "currency": "EUR", "card_token": "tok_ok"}
    ).json()
    order = client.order(("SKU-0002", 1))
    charge_path = f"/api/payments/charges/{charge['id']}/"
    other = token(proxy, "user0005")

    def settled() -> bool:
        return answer(stack.urls["payments"], "GET", charge_path, tokens["user"])[0] == 200

    wait_until(settled, timeout=60, message="the charge never reached the payments service")
    wait_until(
        lambda: stack.carve("extract", "verify").returncode == 0,
        timeout=60,
        message="sides differ",
    )
    for state in ("monolith", "extracted"):
        stack.route("payments", state)
        stack.route("inventory", state)
        owner = "monolith" if state == "monolith" else None
        stack.wait_owner("payments", owner or "payments")
        stack.wait_owner("inventory", owner or "inventory")
        for service, method, path, who in READS:
            same(stack, service, method, path, tokens[who])
        assert same(stack, "payments", "GET", charge_path, tokens["user"])[0] == 200
        assert same(stack, "payments", "GET", charge_path, other)[0] == 404
        assert (
            same(
                stack,
                "inventory",
                "GET",
                f"/api/inventory/reservations/{order['id']}/",
                tokens["staff"],
            )[0]
            == 200
        )
        for service, method, path, who, body in REFUSED_WRITES:
            status, _ = same(stack, service, method, path, tokens[who], body)
            assert 400 <= status < 500
    # JSON nested too deeply for the json module: a 400 on every service, not a 500.
    deep = "[" * 100_000 + "]" * 100_000
    for service, path in [
        ("monolith", "/api/orders/"),
        ("payments", "/api/payments/charges/"),
        ("inventory", "/api/inventory/products/"),
    ]:
        refused = requests.post(
            f"{stack.urls[service]}{path}",
            data=deep,
            headers={
                "Authorization": f"Bearer {tokens['staff']}",
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        assert (refused.status_code, refused.json()["type"]) == (400, "parse_error"), service
    # Accepted writes, each on the side that writes: same shape, same outcome.
    key = {"Idempotency-Key": "parity-1"}
    body = {"amount": "3.00", "currency": "EUR", "card_token": "tok_declined"}
    on_service = requests.post(
        f"{stack.urls['payments']}/api/payments/charges/",
        json=body,
        headers={"Authorization": f"Bearer {tokens['user']}", **key},
        timeout=30,
    )
    assert on_service.status_code == 201 and on_service.json()["status"] == "declined"
    assert set(on_service.json()) == set(charge)
