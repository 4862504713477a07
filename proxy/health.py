"""/healthz (the process answers), /readyz (it can route), /metrics (Prometheus; the admin
token required, as for the admin API: the figures name routes, upstreams and traffic)."""

from __future__ import annotations

import os

from aiohttp import web

from proxy.access import AdminAccess
from proxy.admin import bad_entries, redacted_url
from proxy.handler import ProxyHandler
from proxy.metrics import Metrics
from proxy.resilience import BreakerState
from routetable import RouteTable


class Health:
    def __init__(
        self, table: RouteTable, metrics: Metrics, handler: ProxyHandler, access: AdminAccess
    ) -> None:
        self.access = access
        self.table = table
        self.metrics = metrics
        self.handler = handler
        self.draining = False
        metrics.add_sampler(self.sample)

    def setup(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.access.guarded(self.metrics_page))
        app.on_shutdown.append(self._drain)

    async def _drain(self, app: web.Application) -> None:
        self.draining = True

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid()})

    async def readyz(self, request: web.Request) -> web.Response:
        problems = []
        if self.draining:
            problems.append("draining")
        # Serving from the last good table (the store down) is ready: a store outage must
        # not take every proxy out of a load balancer. Not ready only with no table at all.
        if not self.table.loaded:
            snapshot = self.table.snapshot_problem or "there is no local snapshot"
            problems.append(
                f"no route table: the store {redacted_url(self.table.store.url)} cannot be "
                f"used ({self.table.last_error}) and {snapshot}"
            )
        if problems:
            return web.json_response({"status": "unavailable", "problems": problems}, status=503)
        age = self.table.age()
        return web.json_response(
            {
                "status": "ok",
                "pid": os.getpid(),
                "routes_version": self.table.snapshot.version,
                "routes_source": self.table.source,
                "routes_stale_seconds": None if age is None else round(age, 3),
                "store_error": self.table.last_error,
                "bad_entries": bad_entries(self.table),
                "snapshot_problem": self.table.snapshot_problem,
            }
        )

    def sample(self) -> None:
        """Set this process's gauges (run by Metrics at every flush, in every worker)."""
        age = self.table.age()
        self.metrics.table_stale.set(-1 if age is None else age)
        self.metrics.table_version.set(self.table.snapshot.version)
        for name, upstream in self.handler.upstreams.items():
            is_open = upstream.breaker.state is BreakerState.OPEN
            self.metrics.breaker_open.labels(name).set(1 if is_open else 0)

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain")
