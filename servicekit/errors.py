"""One error body for every API of every service.

    {"type": "validation_error", "detail": "Invalid input.", "errors": {"field": ["..."]}}

`type` is stable and machine-readable, `detail` is for people, `errors` (400 only) maps
fields to messages, each field named by its path in the request body (`lines.0.sku` is the
`sku` of the first line), whether the serializer or a service found it wrong. Services
raise the domain errors below; the handler turns them into 4xx answers so APIs never catch
and translate by hand.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from servicekit import context, requestid

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base for expected failures a service reports to its caller."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    error_type = "domain_error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.error_type
        self.extra = extra


class ValidationFailed(DomainError):
    """Input that passed the serializer but breaks a business rule; names the field."""

    status_code = status.HTTP_400_BAD_REQUEST
    error_type = "validation_error"

    def __init__(self, errors: dict[str, Any], detail: str = "Invalid input.") -> None:
        super().__init__(detail)
        self.errors = errors


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    error_type = "not_found"


class Conflict(DomainError):
    """The request is valid but the current state forbids it (409)."""

    status_code = status.HTTP_409_CONFLICT
    error_type = "conflict"


class ServiceUnavailable(exceptions.APIException):
    """Something this request needs cannot be reached right now: a 503 with Retry-After,
    which the client may retry as it is (nothing about the request was wrong)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service cannot answer right now; retry shortly."
    default_code = "service_unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.wait = RETRY_AFTER_SECONDS  # DRF answers it as Retry-After


DRF_TYPES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    ServiceUnavailable: "service_unavailable",
}


def error_body(error_type: str, detail: str, errors: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": error_type, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def field_errors(errors: Any, path: str = "") -> dict[str, list[str]]:
    """Messages under the path of the field they are about: DRF's nested
    `{"lines": [{}, {"sku": ["..."]}]}` becomes `{"lines.1.sku": ["..."]}`; a nested
    object's own (non-field) errors sit on the object's path."""
    if isinstance(errors, dict):
        found: dict[str, list[str]] = {}
        for key, value in errors.items():
            inner = path if key == "non_field_errors" and path else _join(path, key)
            for name, messages in field_errors(value, inner).items():
                found.setdefault(name, []).extend(messages)
        return found
    if isinstance(errors, list) and any(isinstance(item, (dict, list)) for item in errors):
        found = {}
        for index, item in enumerate(errors):
            for name, messages in field_errors(item, _join(path, index)).items():
                found.setdefault(name, []).extend(messages)
        return found
    messages = errors if isinstance(errors, list) else [errors]
    return {path or "non_field_errors": [str(message) for message in messages]} if messages else {}


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every error in the one body format."""
    if isinstance(exc, DomainError):
        if isinstance(exc, ValidationFailed):  # the same body as the serializers' errors
            body = error_body(exc.error_type, exc.detail, field_errors(exc.errors))
        else:
            body = error_body(exc.error_type, exc.detail, code=exc.code, **exc.extra)
        return Response(body, status=exc.status_code)
    if is_outage(exc):
        return unavailable_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    error_type = next((t for cls, t in DRF_TYPES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(error_type, "Invalid input.", field_errors(exc.detail))
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response.data = error_body(error_type, str(detail))
    return response


# ------------------------------------------------------------ outside the APIs' views
# Django's own error answers (no view matched, a foreign Host, an unexpected exception, the
# database gone) in the same format, with the request id to find the log lines by, and
# never its HTML debug pages, whatever DEBUG says (they list settings, paths and every URL).

RETRY_AFTER_SECONDS = 5
OUTAGE_ERRORS = (db.OperationalError, db.InterfaceError)
HTML_PREFIXES = ("/admin/",)  # pages for people, which keep Django's own error pages
STATUS_TYPES = {
    400: ("bad_request", "Bad request."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    500: ("server_error", "Internal server error."),
    503: ("service_unavailable", "The service cannot reach its database; retry shortly."),
}


def json_error(request: HttpRequest, status_code: int, detail: str | None = None) -> JsonResponse:
    error_type, default = STATUS_TYPES.get(status_code, ("error", "Error."))
    body = error_body(error_type, detail or default, request_id=requestid.of(request))
    response = JsonResponse(body, status=status_code)
    if status_code == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_outage(exc: BaseException | None) -> bool:
    """The database (or the connection to it) is gone: nothing the request did wrong."""
    return isinstance(exc, OUTAGE_ERRORS)


def unavailable_response(exc: BaseException) -> Response:
    """DRF views: a database outage is a 503 the client may retry, not a 500."""
    logger.warning("database unavailable: %s", exc)
    body = error_body(
        "service_unavailable", STATUS_TYPES[503][1], request_id=context.correlation_id()
    )
    return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler400: also what a request for a Host not in ALLOWED_HOSTS gets."""
    return json_error(request, 400)


def json_permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return json_error(request, 403)


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler404 for URLs no view matches: the same body as the APIs give."""
    return json_error(request, 404, f"No endpoint at {request.path}.")


def json_server_error(request: HttpRequest) -> JsonResponse:
    """handler500 (Django calls it while handling the exception)."""
    if is_outage(sys.exc_info()[1]):
        return json_error(request, 503)
    return json_error(request, 500)


class JsonErrorsMiddleware:
    """Every error answer outside the admin is JSON, even with DEBUG on: an HTML error page
    from Django (debug page, DisallowedHost, a 404 no view matched) is replaced by the
    JSON one, and a view's database outage answers 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if response.status_code >= 400 and is_html and not request.path.startswith(HTML_PREFIXES):
            detail = f"No endpoint at {request.path}." if response.status_code == 404 else None
            return json_error(request, response.status_code, detail)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_outage(exception):
            logger.warning("database unavailable: %s", exception)
            return json_error(request, 503)
        return None  # Django's handling, then __call__ makes any HTML page JSON
