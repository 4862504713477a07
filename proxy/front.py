"""The front server: plain proxied requests on a lean HTTP/1.1 protocol, the rest on aiohttp.

aiohttp's server costs about as much CPU per request as the rest of a proxied request put
together (benchmarks/README.md, "## proxy"). Most traffic through the proxy is plain: a
request with at most a small body of known length, for a path the proxy forwards. This
protocol serves exactly that case itself, with aiohttp's C parser and the same request path
(`ProxyHandler.serve`, answering through a `Reply` that writes to the connection).

Anything else is handed to aiohttp, at a request boundary, with the bytes not yet served,
once the front has checked its head (at most MAX_HEAD bytes, complete within head_seconds,
an HTTP/1.0 or 1.1 request line, CRLF line ends): the connection then stays with aiohttp's
own RequestHandler, which serves that request as the connection's last (`Connection:
close`), so that no head is ever read with aiohttp's looser limits alone. That covers the
proxy's own pages (/_carve/, /healthz, /readyz, /metrics), WebSocket upgrades, `Expect`,
chunked or large request bodies (streamed by aiohttp), paths that are not plain origin-form
(percent-encoding, dot segments, backslashes, repeated slashes, absolute form: the router
must see them as aiohttp does; the query does not count), and anything malformed or
unexpected. The decision is made on the raw head before anything is parsed, and errs
towards aiohttp.

`FrontRunner` is an aiohttp `AppRunner` whose sites accept connections with this protocol;
shutdown drains both kinds of connections (`ProxyConfig.drain_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import resource as rlimit
import time
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import HttpRequestParser
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.errors import CONTENT_TYPE, error_body
from proxy.forwarding import BUFFER_LIMIT
from proxy.handler import ProxyHandler
from proxy.reply import Reply

log = logging.getLogger("carve.proxy")

MAX_HEAD = 32 << 10  # a request head (line and headers) over this is answered 431
KEEPALIVE_SECONDS = 75.0  # as aiohttp's keepalive_timeout: idle connections are closed after
SWEEP_SECONDS = 1.0
LINGER_SECONDS = 2.0  # a refused client's bytes are read and dropped this long, then close
_PLAIN_VERSIONS = frozenset({b"HTTP/1.1", b"HTTP/1.0"})
_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/1\.[01]")
FD_RESERVE = 64  # open files kept for the listening socket, logs, the route store...


def connection_cap(configured: int) -> int:
    """Connections a worker keeps open at most: `configured`, or half of what the open-file
    limit leaves (each proxied request may hold an upstream connection as well)."""
    if configured > 0:
        return configured
    soft, _ = rlimit.getrlimit(rlimit.RLIMIT_NOFILE)
    if soft == rlimit.RLIM_INFINITY:
        return 10_000
    return max(16, (soft - FD_RESERVE) // 2)


def refusal(status: int, code: str, detail: str) -> bytes:
    """A whole answer that closes the connection, for a client the proxy will not serve."""
    body = error_body(status, code, detail)
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nDate: {http_date()}\r\n\r\n"
    ).encode() + body


_CONTENT_LENGTH = b"\ncontent-length:"


def _own_prefixes(
    app: web.Application, catch_all: web.AbstractResource | None
) -> tuple[bytes, ...]:
    """The path prefixes of everything the app serves itself (all but the catch-all)."""
    prefixes = set()
    for resource in app.router.resources():
        if resource is not catch_all:
            prefixes.add(resource.canonical.split("{", 1)[0].encode())
    return tuple(sorted(prefixes))


class MalformedAsInfo(logging.Filter):
    """aiohttp logs a request its parser refuses at ERROR with a traceback; an attacker
    can send them at will: one INFO line with the reason is what it is worth."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BadHttpMessage):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "malformed request: %s", (exc.message,)
            record.exc_info, record.exc_text = None, None
        return True


_MALFORMED_AS_INFO = MalformedAsInfo()
logging.getLogger("aiohttp.server").addFilter(_MALFORMED_AS_INFO)


class FrontServer:
    """Makes a `FrontConnection` per accepted connection; keeps them for idling and draining."""

    def __init__(self, aiohttp_server: web.Server, handler: ProxyHandler, own: tuple[bytes, ...]):
        self.aiohttp_server = aiohttp_server
        self.handler = handler
        self.own = own
        self.loop = asyncio.get_running_loop()
        self.connections: set[FrontConnection] = set()
        config = handler.config
        self.head_seconds = config.head_seconds
        self.max_connections = connection_cap(config.max_connections)
        self.handed: set[asyncio.BaseTransport] = set()  # connections aiohttp serves now
        self._sweeper = self.loop.create_task(self._sweep())

    def __call__(self) -> FrontConnection:
        return FrontConnection(self)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = self.loop.time()
            self.handed = {t for t in self.handed if not t.is_closing()}
            for conn in list(self.connections):
                if conn.task is not None:
                    continue
                if conn.head_since is not None and now - conn.head_since > self.head_seconds:
                    # A head still incomplete (slowloris: a byte now and then): refused.
                    log.info(
                        "%s: request head not complete in %.0f s", conn.remote, self.head_seconds
                    )
                    conn.refuse(408, "head_timeout", "the request head took too long")
                elif now - conn.last_active > KEEPALIVE_SECONDS:
                    conn.close()

    def close_idle(self) -> None:
        """Shutdown begins: idle connections close now, busy ones after their request."""
        self._sweeper.cancel()
        for conn in list(self.connections):
            conn.closing = True
            if conn.task is None:
                conn.close()

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout`) for the requests in flight, then close what is left."""
        busy = [conn.task for conn in self.connections if conn.task is not None]
        if busy:
            await asyncio.wait(busy, timeout=timeout)
        for conn in list(self.connections):
            conn.close(abort=conn.task is not None)


class FrontRunner(web.AppRunner):
    """An AppRunner whose sites serve with the front protocol (see the module docstring)."""

    def __init__(self, app: web.Application, *, handler: ProxyHandler, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._handler = handler
        self._front: FrontServer | None = None
        self._draining: asyncio.Future[None] | None = None

    @property
    def server(self) -> Any:  # what sites call to make each connection's protocol
        return self._front

    async def _make_server(self) -> web.Server:
        aiohttp_server = await super()._make_server()
        aiohttp_server.request_factory = one_request_only(aiohttp_server.request_factory)
        own = _own_prefixes(self._app, self._handler.resource)
        self._front = FrontServer(aiohttp_server, self._handler, own)
        return aiohttp_server

    async def shutdown(self) -> None:
        if self._front is not None:
            self._front.close_idle()
        await super().shutdown()
        if self._front is not None:  # drains beside aiohttp's connections
            self._draining = asyncio.ensure_future(self._front.drain(self._shutdown_timeout))

    async def _cleanup_server(self) -> None:
        if self._draining is not None:
            await self._draining
        await super()._cleanup_server()


def one_request_only(factory: Any) -> Any:
    """aiohttp's request factory, making every request it serves the connection's last.

    The front checks a request's head (at most MAX_HEAD bytes, complete within
    head_seconds, an HTTP/1.0 or 1.1 request line) before it hands the connection to
    aiohttp; aiohttp would read the next heads on that connection with its own, looser
    limits (128 headers of 8 KiB each, no deadline). So the request handed over is the
    last one on the connection (`Connection: close`): a client's next request comes on a
    new connection, through the front's checks again."""

    def make_request(message: Any, *args: Any, **kwargs: Any) -> web.BaseRequest:
        request: web.BaseRequest = factory(message._replace(should_close=True), *args, **kwargs)
        return request

    return make_request


class FrontRequest:
    """A plain request, with what `ProxyHandler.serve` reads of one (`Incoming`)."""

    __slots__ = ("_message", "content", "content_length", "remote", "_local", "_cookies")

    scheme = "http"

    def __init__(self, message: Any, payload: StreamReader, remote: str | None, local: str) -> None:
        self._message = message
        self.content = payload
        length = message.headers.get("Content-Length")  # digits: checked by the front
        self.content_length = int(length) if length is not None else None
        self.remote = remote
        self._local = local
        self._cookies: Mapping[str, str] | None = None

    @property
    def method(self) -> str:
        return str(self._message.method)

    @property
    def raw_path(self) -> str:
        return str(self._message.path)

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        headers: CIMultiDictProxy[str] = self._message.headers
        return headers

    @property
    def host(self) -> str:
        return self._message.headers.get("Host") or self._local

    @property
    def body_exists(self) -> bool:
        return bool(self.content_length)

    @property
    def cookies(self) -> Mapping[str, str]:
        if self._cookies is None:
            jar: SimpleCookie = SimpleCookie()
            with contextlib.suppress(Exception):  # a bad Cookie header reads as no cookies
                for header in self._message.headers.getall("Cookie", ()):
                    jar.load(header)
            self._cookies = {name: morsel.value for name, morsel in jar.items()}
        return self._cookies


_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header's value for now; formatted at most once a second."""
    global _date
    now = int(time.time())
    if now != _date[0]:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


class FrontReply(Reply):
    """Writes an answer straight to the connection (HTTP/1.1 framing)."""

    def __init__(self, conn: FrontConnection, keep_alive: bool, http11: bool) -> None:
        self.conn = conn
        self.keep_alive = keep_alive
        self.http11 = http11
        self.started = False
        self._chunked = False

    def _head(
        self, status: int, reason: str | None, headers: CIMultiDict[str], extra: str
    ) -> bytes:
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = ""
        self.keep_alive = self.keep_alive and not self.conn.closing
        if "Date" not in headers:  # the upstream's is passed on; the proxy's own answers get one
            headers["Date"] = http_date()
        lines = [f"HTTP/1.1 {status} {reason}\r\n"]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        lines.append(extra)
        if not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif not self.http11:  # an HTTP/1.0 client that asked to keep the connection
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        self.started = True
        return "".join(lines).encode("utf-8", "surrogateescape")

    async def send(
        self, status: int, reason: str | None, headers: CIMultiDict[str], body: bytes | None
    ) -> None:
        if body is None or status in (204, 304) or status < 200:
            self.conn.write(self._head(status, reason, headers, ""))
            return
        self.conn.write(
            self._head(status, reason, headers, f"Content-Length: {len(body)}\r\n") + body
        )

    async def start(
        self, status: int, reason: str | None, headers: CIMultiDict[str], length: int | None
    ) -> None:
        if length is not None:
            framing = f"Content-Length: {length}\r\n"
        elif self.http11:
            framing, self._chunked = "Transfer-Encoding: chunked\r\n", True
        else:  # an HTTP/1.0 client: the end of the body is the end of the connection
            framing, self.keep_alive = "", False
        self.conn.write(self._head(status, reason, headers, framing))

    async def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self._chunked else chunk)
        await self.conn.drain()

    async def finish(self) -> None:
        if self._chunked:
            self.conn.write(b"0\r\n\r\n")
        await self.conn.drain()


class FrontConnection(BaseProtocol):
    """One client connection: serves plain requests in order, hands the rest to aiohttp."""

    def __init__(self, front: FrontServer) -> None:
        super().__init__(front.loop)
        self.front = front
        self.buffer = bytearray()
        self.task: asyncio.Task[None] | None = None
        self.closing = False  # close after the request in flight
        self.handed_over = False
        self.held = False  # reading stopped by _hold
        self.last_active = front.loop.time()
        self.head_since: float | None = None  # when the head not yet complete began
        self.remote: str | None = None
        self.local = ""
        self._parser: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) else None
        sock = transport.get_extra_info("sockname")
        self.local = f"{sock[0]}:{sock[1]}" if isinstance(sock, tuple) else "localhost"
        front = self.front
        if len(front.connections) + len(front.handed) >= front.max_connections:
            log.info("%s: refused, %d connections open", self.remote, front.max_connections)
            self.refuse(503, "too_many_connections", "the proxy is at its connection cap")
            return
        front.connections.add(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.front.connections.discard(self)
        self.closing = True
        super().connection_lost(exc)  # wakes a reply waiting to write

    def refuse(self, status: int, code: str, detail: str) -> None:
        """Answer `status` (not a request anyone made) and close. What the client is still
        sending is read and dropped for a moment first: closing with unread bytes would
        reset the connection, and the client might never see the answer."""
        self.closing = True
        self.buffer = bytearray()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(refusal(status, code, detail))
        if transport.can_write_eof():
            transport.write_eof()
        self._loop.call_later(LINGER_SECONDS, self.close)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if not self.buffer:
            self.head_since = self._loop.time()
        self.buffer += data
        self.last_active = self._loop.time()
        if self.task is None:
            self.task = self._loop.create_task(self._serve())
        elif len(self.buffer) > BUFFER_LIMIT + MAX_HEAD and not self.held:
            self._hold(True)  # a client sending far ahead: read on once it is served

    def _hold(self, held: bool) -> None:
        """Stop (or resume) reading while the buffer holds more than a request ahead. Our
        own flag: the payload's flow control pauses and resumes reading on its own."""
        self.held = held
        if self.transport is not None and not self._reading_paused:
            if held:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        await self._drain_helper()

    def close(self, abort: bool = False) -> None:
        self.closing = True
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    async def _serve(self) -> None:
        try:
            while not self.closing:
                found = self._next()
                if found is None:
                    return
                message, payload = found
                request = FrontRequest(message, payload, self.remote, self.local)
                reply = FrontReply(self, not message.should_close, message.version >= (1, 1))
                try:  # inline, not a helper: each frame here is resumed when the answer comes
                    await self.front.handler.serve(request, reply)
                    keep_alive = reply.keep_alive
                except ConnectionResetError:
                    keep_alive = False  # the client went away mid-answer
                except Exception:
                    log.exception("request %s %s failed", request.method, request.raw_path)
                    if not reply.started:
                        reply.keep_alive = False
                        await reply.error(500, "internal_error", "the proxy failed on this request")
                    keep_alive = False
                self.last_active = self._loop.time()
                if not keep_alive:
                    self.close()
                    return
                if self.held:
                    self._hold(False)
        finally:
            self.task = None

    def _next(self) -> tuple[Any, StreamReader] | None:
        """The next whole plain request, parsed; None when more bytes are needed or the
        connection was handed to aiohttp."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0 and len(buffer) <= MAX_HEAD:
            if b"\n\n" in buffer:  # a head ending in bare LFs, which aiohttp refuses too
                self._refuse_head(400, "bad_line_ending", "end each head line with CRLF")
            return None
        if end < 0 or end > MAX_HEAD:
            self._refuse_head(431, "head_too_large", f"the request head is over {MAX_HEAD} bytes")
            return None
        line = bytes(buffer[: buffer.find(b"\r\n")])
        if not _REQUEST_LINE.fullmatch(line):
            # HTTP/0.9, HTTP/2.0 or anything else in an HTTP/1 request line.
            self._refuse_head(400, "bad_request_line", "send an HTTP/1.0 or HTTP/1.1 request line")
            return None
        self.head_since = None
        size = self._plain_body_size(bytes(buffer[: end + 2]))
        if size is None:
            self._hand_over()
            return None
        total = end + 4 + size
        if len(buffer) < total:
            return None
        raw = bytes(buffer[:total])
        if self._parser is None:
            # aiohttp's server defaults; bodies as sent; a reader limit that holds a whole
            # plain body (a smaller one pauses the parser: such a request was handed over)
            self._parser = HttpRequestParser(
                self, self._loop, BUFFER_LIMIT, max_line_size=8190, max_field_size=8190,
                auto_decompress=False,
            )  # fmt: skip
        try:
            messages, upgraded, tail = self._parser.feed_data(raw)
        except Exception:  # malformed: aiohttp answers it as it answers any malformed request
            self._hand_over()
            return None
        if len(messages) != 1 or upgraded or tail or not messages[0][1].is_eof():
            self._hand_over()
            return None
        del buffer[:total]
        return messages[0]

    def _refuse_head(self, status: int, code: str, detail: str) -> None:
        log.info("%s: malformed request: %s", self.remote, detail)
        self.refuse(status, code, detail)

    def _plain_body_size(self, head: bytes) -> int | None:
        """The body's length when the request is plain (see the module docstring), else None."""
        line_end = head.find(b"\r\n")
        parts = head[:line_end].split(b" ")
        if len(parts) != 3 or parts[2] not in _PLAIN_VERSIONS:
            return None
        # Only the path decides who routes it (the query is never routed on, and both
        # servers give the handler the same raw target): an escaped query stays here.
        path = parts[1].partition(b"?")[0]
        if (
            not path.startswith(b"/")
            or b"%" in path
            or b"\\" in path
            or b"/." in path
            or b"//" in path
            or path.startswith(self.front.own)
        ):
            return None
        lowered = head.lower()  # header names, each after a newline
        if (
            b"\nupgrade:" in lowered
            or b"\nexpect:" in lowered
            or b"\ntransfer-encoding:" in lowered
        ):
            return None
        at = lowered.find(_CONTENT_LENGTH)
        if at < 0:
            return 0
        if lowered.find(_CONTENT_LENGTH, at + 1) >= 0:
            return None  # several: aiohttp refuses or reconciles them
        value = lowered[at + len(_CONTENT_LENGTH) : lowered.find(b"\r\n", at + 1)].strip()
        if not value.isdigit() or len(value) > 9 or int(value) > BUFFER_LIMIT:
            return None
        return int(value)

    def _hand_over(self) -> None:
        """From here on aiohttp serves this connection, starting with the bytes not served."""
        transport = self.transport
        if transport is None or self.handed_over:
            return
        self.handed_over = True
        self.front.connections.discard(self)
        self.front.handed.add(transport)
        data, self.buffer = bytes(self.buffer), bytearray()
        handler = self.front.aiohttp_server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._reading_paused or self.held:
            transport.resume_reading()
        if data:
            handler.data_received(data)
        self.transport = None
