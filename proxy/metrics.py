"""Prometheus metrics per route, backend and outcome, and the dashboard's figures.

With several worker processes the values live in prometheus_client's multiprocess
files (PROMETHEUS_MULTIPROC_DIR, set by the supervisor), so /metrics and the dashboard
show the sum over all workers whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OK_OUTCOMES = frozenset({"ok"})


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
        self.breaker_open = Gauge(
            "carve_proxy_breaker_open",
            "1 while the upstream's circuit is open",
            ["backend"],
            registry=r,
            multiprocess_mode="max",
        )
        self._observers: dict[tuple[str, str, str], Callable[[float], None]] = {}

    def observe(self, route: str, backend: str, outcome: str, seconds: float) -> None:
        """Count one request; the label children are cached, this is on the hot path."""
        key = (route, backend, outcome)
        observer = self._observers.get(key)
        if observer is None:
            counter = self.requests.labels(route, backend, outcome)
            histogram = self.latency.labels(route, backend)

            def observer(s: float, c: Any = counter, h: Any = histogram) -> None:
                c.inc()
                h.observe(s)

            self._observers[key] = observer
        observer(seconds)

    def collecting_registry(self) -> CollectorRegistry:
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return self.registry
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return merged

    def render(self) -> bytes:
        return generate_latest(self.collecting_registry())

    def per_route(self) -> dict[str, dict[str, Any]]:
        """Cumulative figures per route for the dashboard, which turns them into rates."""
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
