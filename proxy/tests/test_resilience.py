"""Timeouts, retries, the retry budget, the circuit breaker, bulkheads and fallback,
against a slow, a flaky and a dead upstream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from proxy.resilience import BreakerState, CircuitBreaker, RetryBudget, backoff
from proxy.tests.conftest import Dead, Fake, ProxyFactory, metric

Trio = tuple[Fake, Fake, Fake]


def settings(name: str, **values: Any) -> dict[str, dict[str, Any]]:
    return {name: values}


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = CircuitBreaker(failures=2, reset_seconds=0.0)
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow()  # reset time passed: one probe...
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # ...and only one
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_an_open_breaker_refuses_until_the_reset_time() -> None:
    breaker = CircuitBreaker(failures=1, reset_seconds=60)
    breaker.failure()
    assert not breaker.allow()


def test_the_retry_budget_is_a_share_of_requests() -> None:
    budget = RetryBudget(ratio=0.5, min_per_second=0)
    budget.tokens = 0
    assert not budget.withdraw()
    budget.deposit()
    budget.deposit()
    assert budget.withdraw()
    assert not budget.withdraw()


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_is_jittered_and_capped(attempt: int) -> None:
    delays = {backoff(attempt) for _ in range(50)}
    assert all(0 <= d <= min(1.0, 0.025 * 2**attempt) for d in delays)
    assert len(delays) > 1


async def test_a_slow_upstream_hits_the_first_byte_timeout(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(
        *trio, upstream_settings=settings("monolith", first_byte_timeout=0.2, retries=0)
    )
    started = time.monotonic()
    response = await proxy.client.get("/x?delay=3")
    assert response.status == 504
    assert (await response.json())["code"] == "timeout"
    assert time.monotonic() - started < 2


async def test_the_total_timeout_bounds_a_slow_body(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(
        *trio, upstream_settings=settings("monolith", total_timeout=0.3, retries=0)
    )
    response = await proxy.client.get("/x?delay=3")
    assert response.status == 504


async def test_a_flaky_upstream_is_retried_for_safe_methods_only(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith = trio[0]
    proxy = await make_proxy(*trio, upstream_settings=settings("monolith", retries=2))
    response = await proxy.client.get("/flaky?fail=2")
    assert response.status == 200
    assert len(monolith.seen) == 3
    assert await metric(proxy, "carve_proxy_retries_total", backend="monolith") == 2

    monolith.seen.clear()
    response = await proxy.client.post("/flaky-post?fail=2", data=b"once")
    assert response.status == 503
    assert len(monolith.seen) == 1  # a write is never sent twice


async def test_a_failed_connect_is_retried_for_any_method(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(
        Dead("monolith"), routes=[], upstream_settings=settings("monolith", retries=2)
    )
    response = await proxy.client.post("/write", data=b"x")
    assert response.status == 502
    assert (await response.json())["code"] == "connect_error"
    assert await metric(proxy, "carve_proxy_retries_total", backend="monolith") == 2


async def test_the_retry_budget_stops_a_retry_storm(trio: Trio, make_proxy: ProxyFactory) -> None:
    monolith = trio[0]
    proxy = await make_proxy(
        *trio,
        retry_budget_ratio=0.0,
        retry_budget_min_per_second=0.0,
        upstream_settings=settings("monolith", retries=2, breaker_failures=1000),
    )
    for _ in range(8):
        assert (await proxy.client.get("/down?fail=1000")).status == 503
    assert len(monolith.seen) == 8 + 10  # the bucket starts with 10 retries, then none


async def test_the_breaker_opens_then_lets_a_probe_close_it(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith = trio[0]
    proxy = await make_proxy(
        *trio,
        upstream_settings=settings(
            "monolith",
            retries=0,
            breaker_failures=3,
            breaker_reset_seconds=0.3,
            first_byte_timeout=0.1,
        ),
    )
    for _ in range(3):  # transport failures: no answer in time
        assert (await proxy.client.get("/down?delay=0.5")).status == 504
    response = await proxy.client.get("/fine")
    assert response.status == 503
    assert (await response.json())["code"] == "breaker_open"
    assert len(monolith.seen) == 3
    assert await metric(proxy, "carve_proxy_breaker_open", backend="monolith") == 1

    deadline = time.monotonic() + 3
    while (response := await proxy.client.get("/fine")).status != 200:
        assert time.monotonic() < deadline, "the breaker never let a probe through"
        await asyncio.sleep(0.05)
    assert (await proxy.client.get("/fine")).status == 200
    assert await metric(proxy, "carve_proxy_breaker_open", backend="monolith") == 0


async def test_answers_with_5xx_never_open_the_breaker(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """An upstream's own 500s are its answers, not a transport failure: a client asking for
    one page that fails must not take the whole default route down (issue 13, defect 3)."""
    proxy = await make_proxy(
        *trio, upstream_settings=settings("monolith", retries=0, breaker_failures=3)
    )
    for _ in range(10):
        assert (await proxy.client.get("/api/orders/x?status=500")).status == 500
    assert (await proxy.client.get("/")).status == 200
    assert (await proxy.client.post("/api/orders/", data=b"{}")).status == 200
    assert await metric(proxy, "carve_proxy_breaker_open", backend="monolith") == 0


async def test_a_slow_service_cannot_take_the_monoliths_capacity(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, upstream_settings=settings("payments", max_concurrency=2))
    await proxy.set_state("payments", "extracted")
    slow = [
        asyncio.create_task(proxy.client.post("/api/payments/charges/?delay=3", data=b"x"))
        for _ in range(2)
    ]
    payments = trio[1]
    deadline = time.monotonic() + 2
    while len(payments.seen) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    rejected = await proxy.client.post("/api/payments/charges/", data=b"x")
    assert rejected.status == 503
    assert (await rejected.json())["code"] == "rejected"
    started = time.monotonic()
    assert (await proxy.client.get("/api/orders/")).status == 200
    assert time.monotonic() - started < 1.5  # not queued behind the 3 s ones
    for task in slow:
        (await task).release()


async def test_safe_requests_fall_back_to_the_monolith_when_the_service_fails(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio, upstream_settings=settings("payments", retries=0))
    await proxy.set_state("payments", "extracted")

    response = await proxy.client.get("/api/payments/charges/?status=500&only=payments")
    assert response.status == 200
    assert (await response.json())["upstream"] == "monolith"
    assert (
        await metric(proxy, "carve_proxy_fallbacks_total", route="payments", reason="status_500")
        == 1
    )

    await payments.server.close()
    response = await proxy.client.get("/api/payments/charges/")
    assert (await response.json())["upstream"] == "monolith"
    assert (
        await metric(proxy, "carve_proxy_fallbacks_total", route="payments", reason="connect_error")
        == 1
    )
    assert (
        await metric(
            proxy,
            "carve_proxy_requests_total",
            route="payments",
            backend="monolith",
            outcome="fallback",
        )
        == 2
    )

    response = await proxy.client.post("/api/payments/charges/", data=b"{}")
    assert response.status == 502  # a write never falls back: it would run twice
    assert not any(r["method"] == "POST" for r in monolith.seen)
