"""Shadow traffic: GET/HEAD mirrored to the service off the serving path, and compared.

The client's answer never waits for the mirror: it is sent once the monolith's answer
has been relayed. The mirror has its own ClientSession (its own connection pool) and a
concurrency cap; beyond it a sample is dropped (and counted), never queued. For the
first `baseline_samples` mirrors of a route the monolith is asked a second time (A/A)
to learn the fields that differ on their own; those and the configured ignore rules
are left out of the A/B compare. A difference is compared again after `settle_seconds`
(the service's copy lags by the replication delay): only one that lasts is a mismatch,
the others are counted as "converged". Mismatches are kept (a bounded ring) with the
request so they can be replayed.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from proxy.compare import Answer, NoiseBaseline, differences
from proxy.config import ProxyConfig, ShadowConfig
from proxy.headers import relative_location
from proxy.metrics import Metrics

# Headers a kept mismatch shows as they are; every other one is redacted (X-Carve-Token,
# X-Api-Key, a session header of any name...): an allow-list, not a list of known secrets.
SHOWN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "content-type",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "user-agent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-real-ip",
        "x-request-id",
    }
)


@dataclass(frozen=True)
class Mirror:
    """A request to mirror: where each side lives and what to send."""

    route: str
    method: str
    path_qs: str
    headers: Mapping[str, str]
    primary_base: str
    shadow_base: str


@dataclass
class Mismatch:
    id: int
    route: str
    at: float
    request: Mirror
    differences: list[str]
    replays: list[list[str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        r = self.request
        headers = {
            k: (v if k.lower() in SHOWN_HEADERS else "<redacted>") for k, v in r.headers.items()
        }
        return {
            "id": self.id,
            "route": self.route,
            "at": self.at,
            "method": r.method,
            "path": r.path_qs,
            "headers": headers,
            "differences": self.differences,
            "replays": self.replays,
        }


class Shadow:
    def __init__(self, config: ProxyConfig, metrics: Metrics) -> None:
        self.config: ShadowConfig = config.shadow
        self.metrics = metrics
        self.headers = tuple(h.lower() for h in self.config.compare_headers)
        self.ignore = {r.name: (*self.config.ignore, *r.ignore) for r in config.routes}
        self.baseline = NoiseBaseline(self.config.baseline_samples)
        self.mismatches: deque[Mismatch] = deque(maxlen=self.config.keep_mismatches)
        self._ids = itertools.count(1)
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def setup(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._session_ctx)

    async def _session_ctx(self, app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=self.config.max_concurrency * 2)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.config.timeout),
        )
        yield
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()

    def sampled(self, route: str) -> bool:
        """Whether to mirror this request; counts the ones dropped for capacity."""
        if self.config.sample_rate < 1.0 and random.random() >= self.config.sample_rate:
            return False
        if self._inflight >= self.config.max_concurrency:
            self.metrics.shadow.labels(route, "dropped").inc()
            return False
        return True

    def mirror(self, request: Mirror, primary: Answer) -> None:
        """Compare the service's answer with `primary` in the background."""
        if primary.body is None:
            self.metrics.shadow.labels(request.route, "skipped").inc()
            return
        self._inflight += 1
        primary = Answer(
            primary.status, relative_location(primary.headers, request.primary_base), primary.body
        )
        task = asyncio.get_running_loop().create_task(self._compare(request, primary))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _compare(self, request: Mirror, primary: Answer) -> None:
        try:
            if self.baseline.learning(request.route):
                again = await self._fetch(request, request.primary_base)
                self.baseline.learn(request.route, primary, again, self.headers)
            found = await self._differences(request, primary)
        except (aiohttp.ClientError, TimeoutError):
            self.metrics.shadow.labels(request.route, "error").inc()
            return
        finally:
            self._inflight -= 1
        if found is None:
            self.metrics.shadow.labels(request.route, "skipped").inc()
        elif found:
            await self._confirm(request, found)
        else:
            self.metrics.shadow.labels(request.route, "match").inc()

    async def _confirm(self, request: Mirror, found: list[str]) -> None:
        """Ask both sides again after `settle_seconds`: replication lag is not a mismatch."""
        self._inflight += 1
        try:
            await asyncio.sleep(self.config.settle_seconds)
            primary = await self._fetch(request, request.primary_base)
            again = await self._differences(request, primary) if primary.body is not None else None
        except (aiohttp.ClientError, TimeoutError):
            again = found
        finally:
            self._inflight -= 1
        if again == []:
            self.metrics.shadow.labels(request.route, "converged").inc()
            return
        self.metrics.shadow.labels(request.route, "mismatch").inc()
        mismatch = Mismatch(next(self._ids), request.route, time.time(), request, found)
        mismatch.replays.append(again if again is not None else ["too large to compare"])
        self.mismatches.append(mismatch)

    async def _differences(self, request: Mirror, primary: Answer) -> list[str] | None:
        service = await self._fetch(request, request.shadow_base)
        if service.body is None:
            return None
        rules = (*self.ignore.get(request.route, ()), *self.baseline.rules(request.route))
        return differences(primary, service, headers=self.headers, ignore=rules)

    async def _fetch(self, request: Mirror, base: str) -> Answer:
        assert self._session is not None, "Shadow.setup(app) was not called"
        async with self._session.request(
            request.method, base + request.path_qs, headers=request.headers, allow_redirects=False
        ) as response:
            cap = self.config.max_body_bytes
            headers = relative_location(response.headers, base)
            if response.content_length is not None and response.content_length > cap:
                return Answer(response.status, headers, None)
            body = await response.content.read(cap + 1)
            return Answer(response.status, headers, body if len(body) <= cap else None)

    async def replay(self, mismatch_id: int) -> Mismatch | None:
        """Send a recorded request to both sides again and record what differs now."""
        mismatch = next((m for m in self.mismatches if m.id == mismatch_id), None)
        if mismatch is None:
            return None
        primary = await self._fetch(mismatch.request, mismatch.request.primary_base)
        found = await self._differences(mismatch.request, primary)
        mismatch.replays.append(found if found is not None else ["too large to compare"])
        return mismatch
