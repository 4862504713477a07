"""The lean upstream client against scripted raw HTTP servers: keep-alive, framing,
broken answers and timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from proxy.pool import UpstreamError, UpstreamPool

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Answers each connection with `script`; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> UpstreamPool:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            task = asyncio.current_task()
            assert task is not None
            self.handlers.add(task)
            try:
                await self.script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass  # the client went away, or the test is over
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.pool = UpstreamPool("127.0.0.1", port, connect_timeout=1)
        return self.pool

    async def __aexit__(self, *exc: object) -> None:
        self.pool.close()
        self.server.close()
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers)
        await self.server.wait_closed()


async def head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def keep_alive(body: bytes = b"hello") -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await head(reader)
            if request.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    return script


async def get(pool: UpstreamPool, method: str = "GET", **kwargs: float) -> tuple[int, bytes]:
    response = await pool.request(
        method, "/x", [("Accept", "*/*")], b"", content_length=None,
        first_byte_timeout=kwargs.get("first_byte", 2.0), total_timeout=kwargs.get("total", 5.0),
    )  # fmt: skip
    try:
        return response.status, await response.read()
    finally:
        response.release()


async def test_connections_are_kept_alive_and_reused() -> None:
    server = RawServer(keep_alive())
    async with server as pool:
        for method in ("GET", "HEAD", "GET", "GET"):
            status, body = await get(pool, method)
            assert status == 200 and body == (b"" if method == "HEAD" else b"hello")
    assert server.connections == 1


async def test_bodiless_answers_leave_the_connection_usable() -> None:
    answers = iter(
        [
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]
    )

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            await head(reader)
            writer.write(answer)
            await writer.drain()

    server = RawServer(script)
    async with server as pool:
        assert [await get(pool) for _ in range(3)] == [(204, b""), (304, b""), (200, b"ok")]
    assert server.connections == 1


async def test_connection_close_answers_are_not_reused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    server = RawServer(script)
    async with server as pool:
        assert await get(pool) == (200, b"ok")
        assert await get(pool) == (200, b"ok")
    assert server.connections == 2


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # then close without saying so: a keep-alive timeout

    server = RawServer(script)
    async with server as pool:
        assert await get(pool) == (200, b"ok")
        idle = pool._idle[0]
        deadline = time.monotonic() + 2
        while not idle.closed:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert await get(pool) == (200, b"ok")
    assert server.connections == 2


async def test_a_connection_idle_past_the_limit_is_not_reused() -> None:
    # The server's keep-alive ends at 0.3 s idle; a request arriving later on that
    # connection meets a server that has decided to close it (the race a proxy loses when it
    # keeps connections longer than its upstream does) and gets no answer.
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = None
        while True:
            await head(reader)
            if answered is not None and time.monotonic() - answered > 0.3:
                return  # closing: this request is dropped
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            answered = time.monotonic()

    server = RawServer(script)
    async with server as pool:
        pool.idle_seconds = 0.2
        assert await get(pool) == (200, b"ok")
        assert await get(pool) == (200, b"ok")  # reused at once
        await asyncio.sleep(0.5)  # the idle time being tested, longer than both limits
        assert await get(pool) == (200, b"ok")
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"hello world",
        ),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the connection closes", b"until the connection closes"),
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
            b"final",
        ),
    ],
)
async def test_chunked_close_delimited_and_informational_answers(
    answer: bytes, body: bytes
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head(reader)
        writer.write(answer)
        await writer.drain()

    async with RawServer(script) as pool:
        assert await get(pool) == (200, body)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ],
)
async def test_a_truncated_body_is_an_error(answer: bytes) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head(reader)
        writer.write(answer)
        await writer.drain()

    async with RawServer(script) as pool:
        with pytest.raises(UpstreamError, match="closed the connection"):
            await get(pool)
        assert not pool._idle


@pytest.mark.parametrize("answer", [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n"])
async def test_a_malformed_answer_is_an_error(answer: bytes) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head(reader)
        writer.write(answer)
        await writer.drain()
        await reader.read()

    async with RawServer(script) as pool:
        with pytest.raises(UpstreamError) as error:
            await get(pool)
        assert error.value.kind == "error"


async def test_first_byte_and_total_timeouts() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with RawServer(silent) as pool:
        started = time.monotonic()
        with pytest.raises(UpstreamError, match="no first byte") as error:
            await get(pool, first_byte=0.2)
        assert error.value.kind == "timeout" and time.monotonic() - started < 1.5

    async def dribble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with RawServer(dribble) as pool:
        with pytest.raises(UpstreamError, match="total timeout"):
            await get(pool, total=0.3)


async def test_a_refused_connect_is_a_connect_error() -> None:
    async with RawServer(keep_alive()) as pool:
        pass  # the server is gone now
    with pytest.raises(UpstreamError) as error:
        await get(pool)
    assert error.value.kind == "connect_error"


async def test_request_framing_and_header_safety() -> None:
    received: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await head(reader))
        received.append(await reader.readuntil(b"0\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b""
        yield b"defgh"

    async with RawServer(record) as pool:
        response = await pool.request(
            "POST", "/up?x=1", [("X-A", "1")],
            chunks(), content_length=None, first_byte_timeout=2, total_timeout=5,
        )  # fmt: skip
        assert response.status == 204
        response.release()
        request_head = received[0].decode()
        assert request_head.startswith("POST /up?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
        assert "Content-Length" not in request_head
        assert "Transfer-Encoding: chunked" in request_head and "X-A: 1" in request_head
        assert received[1] == b"3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"

        with pytest.raises(UpstreamError, match="line break"):
            await pool.request(
                "GET", "/", [("X-Bad", "a\r\nInjected: 1")], b"", content_length=None,
                first_byte_timeout=1, total_timeout=1,
            )  # fmt: skip
