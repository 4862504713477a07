"""Edges of the connection handling, over raw sockets: a service that answers an upload
before reading it, and connections the front hands to aiohttp (which must keep the proxy's
own limits on request heads)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from proxy.tests.conftest import Fake, FakeFactory, ProxyFactory, raw_request
from proxy.tests.test_attacks import answer_json, inflight, until

Trio = tuple[Fake, Fake, Fake]
UPLOAD = 30 << 20  # bytes: far over what the proxy buffers, and what a socket buffer holds
EARLY_ANSWER = json.dumps({"type": "validation_error", "detail": "no uploads here"}).encode()


class EarlyAnsweringService:
    """A service that reads a request's head, answers 400 at once, and `linger` seconds
    later closes without having read the body (as gunicorn does after a Django view refused
    a request without touching its body): the kernel then resets the connection under the
    sender, with the answer already sent."""

    def __init__(self, linger: float) -> None:
        self.linger = linger
        self.writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%b"
                % (len(EARLY_ANSWER), EARLY_ANSWER)
            )
            await writer.drain()
            await asyncio.sleep(self.linger)  # the service's own pace, not a wait for the test
        writer.transport.abort()
        self.writers.discard(writer)


async def upload(port: int, head: bytes, size: int) -> bytes:
    """Send `head` and a body of `size` bytes while reading the answer; the answer (all
    that came before the proxy closed), whether or not the whole body could be sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        writer.write(head)
        chunk = b"x" * (1 << 20)
        left = size
        with contextlib.suppress(ConnectionError):
            while left:
                writer.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
                await writer.drain()

    sending = asyncio.create_task(send())
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), timeout=30):
            data += chunk
            if b"\r\n\r\n" in data and is_whole(data):
                break
    sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    writer.transport.abort()
    return data


def is_whole(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


@pytest.mark.parametrize("linger", [0.3, 0.0], ids=["closes-later", "closes-at-once"])
async def test_a_service_that_answers_an_upload_early_gives_the_client_its_answer(
    fake: FakeFactory, make_proxy: ProxyFactory, linger: float
) -> None:
    """Issue 12: a 30 MB upload to a service answering 400 before reading the body gave the
    client a text/plain 500 (the reset under the body escaped the request path); the
    client must get the service's answer, and no bulkhead slot may stay taken. A service
    that resets the connection right after its answer may destroy that answer in the
    proxy's socket before it is read (nginx says 502 then too): a JSON 502, never a 500."""
    monolith, inventory = await fake("monolith"), await fake("inventory")
    async with EarlyAnsweringService(linger) as url:
        proxy = await make_proxy(monolith, Service("payments", url), inventory)
        await proxy.set_state("payments", "extracted")
        port = proxy.client.port
        assert port is not None
        for _ in range(3):
            head = b"POST /api/payments/upload HTTP/1.1\r\nHost: x\r\nContent-Type: "
            head += b"application/octet-stream\r\nContent-Length: %d\r\n\r\n" % UPLOAD
            data = await upload(port, head, UPLOAD)
            if linger == 0 and data.startswith(b"HTTP/1.1 502 "):
                assert b"application/json" in data.partition(b"\r\n\r\n")[0], data[:300]
                assert answer_json(data)["type"] == "bad_gateway"
                continue
            assert data.startswith(b"HTTP/1.1 400 "), data[:300]
            assert answer_json(data) == json.loads(EARLY_ANSWER)
        await until(lambda: inflight(proxy, "payments") == 0, "the upload holds its slot")
        status, data = await raw_request(
            port, b"GET /api/inventory/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert status == 200, data


class Service:
    """An upstream given by its URL alone (a server a test runs itself)."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url


BIG_HEAD = b"".join(b"X-Filler-%d: %b\r\n" % (n, b"v" * 7000) for n in range(100))  # 700 KB


async def exchange(port: int, data: bytes) -> bytes:
    """Send `data` on one connection and read until the proxy closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), timeout=20)
    finally:
        writer.transport.abort()


@pytest.mark.parametrize(
    "first",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",  # the proxy's own page
        b"GET /api/payments/a%20b HTTP/1.1\r\nHost: x\r\n\r\n",  # an escaped path
        b"POST /api/payments/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",  # a streamed upload
    ],
    ids=["own-page", "escaped-path", "chunked-upload"],
)
async def test_a_connection_handed_to_aiohttp_keeps_the_proxys_head_limits(
    trio: Trio, make_proxy: ProxyFactory, first: bytes
) -> None:
    """The front checks a request head (431 over 32 KiB, 408 after head_seconds, HTTP/1.x
    only) before it hands the connection to aiohttp, but aiohttp then served the next
    requests on it with its own limits (128 headers of 8 KiB: a 700 KB head was served).
    A connection aiohttp serves now ends after the request the front checked: every head
    any request is served from went through the proxy's own checks."""
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    oversized = b"GET /api/payments/big HTTP/1.1\r\nHost: x\r\n" + BIG_HEAD + b"\r\n"
    http2 = b"GET /api/payments/h2 HTTP/2.0\r\nHost: x\r\n\r\n"
    for second in (oversized, http2):
        answer = await exchange(port, first + second)
        assert answer.count(b"HTTP/1.1 ") == 1, answer[:500]
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:500]
        head = answer.partition(b"\r\n\r\n")[0] + b"\r\n"
        assert b"\r\nConnection: close\r\n" in head, answer[:500]
    unchecked = ("/api/payments/big", "/api/payments/h2")
    assert not [r for f in trio for r in f.seen if r["path"] in unchecked]
    status, data = await raw_request(port, oversized)  # where it is checked: the front
    assert status == 431, data[:300]


async def test_a_slow_head_after_a_handed_request_is_not_waited_for(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """A slowloris behind a request the front handed over: aiohttp has no head deadline, so
    the connection stays with nobody but the proxy's checks on it: it ends after the
    first answer, the slow head is never read."""
    proxy = await make_proxy(*trio, head_seconds=600.0)
    port = proxy.client.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/payments/slow HTTP/1.1\r\n")
    answer = await asyncio.wait_for(reader.read(), timeout=20)  # EOF: the proxy closed it
    writer.transport.abort()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert answer.count(b"HTTP/1.1 ") == 1


async def test_a_head_with_bare_line_feeds_is_refused_in_the_one_error_shape(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """Handed to aiohttp, such a head got aiohttp's text/plain 400."""
    proxy = await make_proxy(*trio)
    port = proxy.client.port
    assert port is not None
    status, data = await raw_request(port, b"GET /api/payments/x HTTP/1.1\nHost: x\n\n")
    assert status == 400, data
    assert answer_json(data)["code"] == "bad_line_ending"
    assert [r for f in trio for r in f.seen] == []
