"""The proxy under attack (issue 13): each defect a probe found, over raw sockets, and after
each attack the proxy serves normal traffic again (no slot, breaker or connection leaks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable

import pytest

from proxy.app import HANDLER, TABLE
from proxy.tests.conftest import TOKEN, Fake, Proxy, ProxyFactory, metric, raw_request

Trio = tuple[Fake, Fake, Fake]


async def until(condition: Callable[[], bool], message: str, timeout: float = 10.0) -> None:
    """Poll `condition` until it holds; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s: {message}"
        await asyncio.sleep(0.02)


async def abort_upload(proxy: Proxy, name: str, head: bytes, sent: bytes) -> None:
    """Start an upload to upstream `name`, and vanish mid-body once the proxy is sending it;
    then wait until the proxy has given the upload's bulkhead slot back."""
    port = proxy.client.port
    assert port is not None
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + sent)
    await writer.drain()
    await until(lambda: inflight(proxy, name) == 1, "the upload never reached the upstream")
    writer.transport.abort()
    await until(lambda: inflight(proxy, name) == 0, "the aborted upload holds its slot")


def inflight(proxy: Proxy, name: str) -> int:
    return proxy.app[HANDLER].upstreams[name].inflight


def answer_json(data: bytes) -> dict[str, object]:
    head, _, body = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    parsed: dict[str, object] = json.loads(body)
    return parsed


@pytest.mark.parametrize(
    "framing",
    [
        b"Transfer-Encoding: chunked\r\n\r\n400\r\n" + b"x" * 1024 + b"\r\n",
        b"Content-Length: 300000\r\n\r\n" + b"x" * 1024,
    ],
    ids=["chunked", "content-length"],
)
async def test_aborted_uploads_give_their_bulkhead_slots_back(
    trio: Trio, make_proxy: ProxyFactory, framing: bytes
) -> None:
    """Defect 1: a client that aborts a streamed upload took its slot for good."""
    proxy = await make_proxy(*trio, upstream_settings={"payments": {"max_concurrency": 4}})
    await proxy.set_state("payments", "extracted")
    port = proxy.client.port
    assert port is not None
    for n in range(12):
        head = f"POST /api/payments/leak{n} HTTP/1.1\r\nHost: x\r\n".encode()
        await abort_upload(proxy, "payments", head, framing)
    status, data = await raw_request(
        port, b"POST /api/payments/charges/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}"
    )  # fmt: skip
    assert status == 200, data
    assert answer_json(data)["upstream"] == "payments"
    status, data = await raw_request(
        port, b"GET /api/payments/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer_json(data)["upstream"] == "payments"  # not a silent fallback


async def test_a_half_open_breaker_is_not_stuck_by_an_oversized_or_aborted_probe(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """Defect 2: a probe that went over max_body_bytes (413) or was aborted recorded
    neither success nor failure: the breaker stayed half-open, every request refused."""
    proxy = await make_proxy(
        *trio,
        max_body_bytes=4096,
        upstream_settings={
            "payments": {
                "retries": 0,
                "breaker_failures": 1,
                "breaker_reset_seconds": 0.2,
                "first_byte_timeout": 0.1,
            }
        },
    )
    await proxy.set_state("payments", "extracted")
    port = proxy.client.port
    assert port is not None
    breaker = proxy.app[HANDLER].upstreams["payments"].breaker

    async def open_it() -> None:
        status, _ = await raw_request(
            port, b"POST /api/payments/slow?delay=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n"
        )  # fmt: skip
        assert status == 504
        await until(breaker.probe_due, "the breaker never reached its reset time")

    await open_it()  # the probe: an upload over the limit
    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
    status, _ = await raw_request(
        port,
        b"POST /api/payments/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunk * 3 + b"0\r\n\r\n",
    )
    assert status == 413
    status, data = await raw_request(
        port, b"POST /api/payments/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )  # fmt: skip
    assert status == 200, data

    await open_it()  # the probe: an upload the client aborts
    await abort_upload(
        proxy,
        "payments",
        b"POST /api/payments/gone HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"400\r\n" + b"x" * 1024 + b"\r\n",
    )
    status, data = await raw_request(
        port, b"POST /api/payments/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )  # fmt: skip
    assert status == 200, data


async def test_application_500s_do_not_take_the_default_route_down(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """Defect 3: five GETs of a page that 500s opened the monolith's breaker, and then
    `GET /` and every POST got 503 breaker_open."""
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    for _ in range(8):
        status, _ = await raw_request(
            port,
            b"GET /api/orders/boom?status=500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert status == 500
    for head in (
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /api/orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ):
        status, data = await raw_request(port, head)
        assert status == 200, data


@pytest.mark.parametrize(
    "target",
    [
        b"/api/payments/../../_carve/api/routes",
        b"//_carve/api/routes",
        b"/./_carve/api/routes",
        b"/%5fcarve/api/routes",
        b"/x/../metrics",
        b"/x/../healthz",
        b"/%2E/readyz",
        b"/metrics/",
        # found by the outside attack on issue 12: the monolith's metrics through the proxy
        b"//metrics",
        b"/api/../metrics",
        b"/api/payments/../../metrics",
    ],
)
@pytest.mark.parametrize("upgrade", [False, True], ids=["plain", "websocket"])
async def test_the_proxys_own_paths_are_never_forwarded(
    trio: Trio, make_proxy: ProxyFactory, target: bytes, upgrade: bool
) -> None:
    """Defect 4: aiohttp matched the proxy's own routes on the raw path, and the proxy
    canonicalised only afterwards: the monolith received /_carve/api/routes."""
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    extra = (
        b"Upgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if upgrade
        else b"Connection: close\r\n"
    )
    status, data = await raw_request(
        port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"
    )
    assert 400 <= status < 500, data
    assert [r for f in trio for r in f.seen] == []


async def test_an_admin_token_that_is_not_utf8_is_refused_with_401(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """Defect 6: a token header of bytes that are not UTF-8 gave a 500 with a traceback."""
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    for header in (b"X-Carve-Token: \xff\xfe", b"Authorization: Bearer \xff\xfe"):
        status, data = await raw_request(
            port, b"GET /_carve/api/routes HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n"
            b"Connection: close\r\n\r\n"
        )  # fmt: skip
        assert status == 401, data
    ok = await proxy.client.get("/_carve/api/routes", headers={"X-Carve-Token": TOKEN})
    assert ok.status == 200


async def test_metrics_are_not_public_through_the_proxy(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """Issue 12: /metrics (the proxy's and any upstream's) is not served to the public."""
    proxy = await make_proxy(*trio)
    assert (await proxy.client.get("/metrics")).status == 401
    assert (await proxy.client.get("/metrics/")).status == 400
    assert await metric(proxy, "carve_proxy_breaker_open", backend="monolith") == 0
    assert [r for f in trio for r in f.seen] == []


async def test_a_slowloris_head_is_cut_at_the_head_deadline(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """Each byte reset the idle sweep: a head sent a byte at a time was never closed."""
    proxy = await make_proxy(*trio, head_seconds=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.client.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    answer = b""
    while not answer and time.monotonic() - started < 10:
        writer.write(b"X")
        with contextlib.suppress(TimeoutError):
            answer = await asyncio.wait_for(reader.read(), timeout=0.2)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert [r for f in trio for r in f.seen] == []


async def test_a_worker_refuses_connections_over_its_cap_with_a_clear_answer(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, max_connections=3)
    port = proxy.client.port
    assert port is not None
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    status, data = await raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 503 and b"too_many_connections" in data
    for _, writer in idle:
        writer.close()
    served: list[int] = []

    async def ask() -> None:
        status, _ = await raw_request(
            port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        served.append(status)

    deadline = time.monotonic() + 10
    while not served or served[-1] != 200:
        assert time.monotonic() < deadline, f"never served again: {served}"
        await ask()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (
            b"GET / HTTP/1.1\r\n"
            + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 7000) for i in range(100)),
            431,
        ),
        (b"GET /\r\n", 400),  # HTTP/0.9
        (b"GET / HTTP/2.0\r\nHost: x\r\n", 400),
        (b"GET / HTTP/1.2\r\nHost: x\r\n", 400),
        (b"GARBAGE\r\nHost: x\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n", 400),  # aiohttp's parser refuses
        (b"GET /a/%c0%ae%c0%ae/_carve HTTP/1.1\r\nHost: x\r\n", 400),  # overlong UTF-8
        (b"GET /a/..;/b HTTP/1.1\r\nHost: x\r\n", 400),
    ],
    ids=[
        "head-700k",
        "http-0.9",
        "http-2.0",
        "http-1.2",
        "garbage",
        "bad-header",
        "overlong-utf8",
        "dotdot-params",
    ],
)
async def test_malformed_requests_are_refused_with_one_info_line(
    trio: Trio,
    make_proxy: ProxyFactory,
    caplog: pytest.LogCaptureFixture,
    head: bytes,
    status: int,
) -> None:
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    with caplog.at_level(logging.INFO):
        got, data = await raw_request(port, head + b"Connection: close\r\n\r\n")
    assert got == status, data
    assert [r for f in trio for r in f.seen] == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not any(r.exc_info for r in caplog.records)


async def test_retries_and_fallback_share_one_deadline(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """A slow service GET took 3 attempts of the first-byte timeout, then 3 more at the
    monolith: each had its own clock."""
    slow = {"first_byte_timeout": 0.5, "total_timeout": 1.0, "retries": 2}
    proxy = await make_proxy(*trio, upstream_settings={"payments": slow, "monolith": slow})
    await proxy.set_state("payments", "extracted")
    started = time.monotonic()
    response = await proxy.client.get("/api/payments/x?delay=5")
    took = time.monotonic() - started
    assert response.status == 504
    assert took < 2.0, f"{took:.2f} s: more than the one deadline of 1 s"


async def test_a_get_whose_service_breaks_mid_body_falls_back(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """The service promises 100 bytes, sends 10 and closes: nothing went to the client
    yet, so the GET is served by the monolith, as documented."""

    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(broken, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monolith, _, inventory = trio
    try:
        service = Fake("payments", trio[1].server)
        proxy = await make_proxy(monolith, service, inventory)
        handler = proxy.app[HANDLER]
        handler.upstreams["payments"].pool.port = port
        await proxy.set_state("payments", "extracted")
        response = await proxy.client.get("/api/payments/x")
        assert response.status == 200
        assert (await response.json())["upstream"] == "monolith"
    finally:
        server.close()
        await server.wait_closed()


async def test_the_route_stores_password_is_never_shown(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    proxy.app[TABLE].store.url = "redis://:hunter2@127.0.0.1:6379/0?prefix=carve:routes:"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for page in ("/_carve/api/routes", "/_carve/api/stats"):
        answer = await (await proxy.client.get(page, headers=auth)).json()
        assert answer["store"] == "redis://:***@127.0.0.1:6379/0?prefix=carve:routes:"


async def test_canary_0_is_refused(trio: Trio, make_proxy: ProxyFactory) -> None:
    """canary 0 moved every write to the service while it served no reads."""
    proxy = await make_proxy(*trio)
    response = await proxy.client.put(
        "/_carve/api/routes/payments",
        json={"state": "canary 0"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 400
    assert "use shadow" in (await response.json())["detail"]
    written = await proxy.client.post("/api/payments/charges/", json={})
    assert (await written.json())["upstream"] == "monolith"
