"""Who may see the proxy's own pages: the admin token, checked in one place.

Every /_carve/api/ call and /metrics need the admin token (`Authorization: Bearer TOKEN` or
`X-Carve-Token: TOKEN`), compared in constant time. With no token configured they answer
404: nothing of the proxy's insides is open by default.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.errors import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AdminToken:
    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    def enabled(self, handler: Handler) -> Handler:
        """`handler`, or 404 when no admin token is configured."""

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            if self._token is None:
                return error_response(
                    404, "admin_disabled", "the admin API is off: set CARVE_ADMIN_TOKEN"
                )
            return await handler(request)

        return wrapper

    def guarded(self, handler: Handler) -> Handler:
        """`handler` for a request with the admin token; 401 without it."""

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            if not self.given(request):
                return error_response(401, "bad_token", "a valid admin token is required")
            return await handler(request)

        return self.enabled(wrapper)

    def given(self, request: web.Request) -> bool:
        """Whether the request carries the token. Header values are read as UTF-8 with
        surrogate escapes: any bytes compare (and fail) without an error."""
        given = request.headers.get("X-Carve-Token", "")
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        candidate = given.encode("utf-8", "surrogateescape")
        return self._token is not None and hmac.compare_digest(candidate, self._token)
