"""Health, readiness, Prometheus metrics and the access log."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.app import TABLE
from proxy.health import STALE_AFTER
from proxy.tests.conftest import TOKEN, Fake, ProxyFactory

Trio = tuple[Fake, Fake, Fake]


async def test_healthz_and_readyz(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    assert (await proxy.client.get("/healthz")).status == 200
    ready = await proxy.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["routes_version"] == 0
    assert not trio[0].seen  # answered by the proxy itself


async def test_not_ready_when_the_route_table_is_unreadable(
    trio: Trio, make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    proxy = await make_proxy(*trio)
    (tmp_path / "routes.json").write_text("{broken")
    table = proxy.app[TABLE]
    table.last_ok = time.monotonic() - STALE_AFTER - 1
    deadline = time.monotonic() + 2
    while (response := await proxy.client.get("/readyz")).status != 503:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert "route table unreadable" in (await response.json())["problems"][0]
    assert (await proxy.client.get("/x")).status == 200  # still routes on the last snapshot


async def test_metrics_per_route_backend_and_outcome(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    await proxy.client.get("/api/payments/")
    await proxy.client.get("/api/payments/?status=503&only=payments")
    await proxy.client.get("/other")
    await proxy.client.get("/a%2Fb")
    assert (await proxy.client.get("/metrics")).status == 401  # not for the public
    page = await proxy.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = await page.text()
    samples = {
        (s.labels.get("route"), s.labels.get("backend"), s.labels.get("outcome")): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "carve_proxy_requests_total"
    }
    assert samples[("payments", "payments", "ok")] == 1
    assert samples[("payments", "monolith", "fallback")] == 1
    assert samples[("default", "monolith", "ok")] == 1
    assert samples[("-", "-", "bad_request")] == 1
    assert "carve_proxy_request_seconds_bucket" in text


async def test_the_access_log_names_the_routing_decision(
    trio: Trio, make_proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "canary 100")
    with caplog.at_level(logging.INFO, logger="carve.proxy.access"):
        response = await proxy.client.get("/api/payments/x", headers={"X-Request-ID": "rid-1"})
    assert response.status == 200
    [line] = [r.getMessage() for r in caplog.records if r.name == "carve.proxy.access"]
    assert line.startswith('rid-1 127.0.0.1 "GET /api/payments/x" 200 ')
    assert "route=payments backend=payments outcome=ok" in line
    assert 'decision="canary 100 canary: new cookie cohort' in line
