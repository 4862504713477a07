"""The admin API: guarded by a token, off without one, and every change audited and
seen by every proxy sharing the store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from proxy.tests.conftest import TOKEN, Fake, ProxyFactory

Trio = tuple[Fake, Fake, Fake]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"X-Carve-Token": TOKEN[:-1]},
        {"Authorization": TOKEN},
    ],
)
async def test_the_api_needs_the_token(
    trio: Trio, make_proxy: ProxyFactory, headers: dict[str, str]
) -> None:
    proxy = await make_proxy(*trio)
    for method, path in (("GET", "/_carve/api/routes"), ("PUT", "/_carve/api/routes/payments")):
        response = await proxy.client.request(
            method, path, headers=headers, json={"state": "extracted"}
        )
        assert response.status == 401
    assert (
        await proxy.client.get("/_carve/api/routes", headers={"X-Carve-Token": TOKEN})
    ).status == 200


async def test_without_a_token_the_admin_api_is_off(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio, admin_token=None)
    for path in ("/_carve/api/routes", "/_carve/ui", "/_carve/anything", "/_carve"):
        response = await proxy.client.get(path, headers=AUTH)
        assert response.status == 404
        assert (await response.json())["code"] == "admin_disabled"
    assert not trio[0].seen  # never forwarded to the monolith either


async def test_a_short_admin_token_is_refused_at_start(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    with pytest.raises(Exception, match="at least 16"):
        await make_proxy(*trio, admin_token="short")


async def test_set_list_show_and_history(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    response = await proxy.client.put(
        "/_carve/api/routes/payments",
        json={"state": "canary 25"},
        headers={**AUTH, "X-Carve-Actor": "alice"},
    )
    assert response.status == 200
    change = (await response.json())["change"]
    assert (change["from"], change["to"]) == ("monolith", "canary 25")
    assert change["who"] == "alice via 127.0.0.1"

    listing = await (await proxy.client.get("/_carve/api/routes", headers=AUTH)).json()
    states = {r["name"]: r["state"] for r in listing["routes"]}
    assert states == {"payments": "canary 25", "inventory": "monolith"}
    assert listing["version"] == 1

    shown = await (await proxy.client.get("/_carve/api/routes/payments", headers=AUTH)).json()
    assert shown["match"] == "/api/payments/" and shown["history"][0]["to"] == "canary 25"
    by_prefix = await proxy.client.get("/_carve/api/routes/%2Fapi%2Fpayments%2F", headers=AUTH)
    assert by_prefix.status == 200

    history = await (await proxy.client.get("/_carve/api/history", headers=AUTH)).json()
    assert [(c["route"], c["to"]) for c in history["history"]] == [("payments", "canary 25")]


@pytest.mark.parametrize(
    ("body", "status"),
    [({"state": "sideways"}, 400), ({"state": "canary 140"}, 400), ({}, 400), ("x", 400)],
)
async def test_bad_states_are_400(
    trio: Trio, make_proxy: ProxyFactory, body: Any, status: int
) -> None:
    proxy = await make_proxy(*trio)
    response = await proxy.client.put("/_carve/api/routes/payments", json=body, headers=AUTH)
    assert response.status == status
    assert "monolith|shadow|canary N|extracted" in (await response.json())["detail"]


async def test_an_unknown_route_is_404_naming_the_known_ones(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    response = await proxy.client.put(
        "/_carve/api/routes/nope", json={"state": "shadow"}, headers=AUTH
    )
    assert response.status == 404
    assert "payments, inventory" in await response.text()


async def test_a_change_takes_effect_on_the_next_request(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    assert (await (await proxy.client.get("/api/payments/")).json())["upstream"] == "monolith"
    await proxy.set_state("payments", "extracted")
    assert (await (await proxy.client.get("/api/payments/")).json())["upstream"] == "payments"
    await proxy.set_state("payments", "monolith")
    assert (await (await proxy.client.get("/api/payments/")).json())["upstream"] == "monolith"


async def test_a_change_reaches_another_proxy_within_a_second(
    trio: Trio, make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    first = await make_proxy(*trio)
    second = await make_proxy(*trio)  # same tmp_path, so the same file store
    assert first.store_url == second.store_url
    await second.client.get("/api/inventory/")
    await first.set_state("inventory", "extracted")
    changed = time.monotonic()
    while (await (await second.client.get("/api/inventory/")).json())["upstream"] != "inventory":
        assert time.monotonic() - changed < 1.0, "the other proxy did not see the change in 1 s"
        await asyncio.sleep(0.02)


async def test_explain_says_which_backend_and_why(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    answer = await (
        await proxy.client.get(
            "/_carve/api/explain",
            params={"method": "get", "path": "/api/x/../payments//charges/?a=1"},
            headers=AUTH,
        )
    ).json()
    assert answer["canonical"] == "/api/payments/charges/?a=1"
    assert answer["route"] == "payments" and answer["backend"] == "payments"
    assert answer["matched_by"] == "prefix /api/payments/"
    assert answer["fallback"] == "monolith" and answer["breaker"] == "closed"

    rejected = await (
        await proxy.client.get(
            "/_carve/api/explain", params={"path": "/api/payments%2Fx"}, headers=AUTH
        )
    ).json()
    assert rejected["status"] == 400 and "encoded slash" in rejected["rejected"]


async def test_a_store_failure_is_a_clear_503(
    trio: Trio, make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    proxy = await make_proxy(*trio)
    (tmp_path / "routes.json").mkdir()  # the store file cannot be read or replaced
    response = await proxy.client.put(
        "/_carve/api/routes/payments", json={"state": "shadow"}, headers=AUTH
    )
    assert response.status == 503
    assert "route table" in (await response.json())["detail"]
