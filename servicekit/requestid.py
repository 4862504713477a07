"""X-Request-ID: taken from the request (the proxy sets it) or made up, echoed back, and
carried on as the correlation id of every event the request publishes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from servicekit import context

HEADER = "X-Request-ID"
META_KEY = "carve.request_id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request_id = given if _ACCEPTABLE.match(given) else uuid.uuid4().hex
        request.META[META_KEY] = request_id
        with context.caused_by(correlation=request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


def of(request: HttpRequest) -> str | None:
    """The id of `request` (None before the middleware has seen it)."""
    value = request.META.get(META_KEY)
    return str(value) if value else None
