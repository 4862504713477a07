"""Fake upstreams and a proxy in front of them, all on ephemeral loopback ports.

A fake upstream answers with what it received (method, raw path, headers, body size)
and takes its behaviour from the query string, which the proxy forwards unchanged:
`delay=S` (slow before the headers), `status=N`, `fail=N` (the first N requests per
path answer 503: flaky), `size=N` (an N-byte chunked body), `gzip=1` (a gzip body),
`noise=1` (a field that differs every time), `redirect=PATH|URL` (a 302 to PATH on
itself, or to URL), `owner=NAME` (NAME writes the context: every other fake answers 421
not_owner naming NAME, as a side that does not write it does; with `late=N` NAME itself
refuses its first N requests per path, naming the other side, as an owner whose handover
is not done; with `settling=N` it refuses them naming itself, as a side catching up before
it writes); `only=NAME` applies them on NAME alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from proxy.app import HANDLER, RUNNER_KWARGS, create_app
from proxy.config import ProxyConfig, finish
from proxy.front import FrontRunner
from routetable import open_store

TOKEN = "test-admin-token-0123456789"


@dataclass
class Fake:
    name: str
    server: TestServer
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


class Listener(Protocol):
    """An upstream a proxy under test is put in front of: a name and where it listens."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...


@dataclass
class Dead:
    """An upstream nobody listens on: every connect is refused."""

    name: str
    url: str = field(default_factory=lambda: f"http://127.0.0.1:{unused_port()}")


def fake_app(name: str, seen: list[dict[str, Any]]) -> web.Application:
    failures: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    arrived: dict[int, float] = ARRIVED
    noise = itertools.count()

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(f"{name}:{message.data}")
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket(request)
        body = await request.read()
        q: Mapping[str, str] = request.query
        if q.get("only", name) != name:
            q = {}
        record = {
            "upstream": name,
            "method": request.method,
            "path": request.raw_path,
            "headers": dict(request.headers),
            "body_size": len(body),
            "body_head": body[:64].decode("latin-1"),
        }
        seen.append(record)
        arrived[id(record)] = time.monotonic()
        if "delay" in q:
            await asyncio.sleep(float(q["delay"]))
        if "fail" in q and failures[request.path] < int(q["fail"]):
            failures[request.path] += 1
            return web.json_response({"upstream": name, "failed": True}, status=503)
        if "owner" in q:
            owner = q["owner"]
            refused = refusals[request.path]
            if owner == name and refused < int(q.get("late", "0")):
                refusals[request.path] += 1
                owner = "payments" if name == "monolith" else "monolith"
            if owner == name and refused < int(q.get("settling", "0")):
                refusals[request.path] += 1
                refusal = {"type": "not_owner", "code": "not_owner", "owner": owner}
                return web.json_response(refusal, status=421)
            if owner != name:
                refusal = {"type": "not_owner", "code": "not_owner", "owner": owner}
                return web.json_response(refusal, status=421)
        if "size" in q:
            response = web.StreamResponse(headers={"X-Upstream": name})
            response.enable_chunked_encoding()
            await response.prepare(request)
            left = int(q["size"])
            while left:
                chunk = min(left, 65536)
                await response.write(b"x" * chunk)
                left -= chunk
            await response.write_eof()
            return response
        if "redirect" in q:  # a path on itself, as Django builds absolute redirects, or a URL
            target = q["redirect"]
            location = target if "://" in target else f"http://{request.host}{target}"
            return web.Response(status=302, headers={"Location": location})
        if "gzip" in q:
            data = gzip.compress(json.dumps(record).encode())
            return web.Response(
                body=data,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        status = int(q.get("status", "200"))
        if "noise" in q:
            record["noise"] = next(noise)
        headers = {"X-Upstream": name, "Connection": "close, X-Secret-Hop", "X-Secret-Hop": "1"}
        if status in (204, 304):
            return web.Response(status=status, headers=headers)
        return web.json_response(record, status=status, headers=headers)

    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


ARRIVED: dict[int, float] = {}  # id(record) -> when a fake saw it: the order across fakes


def in_arrival_order(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda record: ARRIVED[id(record)])


FakeFactory = Callable[[str], Awaitable[Fake]]


@pytest.fixture
async def fake() -> Any:
    servers: list[TestServer] = []

    async def start(name: str) -> Fake:
        seen: list[dict[str, Any]] = []
        server = TestServer(fake_app(name, seen), host="127.0.0.1")
        await server.start_server(auto_decompress=False)  # record bodies as sent
        servers.append(server)
        return Fake(name, server, seen)

    yield start
    for server in servers:
        await server.close()


class ProxyTestServer(TestServer):
    """The proxy app served as `carve proxy` serves it: through the front protocol
    (proxy/front.py), which hands what is not a plain request to aiohttp."""

    async def _make_runner(self, **kwargs: Any) -> FrontRunner:
        return FrontRunner(self.app, handler=self.app[HANDLER], **kwargs)


def proxy_config(upstreams: dict[str, str], **overrides: Any) -> ProxyConfig:
    """A config with the usual two routes; `overrides` go into [proxy], or replace
    `routes`, `shadow` or per-upstream settings (`upstream_settings={name: {...}}`)."""
    settings = overrides.pop("upstream_settings", {})
    data: dict[str, Any] = {
        "proxy": {"admin_token": TOKEN, "auth_key": None, "routes_url": None},
        "upstreams": {
            name: {"url": url, **settings.get(name, {})} for name, url in upstreams.items()
        },
        "routes": overrides.pop(
            "routes",
            [
                {"name": "payments", "prefix": "/api/payments/", "service": "payments"},
                {"name": "inventory", "prefix": "/api/inventory/", "service": "inventory"},
            ],
        ),
        "shadow": overrides.pop("shadow", {}),
    }
    data["proxy"].update(overrides)
    return finish(data, "test config")


@dataclass
class Proxy:
    client: TestClient[web.Request, web.Application]
    app: web.Application
    config: ProxyConfig
    store_url: str

    async def set_state(self, route: str, state: str) -> None:
        response = await self.client.put(
            f"/_carve/api/routes/{route}",
            json={"state": state},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status == 200, await response.text()


ProxyFactory = Callable[..., Awaitable[Proxy]]


@pytest.fixture
def make_proxy(aiohttp_client: Any, tmp_path: Path) -> ProxyFactory:
    """Start a proxy in front of the given fakes (monolith, payments, inventory...)."""

    async def start(*fakes: Listener, **overrides: Any) -> Proxy:
        config = proxy_config({f.name: f.url for f in fakes}, **overrides)
        store_url = f"file:{tmp_path}/routes.json"
        config = dataclasses.replace(config, routes_url=store_url)
        app = create_app(config, open_store(store_url))
        server = ProxyTestServer(app, host="127.0.0.1")
        await server.start_server(**RUNNER_KWARGS)  # TestServer() itself ignores them
        client = await aiohttp_client(server)
        return Proxy(client, app, config, store_url)

    return start


@pytest.fixture
async def trio(fake: Any) -> tuple[Fake, Fake, Fake]:
    """The usual three upstreams."""
    return await fake("monolith"), await fake("payments"), await fake("inventory")


async def metric(proxy: Proxy, name: str, **labels: str) -> float:
    """The value of one sample on the proxy's /metrics page (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    page = await proxy.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = await page.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are (no client normalises the path) and read the status line
    and whole answer; the connection is closed after one exchange."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=20)
    writer.close()
    await writer.wait_closed()
    status = int(data.split(b" ", 2)[1])
    return status, data


class LiveProxy:
    """Fakes and a proxy served from a background thread's event loop, for synchronous
    tests (the CLI, a browser, hypothesis) that must not block the loop they talk to."""

    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        import threading

        self.store_url = f"file:{tmp_path}/routes.json"
        self._overrides = overrides
        self.loop = asyncio.new_event_loop()
        self.fakes: dict[str, Fake] = {}
        self._servers: list[TestServer] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LiveProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    async def _start(self) -> None:
        for name in ("monolith", "payments", "inventory"):
            seen: list[dict[str, Any]] = []
            server = TestServer(fake_app(name, seen), host="127.0.0.1")
            await server.start_server(auto_decompress=False)
            self._servers.append(server)
            self.fakes[name] = Fake(name, server, seen)
        config = proxy_config({n: f.url for n, f in self.fakes.items()}, **self._overrides)
        self.config = dataclasses.replace(config, routes_url=self.store_url)
        self.app = create_app(self.config, open_store(self.store_url))
        server = ProxyTestServer(self.app, host="127.0.0.1")
        await server.start_server(**RUNNER_KWARGS)
        self._servers.append(server)
        self.port: int = server.port or 0

    async def _stop(self) -> None:
        for server in reversed(self._servers):
            await server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, coroutine: Awaitable[Any]) -> Any:
        async def wrapped() -> Any:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=30)


@pytest.fixture
def live_proxy(tmp_path: Path) -> Any:
    with LiveProxy(tmp_path) as live:
        yield live
