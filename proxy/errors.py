"""The proxy's own error answers, in the same JSON shape as every carve service."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

_TYPES = {
    400: "parse_error",
    401: "not_authenticated",
    404: "not_found",
    413: "payload_too_large",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
CONTENT_TYPE = "application/json; charset=utf-8"


def error_body(status: int, code: str, detail: str, **extra: Any) -> bytes:
    body = {"type": _TYPES.get(status, "error"), "code": code, "detail": detail, **extra}
    return json.dumps(body).encode()


def error_response(
    status: int,
    code: str,
    detail: str,
    rid: str | None = None,
    *,
    retry_after: int | None = None,
    **extra: Any,
) -> web.Response:
    headers = {"X-Request-ID": rid} if rid else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return web.Response(
        status=status,
        body=error_body(status, code, detail, **extra),
        headers={"Content-Type": CONTENT_TYPE, **headers},
    )
