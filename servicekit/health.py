"""/healthz (the process answers) and /readyz (its database answers) for every service."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path

ReadinessCheck = Callable[[], str | None]


def database_check() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"database: {exc}"
    return None


def health_urls(service: str, checks: list[ReadinessCheck] | None = None) -> list[URLPattern]:
    all_checks = [database_check, *(checks or [])]

    def healthz(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"status": "ok", "service": service})

    def readyz(request: HttpRequest) -> JsonResponse:
        problems = [problem for check in all_checks if (problem := check())]
        if problems:
            return JsonResponse(
                {"status": "unavailable", "service": service, "problems": problems}, status=503
            )
        return JsonResponse({"status": "ready", "service": service})

    return [path("healthz", healthz, name="healthz"), path("readyz", readyz, name="readyz")]
