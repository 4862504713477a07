"""A write reaching the side that no longer writes its context (a flip under way) is
answered 421 not_owner by that side without any change; the proxy sends it to the owner the
answer names, with the body it holds, a bounded number of times (issue 13, defect 5); a
side that names itself is catching up, and is asked again until the request's deadline."""

from __future__ import annotations

import pytest

from proxy.handler import MAX_MOVES
from proxy.tests.conftest import Fake, ProxyFactory, in_arrival_order, metric, raw_request

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


async def test_the_other_way_round(trio: Trio, make_proxy: ProxyFactory) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    response = await proxy.client.put("/api/payments/charges/1/?owner=monolith", json={"a": 1})
    assert response.status == 200
    assert (await response.json())["upstream"] == "monolith"
    assert [r["upstream"] for r in payments.seen + monolith.seen] == ["payments", "monolith"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET"])
async def test_a_request_follows_the_named_owner_while_its_handover_finishes(
    trio: Trio, make_proxy: ProxyFactory, method: str
) -> None:
    """The flip test's failure on a busy machine: the monolith has handed payments over
    (421, owner payments) but payments has not yet taken it (421, owner monolith). The
    request must not fail because of the move: it follows the owner named until it lands."""
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    body = b'{"amount": "5.00"}'
    status, data = await raw_request(
        port,
        f"{method} /api/payments/charges/?owner=payments&late=1 HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode(),
        body,
    )
    assert status == 200, data
    asked = [r["upstream"] for r in in_arrival_order(*monolith.seen, *payments.seen)]
    assert asked == ["monolith", "payments", "monolith", "payments"]
    assert all(r["body_size"] == len(body) for r in monolith.seen + payments.seen)


async def test_a_move_that_does_not_settle_is_a_clear_503_after_a_bounded_number_of_tries(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    both_refuse = await proxy.client.post("/api/payments/charges/?status=421", json={})
    assert both_refuse.status == 503
    answer = await both_refuse.json()
    assert answer["code"] == "moving"
    assert "nothing was changed" in answer["detail"]
    assert len(payments.seen + monolith.seen) == 1 + MAX_MOVES


async def test_a_write_waits_in_the_proxy_while_its_new_owner_catches_up(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """The flip test's 504s on a busy machine: the side taking a context over held each
    write in one of its few threads for its whole catch-up, and the requests queued
    behind outlasted the proxy. Now that side answers 421 naming itself within a second,
    and the proxy, which holds a request for no thread, asks it again until it writes:
    more times than a move is ever re-sent (MAX_MOVES), without failing."""
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    settling = MAX_MOVES + 2
    response = await proxy.client.post(
        f"/api/payments/charges/?owner=monolith&settling={settling}", json={"amount": "5.00"}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["upstream"] == "monolith"
    assert len(monolith.seen) == settling + 1 and not payments.seen
    assert all(r["body_size"] == monolith.seen[0]["body_size"] > 0 for r in monolith.seen)


async def test_a_catch_up_that_outlasts_the_requests_deadline_is_a_clear_503(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith, _, _ = trio
    proxy = await make_proxy(*trio, upstream_settings={"monolith": {"total_timeout": 1.0}})
    response = await proxy.client.post(
        "/api/payments/charges/?owner=monolith&settling=100", json={"amount": "5.00"}
    )
    assert response.status == 503
    answer = await response.json()
    assert answer["code"] == "moving" and "nothing was changed" in answer["detail"]
    assert 1 < len(monolith.seen) < 100  # asked again while there was time, and no more


async def test_a_streamed_upload_refused_by_a_side_is_a_clear_503(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """A streamed body is gone once sent: it cannot go to the owner, and the client is
    told so (never the side's 421)."""
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    chunk = b"8000\r\n" + b"x" * 0x8000 + b"\r\n"
    status, data = await raw_request(
        port,
        b"POST /api/payments/charges/?owner=payments HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        chunk * 10 + b"0\r\n\r\n",
    )
    assert status == 503, data
    assert b'"moving"' in data and b"streamed" in data


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
