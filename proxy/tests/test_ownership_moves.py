"""A write reaching the side that no longer writes its context (a flip under way) is
answered 421 by that side without any change; the proxy sends it once to the other."""

from __future__ import annotations

from proxy.tests.conftest import Fake, ProxyFactory, metric

Trio = tuple[Fake, Fake, Fake]


async def test_a_misdirected_write_is_sent_once_to_the_other_side(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    response = await proxy.client.post(
        "/api/payments/charges/?status=421&only=monolith", json={"amount": "5.00"}
    )
    assert response.status == 200
    assert (await response.json())["upstream"] == "payments"
    assert [r["upstream"] for r in monolith.seen + payments.seen] == ["monolith", "payments"]
    assert payments.seen[0]["body_size"] == monolith.seen[0]["body_size"] > 0
    assert (
        await metric(proxy, "carve_proxy_fallbacks_total", route="payments", reason="not_owner")
        == 1
    )


async def test_the_other_way_round_and_only_once(trio: Trio, make_proxy: ProxyFactory) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    both_refuse = await proxy.client.post("/api/payments/charges/?status=421", json={})
    assert both_refuse.status == 421  # no ping-pong: the second 421 goes to the client
    assert [r["upstream"] for r in payments.seen + monolith.seen] == ["payments", "monolith"]


async def test_a_canary_sends_every_write_to_the_service(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    _, payments, _ = trio
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "canary 1")
    for cookie in ("a", "b", "c", "d"):
        response = await proxy.client.post(
            "/api/payments/charges/", json={}, cookies={"carve_cohort": cookie}
        )
        assert (await response.json())["upstream"] == "payments"
    assert len(payments.seen) == 4
