"""Prometheus metrics per route, backend and outcome, and the dashboard's figures.

With several worker processes the values live in prometheus_client's multiprocess
files (PROMETHEUS_MULTIPROC_DIR, set by the supervisor), so /metrics and the dashboard
show the sum over all workers whichever worker answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OK_OUTCOMES = frozenset({"ok"})
FLUSH_SECONDS = 0.25  # how stale another worker's figures on /metrics can be


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "carve_proxy_requests",
            "Requests by route, serving backend and outcome",
            ["route", "backend", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "carve_proxy_request_seconds",
            "Time to the last byte, by route and backend",
            ["route", "backend"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "carve_proxy_fallbacks",
            "Safe requests served by the monolith because the service failed",
            ["route", "reason"],
            registry=r,
        )
        self.retries = Counter("carve_proxy_retries", "Retries sent", ["backend"], registry=r)
        self.shadow = Counter(
            "carve_proxy_shadow",
            "Shadow compares by route and outcome (match, mismatch, error, dropped, skipped)",
            ["route", "outcome"],
            registry=r,
        )
        self.table_stale = Gauge(
            "carve_proxy_route_table_stale_seconds",
            "Seconds since the route store was last read well (-1: never)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.table_version = Gauge(
            "carve_proxy_route_table_version",
            "The route table version this process serves (the lowest of the live workers)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.breaker_open = Gauge(
            "carve_proxy_breaker_open",
            "1 while the upstream's circuit is open",
            ["backend"],
            registry=r,
            multiprocess_mode="max",
        )
        # (route, backend, outcome) -> [requests, seconds, per-bucket counts]; see observe()
        self._tally: dict[tuple[str, str, str], list[Any]] = {}
        # Set this process's gauges: run at every flush, so each worker exports its own
        # true values whichever worker answers a scrape (not only the one that answered).
        self._samplers: list[Callable[[], None]] = []

    def add_sampler(self, sample: Callable[[], None]) -> None:
        """Run `sample` (it sets gauges) before every flush of this process's figures."""
        self._samplers.append(sample)

    def setup(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._flushing)

    async def _flushing(self, app: web.Application) -> AsyncIterator[None]:
        async def flush_often() -> None:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                self.flush()

        task = asyncio.get_running_loop().create_task(flush_often())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.flush()

    def observe(self, route: str, backend: str, outcome: str, seconds: float) -> None:
        """Count one request. On the hot path, so it only adds up here: `flush` hands the
        sums to prometheus_client, whose every observation takes a lock and, with several
        workers, writes a shared file (that was 7% of a proxied request's CPU)."""
        key = (route, backend, outcome)
        tally = self._tally.get(key)
        if tally is None:
            tally = self._tally[key] = [0, 0.0, [0] * (len(LATENCY_BUCKETS) + 1)]
        tally[0] += 1
        tally[1] += seconds
        tally[2][bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound >= seconds

    def flush(self) -> None:
        """Hand the tallied requests to prometheus_client (every FLUSH_SECONDS, and before
        this process's figures are read)."""
        for sample in self._samplers:
            sample()
        tallies, self._tally = self._tally, {}
        for (route, backend, outcome), (count, total, buckets) in tallies.items():
            self.requests.labels(route, backend, outcome).inc(count)
            histogram = self.latency.labels(route, backend)
            # prometheus_client observes one value at a time; these are its own parts
            histogram._sum.inc(total)
            for bucket, n in zip(histogram._buckets, buckets, strict=True):
                if n:
                    bucket.inc(n)

    def collecting_registry(self) -> CollectorRegistry:
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return self.registry
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return merged

    def render(self) -> bytes:
        self.flush()
        return generate_latest(self.collecting_registry())

    def per_route(self) -> dict[str, dict[str, Any]]:
        """Cumulative figures per route for the dashboard, which turns them into rates."""
        self.flush()
        routes: dict[str, dict[str, Any]] = {}

        def entry(route: str) -> dict[str, Any]:
            return routes.setdefault(
                route,
                {"requests": 0.0, "errors": 0.0, "fallbacks": 0.0, "shadow": {}, "buckets": {}},
            )

        for family in self.collecting_registry().collect():
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "carve_proxy_requests_total":
                    row = entry(labels["route"])
                    row["requests"] += sample.value
                    if labels["outcome"] not in OK_OUTCOMES:
                        row["errors"] += sample.value
                elif sample.name == "carve_proxy_fallbacks_total":
                    entry(labels["route"])["fallbacks"] += sample.value
                elif sample.name == "carve_proxy_shadow_total":
                    shadow = entry(labels["route"])["shadow"]
                    shadow[labels["outcome"]] = shadow.get(labels["outcome"], 0) + sample.value
                elif sample.name == "carve_proxy_request_seconds_bucket":
                    buckets = entry(labels["route"])["buckets"]
                    buckets[labels["le"]] = buckets.get(labels["le"], 0) + sample.value
        return routes
