"""Admin tokens that expire and rotate (a tokens file, read again when it changes), and the
dashboard's session cookie: signed with the token that made it, CSRF-checked for writes."""

from __future__ import annotations

import asyncio
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from proxy.access import SESSION_COOKIE, AdminAccess
from proxy.cli import proxy_token
from proxy.tests.conftest import TOKEN, Fake, Proxy, ProxyFactory

Trio = tuple[Fake, Fake, Fake]
FRESH = "fresh-token-from-the-file-0123"
STALE = "stale-token-from-the-file-0123"


def tokens_file(path: Path, *lines: str) -> None:
    """Write the file anew (a new inode: changed even within the same mtime tick)."""
    draft = path.with_suffix(".draft")
    draft.write_text("# carve proxy admin tokens\n" + "".join(f"{line}\n" for line in lines))
    draft.replace(path)


async def status_with(proxy: Proxy, token: str) -> int:
    response = await proxy.client.get("/_carve/api/routes", headers={"X-Carve-Token": token})
    return response.status


async def until_status(proxy: Proxy, token: str, wanted: int) -> None:
    """The file is looked at once a second at most: poll, with a deadline."""
    deadline = time.monotonic() + 10
    while (status := await status_with(proxy, token)) != wanted:
        assert time.monotonic() < deadline, f"{token}: still {status}, not {wanted}"
        await asyncio.sleep(0.05)


async def sign_in(proxy: Proxy, token: str) -> tuple[str, dict[str, Any]]:
    response = await proxy.client.post("/_carve/session", json={"token": token})
    assert response.status == 200, await response.text()
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["Set-Cookie"])
    proxy.client.session.cookie_jar.clear()  # each request below says which cookie it sends
    return jar[SESSION_COOKIE].value, await response.json()


async def test_file_tokens_expire_and_are_revoked_without_a_restart(
    trio: Trio, make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    path = tmp_path / "admin-tokens"
    tokens_file(path, f"{FRESH} 2999-01-01T00:00:00Z ci", f"{STALE} 2020-01-01T00:00:00Z old")
    proxy = await make_proxy(*trio, admin_tokens_file=str(path))
    assert await status_with(proxy, FRESH) == 200
    assert await status_with(proxy, STALE) == 401  # past its NOT_AFTER
    assert await status_with(proxy, TOKEN) == 200  # CARVE_ADMIN_TOKEN, as the CLI sends it
    metrics = await proxy.client.get("/metrics", headers={"Authorization": f"Bearer {FRESH}"})
    assert metrics.status == 200

    cookie, _ = await sign_in(proxy, FRESH)
    tokens_file(path, f"{STALE} 2999-01-01T00:00:00Z rotated-in")  # FRESH revoked
    await until_status(proxy, FRESH, 401)
    assert await status_with(proxy, STALE) == 200
    session = await proxy.client.get(
        "/_carve/api/routes", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
    )
    assert session.status == 401  # a session dies with the token that made it

    tokens_file(path, "not a valid line")  # a broken file: none of its tokens, said once
    await until_status(proxy, STALE, 401)
    assert await status_with(proxy, TOKEN) == 200


async def test_a_dashboard_session_reads_freely_and_writes_only_with_its_csrf_value(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    refused = await proxy.client.post("/_carve/session", json={"token": "wrong-0123456789abc"})
    assert refused.status == 401
    assert (await proxy.client.post("/_carve/session", data=b"\xff")).status == 400
    cookie, session = await sign_in(proxy, TOKEN)
    assert TOKEN not in cookie and session["token"] == "CARVE_ADMIN_TOKEN"
    assert 0 < session["expires"] - time.time() <= 3600
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert (await proxy.client.get("/_carve/api/stats", headers=headers)).status == 200
    assert (await proxy.client.get("/_carve/session", headers=headers)).status == 200

    change = {"state": "shadow"}
    forged = await proxy.client.put("/_carve/api/routes/payments", json=change, headers=headers)
    assert forged.status == 403  # what a cross-site form could send: no CSRF value
    assert (await forged.json())["code"] == "csrf_required"
    wrong = {**headers, "X-Carve-CSRF": session["csrf"][:-2] + "xx"}
    mistaken = await proxy.client.put("/_carve/api/routes/payments", json=change, headers=wrong)
    assert mistaken.status == 403
    right = {**headers, "X-Carve-CSRF": session["csrf"]}
    done = await proxy.client.put("/_carve/api/routes/payments", json=change, headers=right)
    assert done.status == 200, await done.text()

    for bad in (cookie[:-3] + "abc", "9999999999.x." + cookie.rpartition(".")[2], "1.x.y", ""):
        bad_headers = {"Cookie": f"{SESSION_COOKIE}={bad}"}
        assert (await proxy.client.get("/_carve/api/stats", headers=bad_headers)).status == 401
    out = await proxy.client.delete("/_carve/session", headers=headers)
    assert f'{SESSION_COOKIE}=""' in out.headers["Set-Cookie"]


def test_carve_proxy_token_mints_a_token_the_proxy_accepts_until_it_expires(
    tmp_path: Path,
) -> None:
    path = tmp_path / "admin-tokens"
    result = CliRunner().invoke(proxy_token, ["--file", str(path), "--days", "1", "--name", "ci"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) >= 32 and "accepted until" in result.stderr
    assert path.stat().st_mode & 0o077 == 0  # the owner's only
    access = AdminAccess(None, str(path))
    found = access.token_for(token)
    assert found is not None and found.name == "ci"
    assert found.not_after is not None and 0 < found.not_after - time.time() <= 86400 + 60
    refused = CliRunner().invoke(proxy_token, ["--file", str(path), "--name", "two words"])
    assert refused.exit_code != 0 and "without spaces" in refused.output
