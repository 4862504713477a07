"""Error answers never show internals: JSON with the request id whatever DEBUG says (a 404
no view matches, an unexpected exception, a foreign Host), and a database outage is a
503 with Retry-After, not a 500. The monolith's URLs plus one view that fails, with the
error handlers every service's urls.py sets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.test import APIClient

from messaging.testing import FaultProxy
from monolith.config import urls as monolith_urls

handler400 = monolith_urls.handler400
handler403 = monolith_urls.handler403
handler404 = monolith_urls.handler404
handler500 = monolith_urls.handler500


def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail: /srv/secret/settings.py")


urlpatterns = [path("api/fails/", fails), *monolith_urls.urlpatterns]
pytestmark = pytest.mark.urls(__name__)
INTERNALS = ("Traceback", "/srv/secret", "URLconf", "DEBUG", "settings.py")


def assert_json_error(response: Any, status: int, error_type: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["type"] == error_type
    assert body["request_id"] == response["X-Request-ID"]
    for word in INTERNALS:
        assert word not in response.content.decode()


@pytest.fixture
def client() -> APIClient:
    return APIClient(raise_request_exception=False)


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("where", ["/nothing/here", "/api/nothing/", "/api/users/nothing/"])
def test_a_path_no_view_matches_is_a_json_404(client, settings, debug, where):
    settings.DEBUG = debug
    assert_json_error(client.get(where), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_an_unexpected_exception_is_a_json_500(client, settings, debug):
    settings.DEBUG = debug
    response = client.get("/api/fails/", HTTP_X_REQUEST_ID="find-me-in-the-log")
    assert_json_error(response, 500, "server_error")
    assert response.json()["request_id"] == "find-me-in-the-log"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_a_foreign_host_is_a_json_400(client, settings, debug):
    settings.DEBUG = debug
    response = client.get("/api/inventory/products/", HTTP_HOST="evil.example")
    assert_json_error(response, 400, "bad_request")


def test_debug_is_off_unless_asked_for():
    from servicekit import base_settings

    assert "DEBUG" not in os.environ
    assert base_settings.DEBUG is False


# ------------------------------------------------------------------ database outage


@contextmanager
def database_outage(tmp_path: Path) -> Iterator[None]:
    """The service's database cut off: a TCP proxy cut in front of PostgreSQL (the server
    itself is never touched), or a SQLite file that cannot be opened."""
    saved = dict(connection.settings_dict)
    proxy = None
    connection.close()
    if connection.vendor == "postgresql":
        proxy = FaultProxy(saved["HOST"] or "127.0.0.1", int(saved["PORT"] or 5432))
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(proxy.port))
        proxy.cut()
    else:
        connection.settings_dict["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        if proxy is not None:
            proxy.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "where", ["/api/inventory/products/", "/api/users/me/", "/api/orders/history/"]
)
def test_a_database_outage_is_a_503_with_retry_after(client, settings, tmp_path, debug, where):
    settings.DEBUG = debug
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_of_someone()}")
    assert client.get(where).status_code == 200
    with database_outage(tmp_path):
        response = client.get(where)
    assert_json_error(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) > 0
    assert client.get(where).status_code == 200  # and back once it is


def token_of_someone() -> str:
    from django.contrib.auth import get_user_model

    from monolith.conftest import token_for

    user = get_user_model().objects.create_user(
        username="someone", email="someone@example.com", password="pw"
    )
    return token_for(user)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["/api/users/token/", "/api/orders/", "/api/payments/charges/"])
def test_json_nested_too_deeply_is_a_400_parse_error(client, where):
    """The json module raises RecursionError on deep nesting: a 400, never a 500."""
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_of_someone()}")
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(where, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "parse_error"
