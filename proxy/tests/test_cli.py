"""`carve routes` against a running proxy, and its errors when it cannot be used."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import unused_port
from click.testing import CliRunner, Result

from proxy.cli import routes
from proxy.tests.conftest import TOKEN, LiveProxy


def carve_routes(live: Any, *args: str, token: str = TOKEN, url: str | None = None) -> Result:
    env = {"CARVE_ADMIN_TOKEN": token, "CARVE_PROXY_URL": url or live.url, "COLUMNS": "200"}
    return CliRunner().invoke(routes, list(args), env=env, catch_exceptions=False)


def test_list_set_canary_show_history(live_proxy: LiveProxy) -> None:
    result = carve_routes(live_proxy, "list")
    assert result.exit_code == 0, result.output
    assert "payments" in result.output and "/api/payments/" in result.output
    assert "everything else: monolith" in result.output

    result = carve_routes(live_proxy, "set", "payments", "shadow")
    assert result.exit_code == 0, result.output
    assert "payments: monolith -> shadow" in result.output
    result = carve_routes(live_proxy, "canary", "payments", "20")
    assert "payments: shadow -> canary 20" in result.output

    result = carve_routes(live_proxy, "--json", "list")
    states = {r["name"]: r["state"] for r in json.loads(result.output)["routes"]}
    assert states == {"payments": "canary 20", "inventory": "monolith"}

    result = carve_routes(live_proxy, "show", "payments")
    assert result.exit_code == 0 and "canary 20" in result.output

    result = carve_routes(live_proxy, "history")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "payments" in line]
    assert len(lines) == 2 and "shadow" in lines[0] and "canary 20" in lines[1]
    assert "@" in lines[0]  # who: user@host of whoever ran the command


def test_set_and_canary_take_effect_on_traffic(live_proxy: LiveProxy) -> None:
    import urllib.request

    def served_by() -> str:
        with urllib.request.urlopen(f"{live_proxy.url}/api/inventory/x") as response:
            return str(json.load(response)["upstream"])

    assert served_by() == "monolith"
    assert carve_routes(live_proxy, "set", "inventory", "extracted").exit_code == 0
    assert served_by() == "inventory"


def test_explain(live_proxy: LiveProxy) -> None:
    carve_routes(live_proxy, "set", "payments", "extracted")
    result = carve_routes(live_proxy, "explain", "GET", "/api/payments/./charges/")
    assert result.exit_code == 0, result.output
    for expected in ("/api/payments/charges/", "prefix /api/payments/", "extracted", "monolith"):
        assert expected in result.output
    result = carve_routes(live_proxy, "explain", "GET", "/api/..%2Fpayments")
    assert "rejected with 400" in result.output


def test_explain_a_canary_for_a_user_a_cookie_or_nobody(live_proxy: LiveProxy) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from proxy.identity import bucket

    carve_routes(live_proxy, "canary", "payments", "50")
    uid = next(u for u in range(100) if bucket(f"user:{u}") < 50)  # one on the service side
    token = jwt.encode({"sub": str(uid)}, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    result = carve_routes(live_proxy, "explain", "GET", "/api/payments/", "--user-token", token)
    assert "payments" in result.output and f"user cohort {bucket(f'user:{uid}')}" in result.output

    cookie = next(c for c in ("a", "b", "c", "d", "e", "f") if bucket(f"cookie:{c}") >= 50)
    result = carve_routes(
        live_proxy, "--json", "explain", "GET", "/api/payments/", "--cookie", cookie
    )
    assert json.loads(result.output)["backend"] == "monolith"

    result = carve_routes(live_proxy, "--json", "explain", "GET", "/api/payments/")
    answer = json.loads(result.output)
    assert answer["backend"] == "payments or monolith" and "probability 50 %" in answer["reason"]


def test_clear_errors(live_proxy: LiveProxy) -> None:
    result = carve_routes(live_proxy, "list", token="wrong-token-0123456789")
    assert result.exit_code == 1
    assert "refused the admin token" in result.output

    result = carve_routes(live_proxy, "list", url=f"http://127.0.0.1:{unused_port()}")
    assert result.exit_code == 1
    assert "cannot reach the proxy" in result.output and "Traceback" not in result.output
    # a change to a proxy that refuses the connection was never sent: NOT applied, not unknown
    result = carve_routes(
        live_proxy, "set", "payments", "shadow", url=f"http://127.0.0.1:{unused_port()}"
    )
    assert result.exit_code == 1 and "the change was NOT applied" in result.output
    assert "unknown" not in result.output

    result = carve_routes(live_proxy, "list", token="")
    assert result.exit_code == 1 and "no admin token" in result.output

    result = carve_routes(live_proxy, "set", "nope", "shadow")
    assert result.exit_code == 1 and "no route nope" in result.output

    result = carve_routes(live_proxy, "canary", "payments", "101")
    assert result.exit_code == 2 and "1<=x<=100" in result.output


def test_carve_proxy_says_when_its_port_is_taken(tmp_path: object) -> None:
    import socket

    from proxy.cli import proxy

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(proxy, ["--listen", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output
