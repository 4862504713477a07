"""HTTP correctness: headers, streaming both ways, limits, compression, bodiless answers,
websockets."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy.tests.conftest import Dead, Fake, ProxyFactory, raw_request

Trio = tuple[Fake, Fake, Fake]


async def test_hop_by_hop_headers_are_stripped_both_ways(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith = trio[0]
    proxy = await make_proxy(*trio)
    head = (
        b"GET /x HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Hop-Only\r\n"
        b"X-Hop-Only: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        b"Proxy-Authorization: Basic Zm9v\r\nUpgrade: h2c\r\nX-Kept: yes\r\n"
        b"Connection: close\r\n\r\n"
    )
    status, data = await raw_request(proxy.client.port or 0, head)
    assert status == 200
    sent = {k.lower() for k in monolith.seen[0]["headers"]}
    assert not sent & {"x-hop-only", "keep-alive", "te", "proxy-authorization", "upgrade"}
    assert "x-kept" in sent
    answer_head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert b"x-upstream: monolith" in answer_head
    assert b"x-secret-hop" not in answer_head  # named in the upstream's Connection header


async def test_forwarded_headers_and_request_id(trio: Trio, make_proxy: ProxyFactory) -> None:
    monolith = trio[0]
    proxy = await make_proxy(*trio, public_hosts=["shop.example", "www.shop.example"])
    claims = {
        "Forwarded": "for=10.0.0.1;host=evil.example",
        "X-Real-IP": "10.0.0.1",
        "X-Forwarded-Port": "443",
        "X-Original-URL": "/_carve/api/routes",
        "X-Rewrite-URL": "/admin",
    }
    response = await proxy.client.get(
        "/x",
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "spoofed",
            "Host": "WWW.shop.example",
            **claims,
        },
    )
    created = response.headers["X-Request-ID"]
    sent = monolith.seen[0]["headers"]
    assert sent["X-Forwarded-For"] == "127.0.0.1"  # the edge: the client's claim is dropped
    assert sent["X-Forwarded-Proto"] == "http"
    assert sent["X-Forwarded-Host"] == "www.shop.example"
    assert sent["X-Real-IP"] == "127.0.0.1"
    assert not {"Forwarded", "X-Forwarded-Port", "X-Original-URL", "X-Rewrite-URL"} & set(sent)
    assert sent["X-Request-ID"] == created and len(created) == 32

    response = await proxy.client.get("/x", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    assert monolith.seen[1]["headers"]["X-Request-ID"] == "abc-123"
    response = await proxy.client.get("/x", headers={"X-Request-ID": "bad id\u00e9"})
    assert response.headers["X-Request-ID"] != "bad id"

    await proxy.client.get("/x", headers={"Host": "evil.example"})
    assert monolith.seen[-1]["headers"]["X-Forwarded-Host"] == "shop.example"


async def test_large_bodies_stream_both_ways(trio: Trio, make_proxy: ProxyFactory) -> None:
    monolith = trio[0]
    proxy = await make_proxy(*trio)
    size = 8 << 20  # well over aiohttp's 1 MiB default body cap

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(size // 65536):
            yield b"y" * 65536

    response = await proxy.client.post("/upload", data=chunks())
    assert response.status == 200
    assert monolith.seen[0]["body_size"] == size
    assert monolith.seen[0]["headers"].get("Transfer-Encoding") == "chunked"

    response = await proxy.client.get(f"/download?size={size}")
    received = 0
    async for chunk in response.content.iter_any():
        received += len(chunk)
    assert received == size


async def test_a_body_over_the_limit_is_413(trio: Trio, make_proxy: ProxyFactory) -> None:
    monolith = trio[0]
    proxy = await make_proxy(*trio, max_body_bytes=1000)
    response = await proxy.client.post("/x", data=b"z" * 1001)
    assert response.status == 413
    assert not monolith.seen

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"z" * 100

    response = await proxy.client.post("/x", data=chunks())
    assert response.status == 413
    response = await proxy.client.post("/x", data=b"z" * 1000)
    assert response.status == 200


async def test_compressed_bodies_pass_through_untouched(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith = trio[0]
    proxy = await make_proxy(*trio)
    packed = gzip.compress(b'{"a": 1}')
    posted = await proxy.client.post(
        "/x", data=packed, headers={"Content-Encoding": "gzip"}, auto_decompress=False
    )
    assert posted.status == 200
    assert monolith.seen[0]["body_size"] == len(packed)  # not inflated by the proxy

    async with (
        aiohttp.ClientSession(auto_decompress=False) as raw,
        raw.get(f"{proxy.client.make_url('/x')}?gzip=1") as response,
    ):
        assert response.headers["Content-Encoding"] == "gzip"
        body = await response.read()
    assert json.loads(gzip.decompress(body))["upstream"] == "monolith"


async def test_head_204_and_304_have_no_body(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    port = proxy.client.port or 0
    status, data = await raw_request(
        port, b"HEAD /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    head, body = data.split(b"\r\n\r\n", 1)
    assert status == 200 and body == b""
    assert b"content-length: " in head.lower()  # the GET's length, as HEAD promises
    for code in (204, 304):
        status, data = await raw_request(
            port, f"GET /x?status={code} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        )
        head, body = data.split(b"\r\n\r\n", 1)
        assert status == code and body == b""
        assert b"transfer-encoding" not in head.lower()


async def test_redirects_to_the_upstream_itself_point_at_the_proxy(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)  # no public host configured: a relative Location
    response = await proxy.client.get("/x?redirect=/done", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/done"
    response = await proxy.client.get(
        "/x", params={"redirect": "https://elsewhere.example/x"}, allow_redirects=False
    )
    assert response.headers["Location"] == "https://elsewhere.example/x"  # left alone


async def test_a_location_names_only_a_configured_host(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """A client's Host is never written into a redirect (Host: evil.example gave
    Location: http://evil.example/...)."""
    proxy = await make_proxy(*trio, public_hosts=["shop.example"])
    port = proxy.client.port
    assert port is not None
    for host in (b"evil.example", b"shop.example"):
        _, data = await raw_request(
            port,
            b"GET /x?redirect=/done HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n",
        )
        assert b"\r\nLocation: http://shop.example/done\r\n" in data, data


async def test_upstream_statuses_and_errors_pass_through(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    response = await proxy.client.get("/x?status=418")
    assert response.status == 418


async def test_websockets_are_passed_through(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    async with proxy.client.ws_connect("/api/payments/live", protocols=("chat",)) as ws:
        assert ws.protocol == "chat"
        await ws.send_str("hello")
        assert await ws.receive_str() == "payments:hello"
        await ws.send_bytes(b"abc")
        assert await ws.receive_bytes() == b"cba"
    async with proxy.client.ws_connect("/ws") as ws:
        await ws.send_str("hi")
        assert await ws.receive_str() == "monolith:hi"


async def truncating_upstream(length: int) -> asyncio.Server:
    """Promises `length` bytes, sends 10, and hangs up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n0123456789" % length)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def test_an_upstream_that_dies_mid_body(make_proxy: ProxyFactory) -> None:
    small, large = await truncating_upstream(100), await truncating_upstream(10_000_000)
    try:
        for server, streamed in ((small, False), (large, True)):
            port = server.sockets[0].getsockname()[1]
            proxy = await make_proxy(Dead("monolith", f"http://127.0.0.1:{port}"), routes=[])
            response = await proxy.client.get("/x")
            if streamed:  # the headers were already out: the client sees a cut body
                assert response.status == 200
                with pytest.raises(aiohttp.ClientPayloadError):
                    await response.read()
            else:  # nothing was sent yet: a clean 502
                assert response.status == 502
                assert (await response.json())["code"] == "error"
    finally:
        for server in (small, large):
            server.close()
            await server.wait_closed()


async def test_a_websocket_holds_a_bulkhead_slot(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio, upstream_settings={"payments": {"max_concurrency": 1}})
    await proxy.set_state("payments", "extracted")
    async with proxy.client.ws_connect("/api/payments/live") as ws:
        await ws.send_str("one")
        assert await ws.receive_str() == "payments:one"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await proxy.client.ws_connect("/api/payments/live")
        assert refused.value.status == 503
    deadline = asyncio.get_running_loop().time() + 2
    while True:  # the slot comes back once the first socket is closed
        try:
            async with proxy.client.ws_connect("/api/payments/live") as ws:
                break
        except aiohttp.WSServerHandshakeError:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)


async def test_a_websocket_to_a_dead_upstream_is_502(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(Dead("monolith"), routes=[])
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await proxy.client.ws_connect("/ws")
    assert refused.value.status == 502
