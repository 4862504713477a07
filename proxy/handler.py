"""The proxy's request path: canonical path -> route -> decision -> backend chain -> relay.

Nothing here does blocking I/O: the route table is an in-memory snapshot refreshed by
a background task, and metrics are in-process counters.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import NamedTuple, Protocol

import aiohttp
from aiohttp import web
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.compare import Answer
from proxy.config import ProxyConfig, RouteConfig
from proxy.errors import error_response
from proxy.forwarding import FAILURE_STATUSES, BodyTooLarge, Failure, Forwarder, RequestBody, relay
from proxy.headers import is_websocket_upgrade, public_host, request_id, upstream_request_headers
from proxy.identity import TokenReader, bucket, new_cohort_cookie
from proxy.metrics import Metrics
from proxy.paths import BadPath, is_own_path, split_target
from proxy.pool import UpstreamError, UpstreamResponse
from proxy.reply import AiohttpReply, Reply, cookie_header
from proxy.resilience import RetryBudget, Upstream
from proxy.routing import SAFE_METHODS, Decision, Router, decide
from proxy.shadow import Mirror, Shadow
from proxy.websocket import relay_websocket
from routetable import Mode, RouteState, RouteTable

access_log = logging.getLogger("carve.proxy.access")
log = logging.getLogger("carve.proxy")
COHORT_MAX_AGE = 365 * 24 * 3600
MISDIRECTED = 421  # a service saying it does not write this context (now)
MAX_MOVES = 3  # re-sends of one request after 421 not_owner answers (A -> B -> A -> B)
MOVE_PAUSE = 0.1  # seconds (times the re-send's number) before asking a side a second time
# A side that names itself in its 421 is taking the context over and catching up: the
# request waits here (no thread anywhere) and asks it again, pauses doubling up to this,
# until the request's deadline (less one pause for the last try).
MAX_SETTLE_PAUSE = 1.0
MONOLITH_NAME = "monolith"  # what the monolith calls itself in a not_owner answer
MONOLITH = RouteState()
HTTP1 = frozenset({aiohttp.HttpVersion10, aiohttp.HttpVersion11})


NO_TABLE = (
    "this proxy holds no route table (the store cannot be used and there is no good local "
    "snapshot; see /readyz): no side was chosen for this route; retry shortly"
)
NO_TABLE_RETRY = 5  # seconds, in Retry-After


class Routed(NamedTuple):
    """A request's routing, before anything is sent: also what `explain` reports."""

    path: str
    query: str
    route: RouteConfig | None
    decision: Decision
    new_cookie: str | None

    @property
    def path_qs(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


class Incoming(Protocol):
    """What the request path reads of a client's request: aiohttp's `web.Request` has it,
    and so does the front server's (proxy/front.py)."""

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def headers(self) -> CIMultiDictProxy[str]: ...
    @property
    def remote(self) -> str | None: ...
    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def cookies(self) -> Mapping[str, str]: ...
    @property
    def content_length(self) -> int | None: ...
    @property
    def body_exists(self) -> bool: ...
    @property
    def content(self) -> StreamReader: ...


class ProxyHandler:
    """The catch-all handler; `setup(app)` adds it and its ClientSession."""

    def __init__(
        self, config: ProxyConfig, table: RouteTable, metrics: Metrics, shadow: Shadow
    ) -> None:
        self.config = config
        self.table = table
        self.metrics = metrics
        self.shadow = shadow
        self.router = Router(config)
        self.default = config.default_upstream
        self.upstreams = {name: Upstream(c) for name, c in config.upstreams.items()}
        self.tokens = TokenReader(config.auth_key)
        self.budget = RetryBudget(config.retry_budget_ratio, config.retry_budget_min_per_second)
        self.forwarder: Forwarder | None = None
        self.session: aiohttp.ClientSession | None = None
        self.resource: web.AbstractResource | None = None  # the catch-all, once set up

    def setup(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._session_ctx)
        self.resource = app.router.add_route("*", "/{tail:.*}", self.handle).resource

    async def _session_ctx(self, app: web.Application) -> AsyncIterator[None]:
        # Plain requests go through each upstream's lean pool (proxy/pool.py); this
        # session serves WebSocket upgrades. The bulkheads bound both.
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )
        self.forwarder = Forwarder(
            self.budget,
            on_retry=lambda name: self.metrics.retries.labels(name).inc(),
        )
        yield
        for upstream in self.upstreams.values():
            upstream.pool.close()
        await self.session.close()

    def route(
        self,
        method: str,
        target: str,
        authorization: str | None,
        cookies: Callable[[], Mapping[str, str]],
    ) -> Routed:
        """Route a request target (raises BadPath); pure, also used by `explain`.
        `cookies` is called only for a canary, so most requests never parse them."""
        path, query = split_target(target)
        if is_own_path(path):
            raise BadPath(f"{path} is the proxy's own path: it is never forwarded")
        route = self.router.match(method, path)
        state = self.table.snapshot.get(route.name, route.state) if route else MONOLITH
        new_cookie = None
        cohort = None
        if state.mode is Mode.CANARY:
            uid = self.tokens.user_id(authorization)
            cookie = cookies().get(self.config.cohort_cookie) if uid is None else None
            if uid is not None:
                cohort = (bucket(f"user:{uid}"), "user")
            elif cookie and len(cookie) <= 64:
                cohort = (bucket(f"cookie:{cookie}"), "cookie")
            else:
                new_cookie = new_cohort_cookie()
                cohort = (bucket(f"cookie:{new_cookie}"), "new cookie")
        decision = decide(route, state, method, self.default, cohort)
        return Routed(path, query, route, decision, new_cookie)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp entry: WebSocket upgrades, and what the front server hands over."""
        if request.version not in HTTP1:  # HTTP/0.9, or 2.0 in an HTTP/1 request line
            log.info("%s: malformed request: HTTP version %s", request.remote, request.version)
            return error_response(400, "bad_request_line", "send an HTTP/1.0 or 1.1 request")
        if is_websocket_upgrade(request.headers):
            return await self._websocket_request(request)
        reply = AiohttpReply(request)
        try:
            await self.serve(request, reply)
        except ConnectionResetError:
            raise  # the client went away: nobody to answer
        except Exception:  # a bug: answered in the one error shape, as the front does
            if reply.response is not None and reply.response.prepared:
                raise
            log.exception("request %s %s failed", request.method, request.raw_path)
            return error_response(500, "internal_error", "the proxy failed on this request")
        assert reply.response is not None, "serve() always answers"
        return reply.response

    def serve(self, request: Incoming, reply: Reply) -> Awaitable[None]:
        """Route, forward and answer one (non-WebSocket) request through `reply`.

        Not a coroutine itself: it routes at once and returns the coroutine that forwards,
        so that a request in flight suspends through as few frames as possible (every
        frame is resumed again when the upstream answers)."""
        start, rid, routed = self._begin(request)
        if isinstance(routed, BadPath):
            return reply.error(400, "bad_request", str(routed), rid)
        if self._no_table(request, routed, rid, start):
            return reply.error(503, "no_route_table", NO_TABLE, rid, retry_after=NO_TABLE_RETRY)
        return self._forward(request, routed, self._headers(request, rid), rid, reply, start)

    async def _websocket_request(self, request: web.Request) -> web.StreamResponse:
        start, rid, routed = self._begin(request)
        if isinstance(routed, BadPath):
            return error_response(400, "bad_request", str(routed), rid)
        if self._no_table(request, routed, rid, start):
            return error_response(503, "no_route_table", NO_TABLE, rid, retry_after=NO_TABLE_RETRY)
        decision = routed.decision
        headers = self._headers(request, rid)
        status, outcome = 0, "aborted"
        try:
            status, outcome, ws = await self._websocket(request, routed, headers, rid)
            return ws
        finally:
            self._done(
                request, rid, start, status, decision.route, decision.backend, outcome, decision
            )

    def _begin(self, request: Incoming) -> tuple[float, str, Routed | BadPath]:
        """A request's start time, id and routing; a bad path is counted and logged here
        (the caller answers it with a 400)."""
        start = asyncio.get_running_loop().time()
        rid = request_id(request.headers)
        try:
            routed = self.route(
                request.method,
                request.raw_path,
                request.headers.get("Authorization"),
                lambda: request.cookies,
            )
        except BadPath as exc:
            self._done(request, rid, start, 400, "-", "-", "bad_request", str(exc))
            return start, rid, exc
        return start, rid, routed

    def _no_table(self, request: Incoming, routed: Routed, rid: str, start: float) -> bool:
        """Whether a request on a route must be refused: no route table is in force (the
        store unusable and no good local snapshot), so no side was chosen for it: never
        the configured default. (A first start on an empty store holds a table: it routes.)
        Counted and logged here."""
        if routed.route is None or self.table.loaded:
            return False
        self._done(request, rid, start, 503, routed.route.name, "-", "no_route_table", NO_TABLE)
        return True

    def _headers(self, request: Incoming, rid: str) -> CIMultiDict[str]:
        return upstream_request_headers(
            request.headers,
            peer=request.remote,
            scheme=request.scheme,
            host=public_host(request.headers.get("Host"), self.config.public_hosts),
            rid=rid,
        )

    def _public_base(self, request: Incoming) -> str:
        """What a Location at an upstream is rewritten to: a configured public host, or
        nothing (the Location becomes relative)."""
        host = public_host(request.headers.get("Host"), self.config.public_hosts)
        return f"{request.scheme}://{host}" if host else ""

    async def _websocket(
        self, request: web.Request, routed: Routed, headers: CIMultiDict[str], rid: str
    ) -> tuple[int, str, web.StreamResponse]:
        """Pass a WebSocket through; it holds a bulkhead slot while it is open."""
        upstream = self.upstreams[routed.decision.backend]
        if not upstream.has_room():  # before the breaker: allow() may take the probe
            failure = Failure("rejected", 503, f"{upstream.name} is at its concurrency cap")
            return 503, failure.kind, self._failure_response(upstream.name, failure, rid)
        if not upstream.breaker.allow():
            failure = Failure("breaker_open", 503, f"circuit open for {upstream.name}")
            return 503, failure.kind, self._failure_response(upstream.name, failure, rid)
        assert self.session is not None, "ProxyHandler.setup(app) was not called"
        url = upstream.base.replace("http", "ws", 1) + routed.path_qs
        upstream.inflight += 1
        try:
            ws = await relay_websocket(
                request, self.session, url, headers, upstream.config.total_timeout
            )
        except web.HTTPBadGateway:
            upstream.breaker.failure()
            raise
        except BaseException:
            upstream.breaker.release()  # the client went away: nothing known of the upstream
            raise
        finally:
            upstream.inflight -= 1
        upstream.breaker.success()
        return 101, "ok", ws

    async def _forward(
        self,
        request: Incoming,
        routed: Routed,
        headers: CIMultiDict[str],
        rid: str,
        reply: Reply,
        start: float,
    ) -> None:
        """Send to the decided backend (falling back where allowed) and answer; counted
        and logged whatever happens."""
        assert self.forwarder is not None, "ProxyHandler.setup(app) was not called"
        decision = routed.decision
        status, backend, outcome = 0, decision.backend, "aborted"
        try:
            body = RequestBody(request, self.config.max_body_bytes)
            try:
                await body.prepare()
            except BodyTooLarge:
                await reply.error(413, "too_large", "request body over the limit", rid)
                status, backend, outcome = 413, "-", "too_large"
                return
            self.budget.deposit()
            chain = [decision.backend]
            if decision.backend != self.default and request.method in SAFE_METHODS:
                chain.append(self.default)
            # One deadline for the request: its retries and its fallback share it.
            deadline = start + max(self.upstreams[n].config.total_timeout for n in chain)
            moves = waits = 0
            mirror = decision.shadow is not None and self.shadow.sampled(decision.route)
            capture = self.shadow.config.max_body_bytes if mirror else 0
            fallback: str | None = None
            index = 0
            while index < len(chain):
                name = chain[index]
                index += 1
                upstream = self.upstreams[name]
                last = index == len(chain)
                try:
                    answer = await self.forwarder.send(
                        upstream, request.method, routed.path_qs, headers, body, deadline
                    )
                except Failure as failure:
                    if last or failure.kind == "too_large":
                        status, backend, outcome = await self._failed(name, failure, rid, reply)
                        return
                    fallback = failure.kind
                    self.metrics.fallbacks.labels(decision.route, fallback).inc()
                    continue
                if answer.status in FAILURE_STATUSES and not last:
                    answer.release()
                    upstream.inflight -= 1
                    fallback = f"status_{answer.status}"
                    self.metrics.fallbacks.labels(decision.route, fallback).inc()
                    continue
                if answer.status == MISDIRECTED and routed.route is not None:
                    # The side asked does not write this context now (a move under way): it
                    # changed nothing, so the request goes to the owner its answer names.
                    owner = await self._named_owner(answer, routed.route, name)
                    answer.release()
                    upstream.inflight -= 1
                    fallback = "not_owner"
                    self.metrics.fallbacks.labels(decision.route, fallback).inc()
                    settling = owner == name  # its handover towards it is under way
                    if settling:
                        pause = min(MOVE_PAUSE * 2**waits, MAX_SETTLE_PAUSE)
                        waits += 1
                        in_time = asyncio.get_running_loop().time() + 2 * pause < deadline
                    else:
                        moves += 1
                        in_time = moves <= MAX_MOVES
                    if not in_time or not body.replayable:
                        why = "it did not settle" if body.replayable else "the body was streamed"
                        moving = Failure(
                            "moving",
                            503,
                            f"the route {decision.route} is moving to {owner} and {why}; "
                            "nothing was changed: send the request again",
                        )
                        status, backend, outcome = await self._failed(name, moving, rid, reply)
                        return
                    if settling:
                        await asyncio.sleep(pause)
                    elif owner in chain[:index]:  # asked already: its handover is not done yet
                        await asyncio.sleep(MOVE_PAUSE * moves)
                    chain[index:] = [owner]
                    continue
                try:
                    copy = await relay(
                        request,
                        answer,
                        reply,
                        rid,
                        upstream.base,
                        self._public_base(request),
                        capture,
                        self._cohort_cookie(routed),
                    )
                except Failure as failure:  # the body broke before anything was sent
                    upstream.breaker.failure()
                    if not last:
                        fallback = failure.kind
                        self.metrics.fallbacks.labels(decision.route, fallback).inc()
                        continue
                    status, backend, outcome = await self._failed(name, failure, rid, reply)
                    return
                finally:
                    answer.release()
                    upstream.inflight -= 1
                if mirror and decision.shadow:
                    self.shadow.mirror(
                        Mirror(
                            decision.route,
                            request.method,
                            routed.path_qs,
                            headers,
                            upstream.base,
                            self.upstreams[decision.shadow].base,
                        ),
                        Answer(answer.status, answer.headers, copy),
                    )
                status, backend = answer.status, name
                outcome = "fallback" if fallback is not None else "ok" if status < 500 else "error"
                return
            raise AssertionError("the backend chain is never empty")
        finally:
            self._done(
                request,
                rid,
                start,
                status,
                decision.route,
                backend,
                outcome,
                decision,  # formatted only when the access log is on
            )

    async def _named_owner(self, answer: UpstreamResponse, route: RouteConfig, asked: str) -> str:
        """The upstream that writes `route`'s context, as a 421 `not_owner` answer names
        it (`{"owner": "monolith"}`); else the other side of the route from `asked`."""
        other = self.default if asked == route.service else route.service
        try:
            length = answer.content_length
            data = json.loads(await answer.read()) if length and length <= 65536 else None
        except (UpstreamError, ValueError):
            return other
        owner = data.get("owner") if isinstance(data, dict) else None
        if owner == MONOLITH_NAME:
            return self.default
        if owner in (route.service, self.default):
            return str(owner)
        return other

    async def _failed(
        self, backend: str, failure: Failure, rid: str, reply: Reply
    ) -> tuple[int, str, str]:
        """The client's error answer; the detail with addresses stays in the log."""
        log.warning("request %s: %s", rid, failure)
        await reply.error(failure.status, failure.kind, self._detail(backend, failure), rid)
        return failure.status, backend, failure.kind

    def _failure_response(self, backend: str, failure: Failure, rid: str) -> web.Response:
        log.warning("request %s: %s", rid, failure)
        return error_response(failure.status, failure.kind, self._detail(backend, failure), rid)

    @staticmethod
    def _detail(backend: str, failure: Failure) -> str:
        if failure.kind in ("moving", "too_large"):  # no address in these: said as they are
            return str(failure)
        return f"the {backend} upstream failed: {failure.kind}"

    def _cohort_cookie(self, routed: Routed) -> str | None:
        if routed.new_cookie is None:
            return None
        return cookie_header(self.config.cohort_cookie, routed.new_cookie, COHORT_MAX_AGE)

    def _done(
        self,
        request: Incoming,
        rid: str,
        start: float,
        status: int,
        route: str,
        backend: str,
        outcome: str,
        why: object,
    ) -> None:
        seconds = asyncio.get_running_loop().time() - start
        self.metrics.observe(route, backend, outcome, seconds)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                '%s %s "%s %s" %d %.1fms route=%s backend=%s outcome=%s decision="%s"',
                rid,
                request.remote,
                request.method,
                request.raw_path,
                status,
                seconds * 1000,
                route,
                backend,
                outcome,
                why,
            )
