"""The application factory: every feature is an object with `setup(app)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

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
        while True:
            await asyncio.sleep(self.interval)
            if await loop.run_in_executor(None, self.table.refresh):
                log.info("route table now at version %s", self.table.snapshot.version)


def create_app(config: ProxyConfig, store: RouteStore | None = None) -> web.Application:
    """The proxy as an aiohttp application; `store` defaults to config.routes_url."""
    app = web.Application(client_max_size=config.max_body_bytes)
    table = RouteTable(store if store is not None else open_store(config.routes_url))
    metrics = Metrics()
    shadow = Shadow(config, metrics)
    handler = ProxyHandler(config, table, metrics, shadow)
    app[CONFIG] = config
    app[TABLE] = table
    app[METRICS] = metrics
    app[SHADOW] = shadow
    app[HANDLER] = handler
    for feature in (
        TableRefresher(table),
        metrics,
        shadow,
        Health(table, metrics, handler),
        Admin(config, table, metrics, shadow, handler),
        handler,  # last: its catch-all route must not hide the others
    ):
        feature.setup(app)
    return app
