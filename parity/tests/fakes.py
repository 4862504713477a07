"""Tiny stand-ins for a deployment (and a proxy's admin API), for tests that need HTTP
but not the whole stack: each is a real server on a free loopback port, in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Fake:
    """What the fake answers; tests change it between requests."""

    def __init__(self, charge_status: str = "captured", host: str = "") -> None:
        self.charge_status = charge_status
        self.host = host  # the host its links name; "" = its own address
        self.mismatches: list[dict[str, Any]] = []
        self.replays: dict[int, list[list[str]]] = {}
        self.admin_token = "fake-admin-token"
        self.url = ""
        self.login_page = ""  # an HTML 404 page the login answers with, if set


def _handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send_html(self, status: int, page: str) -> None:
            data = page.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _admin(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {fake.admin_token}"

        def do_GET(self) -> None:
            if self.path.startswith("/_carve/api/") and not self._admin():
                self._send(401, {"type": "bad_token", "detail": "a valid admin token is required"})
            elif self.path == "/readyz":
                self._send(200, {"status": "ok"})
            elif self.path == "/api/payments/charges/":
                host = fake.host or fake.url
                charge = {
                    "id": "0b6f8a4e-3a4c-4c57-9d3e-5b1c2a7e9f01",
                    "status": fake.charge_status,
                    "created_at": "2026-01-02T03:04:05.678901Z",
                }
                self._send(
                    200,
                    {
                        "count": 1,
                        "next": f"{host}/api/payments/charges/?page=2",
                        "results": [charge],
                    },
                )
            elif self.path == "/_carve/api/mismatches" and self._admin():
                self._send(200, {"mismatches": fake.mismatches})
            elif self.path == "/_carve/api/routes" and self._admin():
                self._send(200, {"routes": [{"name": "payments", "state": "shadow"}]})
            else:
                self._send(404, {"type": "not_found", "detail": "no such thing"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if self.path == "/api/users/token/" and fake.login_page:
                self._send_html(404, fake.login_page)
            elif self.path == "/api/users/token/":
                if body == {"username": "admin", "password": "admin"}:
                    self._send(200, {"token": "t-" + fake.url[-5:], "token_type": "Bearer"})
                else:
                    self._send(400, {"type": "validation_error", "detail": "bad login"})
            elif self.path.startswith("/_carve/api/mismatches/") and self._admin():
                mismatch_id = int(self.path.split("/")[4])
                item = next((m for m in fake.mismatches if m["id"] == mismatch_id), None)
                if item is None:
                    self._send(404, {"type": "not_found"})
                    return
                item["replays"] = fake.replays.get(mismatch_id, [[]])
                self._send(200, item)
            else:
                self._send(404, {"type": "not_found", "detail": "no such thing"})

    return Handler


@contextmanager
def serving(fake: Fake) -> Iterator[Fake]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
