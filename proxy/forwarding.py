"""Sending one request to one upstream, resiliently, and relaying the answer.

Before each attempt the circuit breaker and the bulkhead are checked; the request goes
out with connect / first-byte / total timeouts (proxy/pool.py), and a failure is
retried with jittered backoff when that is safe (a safe method, or a connect that never
sent anything) and the retry budget allows it. Falling back to the monolith is the
caller's decision (proxy/handler.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from multidict import CIMultiDict

from proxy.headers import client_response_headers
from proxy.pool import UpstreamError, UpstreamResponse
from proxy.resilience import RetryBudget, Upstream, backoff
from proxy.routing import SAFE_METHODS

if TYPE_CHECKING:
    from proxy.handler import Incoming
    from proxy.reply import Reply

RETRY_STATUSES = frozenset({502, 503, 504})
FAILURE_STATUSES = frozenset({500, 502, 503, 504})  # a service answering these: GETs fall back
BUFFER_LIMIT = 256 << 10  # bodies up to this size are read whole: fewer writes, less overhead
NO_BODY_STATUSES = frozenset({204, 304})


class Failure(Exception):
    """A backend could not answer; `kind` is the metrics outcome and the log word."""

    def __init__(self, kind: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status


class BodyTooLarge(Exception):
    """The client's body went over max_body_bytes: 413, and never the upstream's fault."""


class RequestBody:
    """The client's body: small ones read once (replayable), large ones streamed once."""

    def __init__(self, request: Incoming, max_bytes: int) -> None:
        self.request = request
        self.max_bytes = max_bytes
        self.data: bytes | None = None
        self.started = False
        self.too_large = False

    async def prepare(self) -> None:
        length = self.request.content_length
        if length is not None and length > self.max_bytes:
            raise BodyTooLarge
        if not self.request.body_exists:
            self.data = b""
        elif length is not None and length <= BUFFER_LIMIT:
            self.data = await self.request.content.readexactly(length)

    @property
    def replayable(self) -> bool:
        return self.data is not None or not self.started

    def payload(self) -> bytes | AsyncIterator[bytes]:
        if self.data is not None:
            return self.data
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        self.started = True
        seen = 0
        async for chunk in self.request.content.iter_any():
            seen += len(chunk)
            if seen > self.max_bytes:
                self.too_large = True
                raise BodyTooLarge
            yield chunk


class Forwarder:
    def __init__(
        self,
        budget: RetryBudget,
        on_retry: Callable[[str], None],
    ) -> None:
        self.budget = budget
        self.on_retry = on_retry

    async def send(
        self,
        upstream: Upstream,
        method: str,
        path_qs: str,
        headers: CIMultiDict[str],
        body: RequestBody,
        deadline: float,
    ) -> UpstreamResponse:
        """One request to one upstream with every protection; raises Failure. Every
        attempt ends by `deadline` (the loop's clock), which the request's retries and its
        fallback share."""
        loop = asyncio.get_running_loop()
        safe = method in SAFE_METHODS
        attempt = 0
        breaker = upstream.breaker
        while True:
            if not upstream.has_room():  # before the breaker: allow() may take the probe
                raise Failure("rejected", 503, f"{upstream.name} is at its concurrency cap")
            if not breaker.allow():
                raise Failure("breaker_open", 503, f"circuit open for {upstream.name}")
            config = upstream.config
            left = deadline - loop.time()
            if left <= 0:
                breaker.release()
                raise Failure("timeout", 504, f"{upstream.name}: the request's deadline passed")
            upstream.inflight += 1
            try:  # inline, not a helper: each frame here is resumed when the answer comes
                response = await upstream.pool.request(
                    method,
                    path_qs,
                    headers.items(),
                    body.payload(),
                    content_length=body.request.content_length,
                    first_byte_timeout=min(config.first_byte_timeout, left),
                    total_timeout=min(config.total_timeout, left),
                )
            except UpstreamError as exc:
                upstream.inflight -= 1
                if body.too_large:
                    breaker.release()
                    raise Failure("too_large", 413, "request body over the limit") from None
                breaker.failure()
                failure = Failure(exc.kind, exc.status, f"{upstream.name}: {exc}")
                retry_ok = safe or exc.kind == "connect_error"
                if not (retry_ok and body.replayable and attempt < config.retries):
                    raise failure from None
            except BodyTooLarge:
                upstream.inflight -= 1
                breaker.release()
                raise Failure("too_large", 413, "request body over the limit") from None
            except BaseException:
                # The client went away mid-upload (or the request was cancelled): nothing
                # is known of the upstream, and the slot and the probe are given back.
                upstream.inflight -= 1
                breaker.release()
                raise
            else:
                breaker.success()  # it answered: its own 5xx is not a transport failure
                if not (safe and response.status in RETRY_STATUSES and attempt < config.retries):
                    return response  # the caller releases it (and the bulkhead slot)
                response.release()
                upstream.inflight -= 1
            if not self.budget.withdraw():
                raise Failure("retry_budget", 503, f"retry budget spent for {upstream.name}")
            self.on_retry(upstream.name)
            await asyncio.sleep(backoff(attempt))
            attempt += 1


async def relay(
    request: Incoming,
    upstream: UpstreamResponse,
    reply: Reply,
    rid: str,
    upstream_base: str,
    public_base: str,
    capture: int,
    cookie: str | None = None,
) -> bytes | None:
    """Copy the upstream's answer to the client; small bodies in one write, others streamed.
    `cookie` is a Set-Cookie value to add; `public_base` replaces `upstream_base` in a
    Location (proxy/headers.py).

    Returns, when `capture` > 0, a copy of a body of at most that size."""
    headers = client_response_headers(upstream.headers, rid, upstream_base, public_base)
    if cookie is not None:
        headers.add("Set-Cookie", cookie)
    status = upstream.status
    length = upstream.content_length
    if request.method == "HEAD" or status in NO_BODY_STATUSES or status < 200:
        if length is not None and request.method == "HEAD":
            headers["Content-Length"] = str(length)
        await reply.send(status, upstream.reason, headers, None)
        return b""
    if length is not None and length <= BUFFER_LIMIT:
        body = upstream.body_if_complete()
        if body is None:
            try:
                body = await upstream.read()
            except UpstreamError as exc:  # nothing was sent to the client yet
                raise Failure(exc.kind, exc.status, str(exc)) from None
        await reply.send(status, upstream.reason, headers, body)
        return body if len(body) <= capture else None
    await reply.start(status, upstream.reason, headers, length)
    kept: list[bytes] | None = [] if capture else None
    size = 0
    async for chunk in upstream.content.iter_any():
        await reply.write(chunk)
        if kept is not None:
            size += len(chunk)
            if size <= capture:
                kept.append(chunk)
            else:
                kept = None
    await reply.finish()
    return b"".join(kept) if kept is not None else None
