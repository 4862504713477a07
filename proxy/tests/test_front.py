"""The front server (proxy/front.py): plain requests on its own protocol, the rest handed to
aiohttp at a request boundary, on the same connection, in order."""

from __future__ import annotations

import asyncio
import json

import pytest

import proxy.front
from proxy.tests.conftest import Dead, Fake, ProxyFactory

Trio = tuple[Fake, Fake, Fake]


async def exchange(port: int, data: bytes) -> bytes:
    """Send `data` at once (requests pipelined), read until the proxy closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    return answer


def split_answers(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """(status, headers, body) of each Content-Length-framed answer, in order."""
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        answers.append((int(lines[0].split(" ")[1]), headers, rest[:length]))
        data = rest[length:]
    return answers


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many connections the front handed to aiohttp."""
    counts = {"handed_over": 0}
    real = proxy.front.FrontConnection._hand_over

    def hand_over(self: proxy.front.FrontConnection) -> None:
        counts["handed_over"] += not self.handed_over
        real(self)

    monkeypatch.setattr(proxy.front.FrontConnection, "_hand_over", hand_over)
    return counts


async def test_pipelined_requests_are_answered_in_order_and_a_page_of_its_own_is_handed_over(
    trio: Trio, make_proxy: ProxyFactory, counted: dict[str, int]
) -> None:
    monolith, payments, _ = trio
    p = await make_proxy(*trio)
    port = p.client.port
    assert port
    host = f"Host: 127.0.0.1:{port}\r\n"
    data = (
        f"GET /api/orders/1 HTTP/1.1\r\n{host}\r\n"
        f"POST /api/orders/2 HTTP/1.1\r\n{host}Content-Length: 5\r\n\r\nhello"
        f"GET /healthz HTTP/1.1\r\n{host}\r\n"  # the proxy's own: aiohttp serves it
        f"GET /api/orders/3 HTTP/1.1\r\n{host}Connection: close\r\n\r\n"
    ).encode()
    answers = split_answers(await exchange(port, data))

    # The request handed over is the connection's last (proxy/front.py, one_request_only):
    # the client sends /api/orders/3 again on a new connection.
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert [json.loads(body)["path"] for _, _, body in answers[:2]] == [
        "/api/orders/1",
        "/api/orders/2",
    ]
    assert json.loads(answers[1][2])["body_size"] == 5
    assert json.loads(answers[2][2])["status"] == "ok"
    assert answers[2][1]["connection"] == "close"
    assert counted["handed_over"] == 1
    assert [r["path"] for r in monolith.seen] == ["/api/orders/1", "/api/orders/2"]


async def test_a_client_sending_far_ahead_is_held_then_served_in_full(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    """More than a request ahead in the buffer stops reading until it is served; every
    request is still answered (with reading never resumed, this would hang)."""
    monolith, _, _ = trio
    p = await make_proxy(*trio)
    assert p.client.port
    pad = "p" * 8000
    first = b"GET /api/orders/slow?delay=0.3 HTTP/1.1\r\nHost: x\r\n\r\n"
    ahead = b"".join(
        f"GET /api/orders/{i} HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n".encode()
        for i in range(40)
    )
    post = b"POST /api/orders/up HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"
    last = b"GET /api/orders/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answers = split_answers(
        await exchange(p.client.port, first + ahead + post + b"y" * 200_000 + last)
    )
    assert [status for status, _, _ in answers] == [200] * 43
    assert [r["path"] for r in monolith.seen][-2:] == ["/api/orders/up", "/api/orders/last"]
    assert monolith.seen[-2]["body_size"] == 200_000


async def test_http10_without_keep_alive_is_answered_and_closed(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    p = await make_proxy(*trio)
    assert p.client.port
    answer = await exchange(p.client.port, b"GET /api/orders/1 HTTP/1.0\r\n\r\n")
    ((status, headers, body),) = split_answers(answer)
    assert status == 200 and headers["connection"] == "close"
    assert json.loads(body)["upstream"] == "monolith"


async def test_http10_keep_alive_is_kept_and_said_so(trio: Trio, make_proxy: ProxyFactory) -> None:
    p = await make_proxy(*trio)
    assert p.client.port
    answers = split_answers(
        await exchange(
            p.client.port,
            b"GET /api/orders/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            b"GET /api/orders/2 HTTP/1.0\r\n\r\n",
        )
    )
    assert [(status, headers["connection"]) for status, headers, _ in answers] == [
        (200, "keep-alive"),
        (200, "close"),
    ]


async def test_a_streamed_answer_is_chunked_to_an_http11_client(
    trio: Trio, make_proxy: ProxyFactory, counted: dict[str, int]
) -> None:
    p = await make_proxy(*trio)
    assert p.client.port
    answer = await exchange(
        p.client.port,
        b"GET /api/orders/big?size=200000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    head, _, chunked = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
    body, rest = b"", chunked
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    assert body == b"x" * 200_000
    assert counted["handed_over"] == 0  # served by the front itself


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /api/orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET /api/orders/1 HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        b"GET /api/orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
    ],
)
async def test_malformed_requests_get_aiohttps_400(
    trio: Trio, make_proxy: ProxyFactory, request_bytes: bytes
) -> None:
    monolith, _, _ = trio
    p = await make_proxy(*trio)
    assert p.client.port
    answer = await exchange(p.client.port, request_bytes)
    assert answer.split(b" ", 2)[1] == b"400", answer[:200]
    assert monolith.seen == []


async def test_an_idle_keep_alive_connection_is_closed(
    trio: Trio, make_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy.front, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(proxy.front, "SWEEP_SECONDS", 0.05)
    p = await make_proxy(*trio)
    assert p.client.port
    reader, writer = await asyncio.open_connection("127.0.0.1", p.client.port)
    try:
        writer.write(b"GET /api/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)  # answered, and the connection kept
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # then closed idle
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_proxys_own_answers_carry_a_date(make_proxy: ProxyFactory) -> None:
    p = await make_proxy(Dead("monolith"), routes=[])
    assert p.client.port
    ((status, headers, body),) = split_answers(
        await exchange(p.client.port, b"GET /api/orders/1 HTTP/1.0\r\n\r\n")
    )
    assert status == 502 and json.loads(body)["code"] == "connect_error"
    assert headers["date"].endswith(" GMT")
