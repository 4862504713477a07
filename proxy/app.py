"""The application factory: every feature is an object with `setup(app)`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.access import AdminAccess
from proxy.admin import Admin
from proxy.config import ProxyConfig
from proxy.handler import ProxyHandler
from proxy.health import Health
from proxy.metrics import Metrics
from proxy.shadow import Shadow
from routetable import RouteStore, RouteTable, open_store

log = logging.getLogger("carve.proxy")

CONFIG = web.AppKey("config", ProxyConfig)
TABLE = web.AppKey("table", RouteTable)
METRICS = web.AppKey("metrics", Metrics)
HANDLER = web.AppKey("handler", ProxyHandler)
SHADOW = web.AppKey("shadow", Shadow)

# How the server must run the app: the proxy relays bodies as they are (no request
# decompression) and writes its own access line.
RUNNER_KWARGS: dict[str, Any] = {"auto_decompress": False, "access_log": None}
REFRESH_SECONDS = 0.2


class TableRefresher:
    """Keeps the route table snapshot fresh from a background task (I/O in an executor)."""

    def __init__(self, table: RouteTable, interval: float = REFRESH_SECONDS) -> None:
        self.table = table
        self.interval = interval

    def setup(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._ctx)

    async def _ctx(self, app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.table.refresh)
        task = loop.create_task(self._run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await loop.run_in_executor(None, self.table.store.close)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:  # RouteTable.refresh() never raises; this loop must not die even so
                if await loop.run_in_executor(None, self.table.refresh):
                    log.info("route table now at version %s", self.table.snapshot.version)
                failing = False
            except Exception:
                if not failing:
                    log.exception("route table refresh failed; retrying every %s s", self.interval)
                failing = True


def snapshot_path(store_url: str) -> Path:
    """Where a proxy keeps its last good route table: under CARVE_VAR_DIR (default var/),
    one file per store, shared by the workers."""
    name = hashlib.sha256(store_url.encode()).hexdigest()[:12]
    return Path(os.environ.get("CARVE_VAR_DIR", "var")) / f"routes-snapshot-{name}.json"


def create_app(
    config: ProxyConfig, store: RouteStore | None = None, *, keep_snapshot: bool | None = None
) -> web.Application:
    """The proxy as an aiohttp application; `store` defaults to config.routes_url. The last
    good route table is kept on local disk (snapshot_path) unless a store is given (tests)
    and `keep_snapshot` is not set."""
    app = web.Application(client_max_size=config.max_body_bytes)
    if keep_snapshot is None:
        keep_snapshot = store is None
    store = store if store is not None else open_store(config.routes_url)
    table = RouteTable(store, snapshot_path=snapshot_path(store.url) if keep_snapshot else None)
    metrics = Metrics()
    shadow = Shadow(config, metrics)
    handler = ProxyHandler(config, table, metrics, shadow)
    access = AdminAccess(config.admin_token, config.admin_tokens_file)
    app[CONFIG] = config
    app[TABLE] = table
    app[METRICS] = metrics
    app[SHADOW] = shadow
    app[HANDLER] = handler
    for feature in (
        TableRefresher(table),
        metrics,
        shadow,
        Health(table, metrics, handler, access),
        Admin(config, table, metrics, shadow, handler, access),
        handler,  # last: its catch-all route must not hide the others
    ):
        feature.setup(app)
    return app
