"""The admin API under /_carve/ and the dashboard page at /_carve/ui.

Every /_carve/api/ call needs an admin token or a dashboard session (proxy/access.py). With
no token configured the whole prefix answers 404: the admin API is never open by default. The
dashboard page itself is static (no data); its sign-in form posts the token once to
/_carve/session, which answers a session cookie; the browser never keeps the token.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from importlib import resources
from typing import Any

from aiohttp import web
from yarl import URL

from proxy.access import SESSION_COOKIE, AdminAccess, Token
from proxy.config import ProxyConfig, RouteConfig
from proxy.errors import error_body, error_response
from proxy.handler import ProxyHandler
from proxy.metrics import Metrics
from proxy.paths import BadPath
from proxy.routing import SAFE_METHODS
from proxy.shadow import Shadow
from routetable import (
    BadRecord,
    ChangeIdReused,
    RestoreRefused,
    RouteState,
    RouteTable,
    StoreDown,
    StoreError,
    StoreRefused,
)

PREFIX = "/_carve"
log = logging.getLogger("carve.proxy")


def redacted_url(url: str) -> str:
    """A store URL without its password (`redis://:***@host/0`): shown on the dashboard, in
    the API and by `carve routes list`, so never with the secret."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<unparsable URL>"
    if parsed.password is None:
        return url
    return str(parsed.with_password("***"))


def bad_entries(table: RouteTable) -> list[dict[str, str]]:
    """Each store entry the table could not use (kept at its last good state, or ignored):
    shown in /readyz and the admin API."""
    store = redacted_url(table.store.url)
    return [
        {"route": route, "store": store, "reason": why}
        for route, why in sorted(table.snapshot.problems.items())
    ]


class Admin:
    def __init__(
        self,
        config: ProxyConfig,
        table: RouteTable,
        metrics: Metrics,
        shadow: Shadow,
        handler: ProxyHandler,
        access: AdminAccess,
    ) -> None:
        self.config = config
        self.table = table
        self.metrics = metrics
        self.shadow = shadow
        self.handler = handler
        self._access = access
        self._enabled = self._access.enabled
        self._guarded = self._access.guarded
        self._page = resources.files("proxy").joinpath("static/dashboard.html").read_bytes()

    def setup(self, app: web.Application) -> None:
        # A sub-application: one prefix check keeps these routes off the proxy's hot path.
        admin = web.Application()
        add = admin.router.add_route
        add("GET", "/ui", self._enabled(self.ui))
        add("POST", "/session", self._enabled(self.sign_in))
        add("GET", "/session", self._enabled(self.session))
        add("DELETE", "/session", self._enabled(self.sign_out))
        add("GET", "/api/routes", self._guarded(self.list_routes))
        add("GET", "/api/routes/{name}", self._guarded(self.show_route))
        add("PUT", "/api/routes/{name}", self._guarded(self.set_route))
        add("GET", "/api/history", self._guarded(self.history))
        add("GET", "/api/changes/{id}", self._guarded(self.show_change))
        add("POST", "/api/restore", self._guarded(self.restore))
        add("GET", "/api/explain", self._guarded(self.explain))
        add("GET", "/api/stats", self._guarded(self.stats))
        add("GET", "/api/mismatches", self._guarded(self.mismatches))
        add("POST", "/api/mismatches/{id}/replay", self._guarded(self.replay))
        add("*", "/{tail:.*}", self._enabled(self.not_found))
        app.router.add_route("*", PREFIX, self._enabled(self.not_found))  # the bare prefix
        app.add_subapp(PREFIX, admin)

    # ---------------------------------------------------------------- pages
    async def ui(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._page,
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; frame-ancestors 'none'",
                "Cache-Control": "no-store",
            },
        )

    # ---------------------------------------------------------------- dashboard sessions
    async def sign_in(self, request: web.Request) -> web.Response:
        """`{"token": "..."}` once; answers the session cookie and the session's CSRF value."""
        try:
            data = await request.json()
            given = data["token"]
            if not isinstance(given, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return error_response(400, "bad_sign_in", 'send {"token": "THE ADMIN TOKEN"}')
        token = self._access.token_for(given.strip())
        if token is None:
            log.info("%s: dashboard sign-in with a wrong admin token", request.remote)
            return error_response(401, "bad_token", "that admin token is not accepted")
        cookie, expires = self._access.new_session(token)
        response = self._session_json(token, cookie, expires)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=max(1, int(expires - time.time())),
            path=PREFIX,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        return response

    async def session(self, request: web.Request) -> web.Response:
        """The current session (its expiry and CSRF value), or 401: how the page finds out
        whether it is signed in, in this tab or another."""
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self._access.session_token(cookie)
        if session is None or cookie is None:
            return error_response(401, "bad_token", "not signed in")
        token, expires = session
        return self._session_json(token, cookie, expires)

    def _session_json(self, token: Token, cookie: str, expires: float) -> web.Response:
        csrf = self._access.csrf_for(token, cookie)
        return web.json_response(
            {"expires": expires, "token": token.name, "csrf": csrf},
            headers={"Cache-Control": "no-store"},
        )

    async def sign_out(self, request: web.Request) -> web.Response:
        response = web.json_response({"signed_out": True})
        response.del_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def not_found(self, request: web.Request) -> web.Response:
        return error_response(404, "not_found", f"no admin endpoint {request.path}")

    # ---------------------------------------------------------------- routes
    def _route_json(self, route: RouteConfig) -> dict[str, Any]:
        state = self.table.snapshot.get(route.name, route.state)
        return {
            "name": route.name,
            "match": route.template or route.prefix,
            "kind": "template" if route.template else "prefix",
            "methods": sorted(route.methods) if route.methods else None,
            "service": route.service,
            "state": str(state),
            "mode": state.mode.value,
            "percent": state.percent,
            "breaker": self.handler.upstreams[route.service].breaker.state.name.lower(),
        }

    def _table_json(self) -> dict[str, Any]:
        return {
            "version": self.table.snapshot.version,
            "store": redacted_url(self.table.store.url),
            "store_error": self.table.last_error,
            "source": self.table.source,
            "stale_seconds": self.table.age(),
            "default": self.config.default_upstream,
            "bad_entries": bad_entries(self.table),
            "snapshot_problem": self.table.snapshot_problem,
        }

    def _find(self, request: web.Request) -> RouteConfig:
        name = request.match_info["name"]
        route = self.config.route(name) or next(
            (r for r in self.config.routes if name in (r.prefix, r.template)), None
        )
        if route is None:
            known = ", ".join(r.name for r in self.config.routes) or "none"
            detail = f"no route {name}; known: {known}"  # serialised: the name is the client's
            raise web.HTTPNotFound(
                text=error_body(404, "no_route", detail).decode(), content_type="application/json"
            )
        return route

    async def list_routes(self, request: web.Request) -> web.Response:
        routes = [self._route_json(r) for r in self.config.routes]
        return web.json_response({**self._table_json(), "routes": routes})

    async def show_route(self, request: web.Request) -> web.Response:
        route = self._find(request)
        loop = asyncio.get_running_loop()
        try:
            history = await loop.run_in_executor(
                None, self.table.store.history_report, route.name, 20
            )
        except BadRecord as exc:  # the store answered: a key edited by hand, named
            return error_response(409, "bad_store_entry", str(exc))
        except StoreError as exc:
            return error_response(503, "store_unavailable", str(exc))
        return web.json_response(
            {
                **self._route_json(route),
                "history": [c.to_json() for c in history.changes],
                "history_problems": history.problems,
            }
        )

    async def set_route(self, request: web.Request) -> web.Response:
        route = self._find(request)
        try:
            data = await request.json()
            state = RouteState.parse(str(data["state"])).settable()
        except (ValueError, KeyError, TypeError) as exc:
            detail = f'send {{"state": "monolith|shadow|canary N|extracted"}}: {exc}'
            return error_response(400, "bad_state", detail)
        change_id = data.get("change_id") or ""
        if not isinstance(change_id, str) or len(change_id) > 100:
            return error_response(400, "bad_change_id", "change_id is a text of 1..100 characters")
        who = self._who(request, data)
        loop = asyncio.get_running_loop()
        setter = functools.partial(
            self.table.set_state, route.name, state, who=who, change_id=change_id
        )
        # `applied` tells a client the truth: false when nothing was written (refused,
        # or not sent at all), "unknown" when the store call failed midway.
        try:
            change = await loop.run_in_executor(None, setter)
        except StoreDown as exc:
            return error_response(503, "store_down", str(exc), applied=False)
        except BadRecord as exc:
            return error_response(409, "bad_store_entry", str(exc), applied=exc.applied)
        except ChangeIdReused as exc:
            return error_response(409, "change_id_reused", str(exc), applied=False)
        except StoreRefused as exc:
            return error_response(409, "store_replaced", str(exc), applied=False)
        except StoreError as exc:
            return error_response(503, "store_unavailable", str(exc), applied="unknown")
        return web.json_response({"route": self._route_json(route), "change": change.to_json()})

    def _who(self, request: web.Request, data: Any) -> str:
        given = data.get("who") if isinstance(data, dict) else None
        actor = str(given or request.headers.get("X-Carve-Actor") or "admin-api")
        return f"{actor[:80]} via {request.remote}"

    async def show_change(self, request: web.Request) -> web.Response:
        """Whether a change id was recorded: how a client unsure of a reply finds out."""
        loop = asyncio.get_running_loop()
        change_id = request.match_info["id"]
        try:
            change = await loop.run_in_executor(None, self.table.store.change, change_id)
        except BadRecord as exc:  # recorded, so applied, but its record is garbage
            return error_response(409, "bad_store_entry", str(exc), applied=True)
        except StoreError as exc:
            return error_response(503, "store_unavailable", str(exc))
        if change is None:
            return error_response(404, "not_found", f"no change {change_id} is recorded")
        return web.json_response({"change": change.to_json()})

    async def restore(self, request: web.Request) -> web.Response:
        """Write this proxy's table back to the store (after a wipe): the operator's word.
        Body: {"dry_run": bool, "force": bool, "seed": bool}; the answer shows the plan
        (what the store holds, the routes whose side changes) and whether it was written."""
        try:
            data = await request.json() if request.can_read_body else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        flags = {name: data.get(name, False) for name in ("dry_run", "force", "seed")}
        if not all(isinstance(v, bool) for v in flags.values()):
            return error_response(400, "bad_flag", "dry_run, force and seed are true or false")
        seed = {r.name: r.state for r in self.config.routes} if flags["seed"] else None
        loop = asyncio.get_running_loop()
        try:
            if flags["dry_run"]:
                plan = await loop.run_in_executor(None, self.table.plan_restore, seed)
                restored = None
            else:
                restore = functools.partial(
                    self.table.restore,
                    who=self._who(request, data),
                    force=flags["force"],
                    seed=seed,
                )
                plan, restored = await loop.run_in_executor(None, restore)
        except RestoreRefused as exc:
            plan = await loop.run_in_executor(None, self.table.plan_restore, seed)
            return error_response(409, "restore_refused", str(exc), plan=plan.to_json())
        except StoreError as exc:
            return error_response(503, "store_unavailable", str(exc))
        return web.json_response(
            {
                "plan": plan.to_json(),
                "applied": restored is not None,
                "restored": restored.to_json() if restored is not None else None,
                **self._table_json(),
            }
        )

    async def history(self, request: web.Request) -> web.Response:
        route = request.query.get("route") or None
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return error_response(400, "bad_limit", "limit must be a whole number")
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(None, self.table.store.history_report, route, limit)
        except BadRecord as exc:  # the store answered: a key edited by hand, named
            return error_response(409, "bad_store_entry", str(exc))
        except StoreError as exc:
            return error_response(503, "store_unavailable", str(exc))
        return web.json_response(
            {"history": [c.to_json() for c in found.changes], "problems": found.problems}
        )

    async def explain(self, request: web.Request) -> web.Response:
        method = request.query.get("method", "GET").upper()
        target = request.query.get("path", "/")
        user_token = request.headers.get("X-Carve-Explain-Token")  # a header: kept out of logs
        cookie = request.query.get("cookie")
        authorization = f"Bearer {user_token}" if user_token else None
        try:
            cookies = {self.config.cohort_cookie: cookie} if cookie else {}
            routed = self.handler.route(method, target, authorization, lambda: cookies)
        except BadPath as exc:
            return web.json_response(
                {"method": method, "target": target, "status": 400, "rejected": str(exc)}
            )
        d = routed.decision
        backend = self.handler.upstreams[d.backend]
        default = self.config.default_upstream
        answer = {
            "method": method,
            "target": target,
            "canonical": routed.path_qs,
            "route": d.route,
            "matched_by": self.handler.router.why(routed.route),
            "state": str(d.state),
            "backend": d.backend,
            "backend_url": backend.base,
            "breaker": backend.breaker.state.name.lower(),
            "reason": d.reason,
            "shadow_to": d.shadow,
            "fallback": default if d.backend != default and method in SAFE_METHODS else None,
        }
        if routed.new_cookie is not None and routed.route is not None:
            # No identity given: which side serves this client is a coin toss.
            service = routed.route.service
            answer |= {
                "backend": f"{service} or {default}",
                "backend_url": None,
                "breaker": None,
                "fallback": None,
                "reason": f"canary: a client with no user token and no cohort cookie lands on "
                f"{service} with probability {d.state.percent} %; give a user token or a "
                "cookie to pin one",
            }
        return web.json_response(answer)

    # ---------------------------------------------------------------- live figures
    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                **self._table_json(),
                "at": time.time(),
                "routes": [self._route_json(r) for r in self.config.routes],
                "figures": self.metrics.per_route(),
            }
        )

    async def mismatches(self, request: web.Request) -> web.Response:
        return web.json_response({"mismatches": [m.to_json() for m in self.shadow.mismatches]})

    async def replay(self, request: web.Request) -> web.Response:
        try:
            mismatch_id = int(request.match_info["id"])
        except ValueError:
            return error_response(400, "bad_id", "a mismatch id is a whole number")
        mismatch = await self.shadow.replay(mismatch_id)
        if mismatch is None:
            return error_response(404, "not_found", f"no mismatch {mismatch_id} is kept")
        return web.json_response(mismatch.to_json())
