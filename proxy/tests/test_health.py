"""Health, readiness, Prometheus metrics and the access log."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proxy.app import METRICS, TABLE
from proxy.tests.conftest import TOKEN, Fake, ProxyFactory

Trio = tuple[Fake, Fake, Fake]


async def test_healthz_and_readyz(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    assert (await proxy.client.get("/healthz")).status == 200
    ready = await proxy.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["routes_version"] == 0
    assert not trio[0].seen  # answered by the proxy itself


async def test_ready_on_the_last_table_while_the_store_is_unreadable(
    trio: Trio, make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    """A store outage must not take every proxy out of a load balancer (issue 15, #6)."""
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    (tmp_path / "routes.json").write_text("{broken")
    table = proxy.app[TABLE]
    deadline = time.monotonic() + 2
    while table.last_error is None:
        assert time.monotonic() < deadline, "the refresh never read the broken store"
        await asyncio.sleep(0.02)
    table.last_ok = time.monotonic() - 60  # a long outage
    response = await proxy.client.get("/readyz")
    assert response.status == 200
    body = await response.json()
    assert body["routes_version"] == 1 and body["routes_stale_seconds"] >= 60
    assert "cannot read route table" in body["store_error"]
    assert (await (await proxy.client.get("/api/payments/x")).json())["upstream"] == "payments"
    metrics = await proxy.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert "carve_proxy_route_table_stale_seconds" in await metrics.text()


async def test_not_ready_with_no_table_at_all(
    trio: Trio, make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    (tmp_path / "routes.json").write_text("{broken")  # down at start, no local snapshot
    proxy = await make_proxy(*trio)
    response = await proxy.client.get("/readyz")
    assert response.status == 503
    assert "no route table" in (await response.json())["problems"][0]


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


async def test_every_worker_exports_its_table_version_without_being_scraped(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """With several workers the gauges of the worker that did not answer a scrape were
    those of its last scrape (0 if none): each process sets its own at every flush (the
    figures other workers read from the shared files)."""
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    metrics = proxy.app[METRICS]
    metrics.flush()  # what the flush loop of every worker does; no /metrics request
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    assert samples["carve_proxy_route_table_version"] == proxy.app[TABLE].snapshot.version == 1
