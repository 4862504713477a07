"""Prometheus /metrics for a Django service: request counts and latency, plus whatever
collectors the service's apps register (e.g. messaging's backlog and lag)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "carve_http_requests", "HTTP requests served", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "carve_http_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    registry=REGISTRY,
)
_registered: set[str] = set()


def register_collector(name: str, collector: Collector) -> None:
    """Add a collector once per process (apps call this from ready())."""
    if name not in _registered:
        REGISTRY.register(collector)
        _registered.add(name)


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def metrics_urls() -> list[URLPattern]:
    return [path("metrics", metrics_view, name="metrics")]


class RequestMetricsMiddleware:
    """Counts requests by the URL pattern that served them (not the raw path)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response
