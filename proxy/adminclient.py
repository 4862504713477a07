"""A small synchronous client of the admin API, for `carve routes`."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any


class AdminError(Exception):
    """The admin API could not be used; the message says what to do. `status` is the
    proxy's HTTP status, None when no answer came (the request may have been applied)."""

    def __init__(
        self, message: str, status: int | None = None, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}  # the proxy's JSON error (code, detail, applied, ...)


# Longer than the proxy's deadlines for a change (the store's, CARVE_ROUTES_TIMEOUT 2 s,
# for the write and for seeing it): a slow store answers 503 before the client gives up.
TIMEOUT = 15.0


class AdminClient:
    def __init__(self, url: str, token: str | None, actor: str, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.actor = actor
        self.timeout = timeout

    def get(
        self,
        path: str,
        query: Mapping[str, str | int | None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        suffix = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._call("GET", path + suffix, headers=headers)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, body)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if not self.token:
            raise AdminError(
                "no admin token: set CARVE_ADMIN_TOKEN (or pass --token) to the proxy's token"
            )
        request = urllib.request.Request(
            f"{self.url}/_carve/api{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "X-Carve-Actor": self.actor,
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            body = self._body(exc)
            raise AdminError(self._explain(exc, body), exc.code, body) from None
        except TimeoutError:
            raise AdminError(
                f"the proxy at {self.url} did not answer within {self.timeout:g} s"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            # refused or unresolvable: no connection, so nothing was sent (not applied);
            # any other failure may have come after the request was sent
            unsent = isinstance(reason, ConnectionRefusedError | socket.gaierror)
            raise AdminError(
                f"cannot reach the proxy at {self.url} ({reason}): is `carve proxy` running? "
                "Point at it with --url or CARVE_PROXY_URL.",
                body={"applied": False} if unsent else None,
            ) from None

    @staticmethod
    def _body(exc: urllib.error.HTTPError) -> dict[str, Any]:
        try:
            body = json.load(exc)
        except (ValueError, OSError):
            return {}
        return body if isinstance(body, dict) else {}

    def _explain(self, exc: urllib.error.HTTPError, body: dict[str, Any]) -> str:
        detail = body.get("detail", exc.reason)
        if exc.code == 401:
            return "the proxy refused the admin token: use the token it was started with"
        if body.get("code") == "admin_disabled":
            return "the proxy's admin API is off: start it with CARVE_ADMIN_TOKEN set"
        return f"the proxy answered {exc.code}: {detail}"
