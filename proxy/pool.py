"""A lean HTTP/1.1 client for the request path: a keep-alive connection pool per upstream.

aiohttp's ClientSession spends more CPU per request than the rest of the proxy put
together (benchmarks/README.md, "## proxy"), on features a proxy does not use: cookies,
redirects, auth, proxies, tracing, URL building. This client writes the request head
itself and parses the answer with aiohttp's own C parser and StreamReader, so chunked
bodies, read-until-close bodies, flow control and the keep-alive rules are aiohttp's.

Everything written is already validated: the method and headers come from aiohttp's
server parser (which rejects CR/LF in values), the target is the canonical path with
its query, and a value with a line break is refused here all the same.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import HttpResponseParser
from aiohttp.streams import StreamReader
from multidict import CIMultiDictProxy

READ_LIMIT = 2**16
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


class UpstreamError(Exception):
    """No usable answer; `kind` is the metrics outcome (connect_error, timeout, error)."""

    def __init__(self, kind: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status


class _Connection(BaseProtocol):
    """One keep-alive connection; a new response parser for every request on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._parser: Any = None
        self.waiter: asyncio.Future[tuple[Any, StreamReader]] | None = None
        self.payload: StreamReader | None = None
        self.should_close = False
        self.closed = False
        self.idle_since = 0.0

    def begin(self, head_only: bool) -> asyncio.Future[tuple[Any, StreamReader]]:
        self._parser = HttpResponseParser(
            self,
            self._loop,
            READ_LIMIT,
            response_with_body=not head_only,
            read_until_eof=True,
            auto_decompress=False,
        )
        self.payload = None
        self.waiter = self._loop.create_future()
        return self.waiter

    def data_received(self, data: bytes) -> None:
        if self._parser is None:
            self.fail(UpstreamError("error", 502, "the upstream sent bytes nobody asked for"))
            return
        try:
            messages, _upgraded, _tail = self._parser.feed_data(data)
        except Exception as exc:
            self.fail(UpstreamError("error", 502, f"the upstream's answer is malformed: {exc}"))
            return
        for message, payload in messages:
            if 100 <= message.code < 200 and message.code != 101:
                continue  # informational (103 Early Hints...): the real answer follows
            self.should_close = self.should_close or message.should_close
            self.payload = payload
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result((message, payload))
            self._wake_writer()

    @property
    def answered(self) -> bool:
        """Whether the answer's head is in (a service may answer before the whole body)."""
        waiter = self.waiter
        return waiter is not None and waiter.done()

    def _wake_writer(self) -> None:
        """A body sender waiting for the socket's buffer to drain looks up: the answer is in,
        and the rest of the body is not wanted."""
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            self._drain_waiter = None
            drain.set_result(None)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        if self._parser is not None:
            try:
                self._parser.feed_eof()  # completes a body that runs until close
            except Exception:
                pass  # a truncated body: the payload gets the error below
        self.fail(UpstreamError("error", 502, "the upstream closed the connection"))
        super().connection_lost(exc)

    def time_out(self, what: str) -> None:
        self.fail(UpstreamError("timeout", 504, what))

    def fail(self, error: UpstreamError) -> None:
        """Wake whoever waits on this connection with `error`, and close it."""
        self.should_close = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        if self.payload is not None and not self.payload.is_eof():
            self.payload.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """The answer's status and headers; `content` streams the body."""

    __slots__ = ("status", "reason", "headers", "content", "content_length", "_done")

    def __init__(self, message: Any, content: StreamReader, done: Any) -> None:
        self.status: int = message.code
        self.reason: str = message.reason
        self.headers: CIMultiDictProxy[str] = message.headers
        self.content = content
        length = message.headers.get("Content-Length")
        self.content_length = int(length) if length is not None and length.isdigit() else None
        self._done = done

    async def read(self) -> bytes:
        return await self.content.read()

    def body_if_complete(self) -> bytes | None:
        """The whole body when it has all arrived (the usual small answer), else None."""
        content = self.content
        if content.is_eof() and content.exception() is None:
            return content.read_nowait()
        return None

    def release(self) -> None:
        """Give the connection back (reused only if the whole body was read)."""
        done, self._done = self._done, None
        if done is not None:
            done(self.content.is_eof())


class UpstreamPool:
    """Idle keep-alive connections to one upstream, newest first; at most
    `idle_seconds` idle (below the upstream's keep-alive, so a reused connection is not
    one the server is closing)."""

    def __init__(
        self, host: str, port: int, *, connect_timeout: float, idle_seconds: float = 1.5
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.idle_seconds = idle_seconds
        self._host_header = f"Host: {host}:{port}\r\n"
        self._idle: deque[_Connection] = deque()

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
        *,
        content_length: int | None,
        first_byte_timeout: float,
        total_timeout: float,
    ) -> UpstreamResponse:
        """Send one request; the answer's headers are in, the body is still streaming."""
        loop = asyncio.get_running_loop()
        conn = await self._acquire(loop)
        waiter = conn.begin(method == "HEAD")
        deadline = loop.time() + total_timeout
        # One timer at a time where it can be (two per request cost more than the routing):
        # the total timeout runs from the start only while a streamed body is sent, and
        # after the head only while the answer's body is still coming.
        total: asyncio.TimerHandle | None = None
        if body is not None and not isinstance(body, bytes):
            total = loop.call_later(total_timeout, conn.time_out, "total timeout")
        first_byte: asyncio.TimerHandle | None = None
        try:
            assert conn.transport is not None
            head = self._head(method, target, headers, body, content_length)
            if isinstance(body, bytes):
                conn.transport.write(head + body)
            else:
                conn.transport.write(head)
                if body is not None:
                    await _send_body(conn, body, chunked=content_length is None)
            left = deadline - loop.time()
            if left < first_byte_timeout:
                first_byte = loop.call_later(left, conn.time_out, "total timeout")
            else:
                first_byte = loop.call_later(first_byte_timeout, conn.time_out, "no first byte")
            message, payload = await waiter
        except BaseException:
            if total is not None:
                total.cancel()
            waiter.cancel()  # nobody will read it
            conn.fail(UpstreamError("error", 502, "request abandoned"))
            raise
        finally:
            if first_byte is not None:
                first_byte.cancel()
        if total is None and not payload.is_eof():
            total = loop.call_later(deadline - loop.time(), conn.time_out, "total timeout")

        def done(complete: bool) -> None:
            if total is not None:
                total.cancel()
            self._release(conn, complete)

        return UpstreamResponse(message, payload, done)

    def close(self) -> None:
        while self._idle:
            transport = self._idle.pop().transport
            if transport is not None:
                transport.close()

    async def _acquire(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        now = loop.time()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_seconds:
                return conn
            if conn.transport is not None:
                conn.transport.close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop), self.host, self.port
                )
        except TimeoutError:
            raise UpstreamError("connect_error", 504, "connect timed out") from None
        except OSError as exc:
            raise UpstreamError("connect_error", 502, f"cannot connect: {exc}") from None
        return conn

    def _release(self, conn: _Connection, complete: bool) -> None:
        if complete and not conn.should_close and not conn.closed:
            conn._parser = None
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def _head(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
        content_length: int | None,
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_header]
        for name, value in headers:  # the caller left out Host and the framing headers
            if "\n" in value or "\r" in value:
                raise UpstreamError("error", 400, f"line break in header {name}")
            lines.append(f"{name}: {value}\r\n")
        if isinstance(body, bytes):
            if body or method not in _NO_BODY_METHODS:
                lines.append(f"Content-Length: {len(body)}\r\n")
        elif body is not None:
            if content_length is None:
                lines.append("Transfer-Encoding: chunked\r\n")
            else:
                lines.append(f"Content-Length: {content_length}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("utf-8", "surrogateescape")


async def _send_body(conn: _Connection, chunks: AsyncIterator[bytes], *, chunked: bool) -> None:
    """Stream a request body, waiting whenever the socket's buffer is full. A service may
    answer before it has read the body (a 400 for a request it refuses) and close the
    connection: then the rest is not sent (RFC 9112, 9.5), the connection is not reused,
    and the caller gets that answer, or the UpstreamError of a connection lost without one."""
    async for chunk in chunks:
        if conn.answered or conn.transport is None:
            conn.should_close = True
            return
        if not chunk:
            continue
        if chunked:
            conn.transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
        else:
            conn.transport.write(chunk)
        try:
            await conn._drain_helper()
        except ConnectionError:  # the upstream closed or reset the connection
            conn.should_close = True
            return
    if chunked and conn.transport is not None and not conn.answered:
        conn.transport.write(b"0\r\n\r\n")
