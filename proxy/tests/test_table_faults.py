"""The proxy on a route store that holds a bad entry, is wiped, or loses a reply (issue 15):
it keeps serving its last good table, keeps applying other changes, answers a change with
the truth, and `carve routes` neither reports a committed change lost nor applies it twice."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port
from click.testing import CliRunner, Result

from proxy.adminclient import AdminClient, AdminError
from proxy.app import TABLE, create_app
from proxy.cli import routes
from proxy.tests.conftest import TOKEN, Fake, LiveProxy, ProxyFactory, proxy_config
from proxy.tests.test_workers import start_proxy, wait_until_up, write_config

AUTH = {"Authorization": f"Bearer {TOKEN}"}
Trio = tuple[Fake, Fake, Fake]


def edit(store_url: str, change: Any) -> None:
    path = Path(store_url.removeprefix("file:"))
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


async def served_by(proxy: Any, path: str) -> str:
    return str((await (await proxy.client.get(path)).json())["upstream"])


async def test_a_bad_entry_freezes_nothing(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    await proxy.set_state("inventory", "extracted")

    def bogus(document: dict[str, Any]) -> None:
        document["routes"]["inventory"] = {"mode": "bogus", "percent": 0}
        document["version"] += 1

    edit(proxy.store_url, bogus)
    response = await proxy.client.put(
        "/_carve/api/routes/payments", json={"state": "shadow"}, headers=AUTH
    )
    assert response.status == 200, await response.text()  # not a 500 after the commit
    table = proxy.app[TABLE]
    deadline = time.monotonic() + 1
    while table.snapshot.version != 4:
        assert time.monotonic() < deadline, "the refresh stopped at the bad entry"
        await asyncio.sleep(0.02)
    assert await served_by(proxy, "/api/payments/x") == "monolith"  # shadow: the monolith answers
    assert await served_by(proxy, "/api/inventory/x") == "inventory"  # its last good state
    assert (await proxy.client.get("/readyz")).status == 200
    await proxy.set_state("inventory", "monolith")  # the repair, through the API
    assert await served_by(proxy, "/api/inventory/x") == "monolith"


async def test_a_wiped_store_moves_no_route_and_refuses_changes_until_restored(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    Path(proxy.store_url.removeprefix("file:")).unlink()
    table = proxy.app[TABLE]
    deadline = time.monotonic() + 1
    while table.last_error is None:
        assert time.monotonic() < deadline, "the wipe went unnoticed"
        await asyncio.sleep(0.02)
    assert await served_by(proxy, "/api/payments/x") == "payments"
    ready = await (await proxy.client.get("/readyz")).json()
    assert ready["routes_version"] == 1 and "is empty" in ready["store_error"]
    response = await proxy.client.put(
        "/_carve/api/routes/inventory", json={"state": "shadow"}, headers=AUTH
    )
    assert response.status == 409
    assert "carve routes restore" in (await response.json())["detail"]

    response = await proxy.client.post("/_carve/api/restore", headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["version"] == 2
    assert await served_by(proxy, "/api/payments/x") == "payments"
    await proxy.set_state("inventory", "shadow")


async def served_once(
    trio: Trio, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Path]:
    """A proxy on a file store (its snapshot under tmp's var/) that moved payments to
    extracted and stopped: the config to start it again, and the store's file."""
    monkeypatch.setenv("CARVE_VAR_DIR", str(tmp_path / "var"))
    store = tmp_path / "routes.json"
    config = proxy_config({f.name: f.url for f in trio}, routes_url=f"file:{store}")
    first = await aiohttp_client(create_app(config))
    response = await first.put(
        "/_carve/api/routes/payments", json={"state": "extracted"}, headers=AUTH
    )
    assert response.status == 200
    await first.close()
    return config, store


async def test_a_proxy_restarted_while_the_store_is_unreadable_serves_its_last_table(
    trio: Trio, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = await served_once(trio, aiohttp_client, tmp_path, monkeypatch)
    store.write_text("{damaged")
    again = await aiohttp_client(create_app(config))
    assert (await (await again.get("/api/payments/x")).json())["upstream"] == "payments"
    ready = await again.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["routes_source"] == "disk"


def carve_routes(live: LiveProxy, *args: str) -> Result:
    env = {"CARVE_ADMIN_TOKEN": TOKEN, "CARVE_PROXY_URL": live.url, "COLUMNS": "200"}
    return CliRunner().invoke(routes, list(args), env=env, catch_exceptions=False)


def test_the_cli_restores_a_wiped_store(live_proxy: LiveProxy) -> None:
    assert carve_routes(live_proxy, "set", "payments", "extracted").exit_code == 0
    Path(live_proxy.store_url.removeprefix("file:")).unlink()
    deadline = time.monotonic() + 2
    while (result := carve_routes(live_proxy, "set", "inventory", "shadow")).exit_code == 0:
        assert time.monotonic() < deadline, "a change was written to the wiped store"
    assert "carve routes restore" in result.output
    result = carve_routes(live_proxy, "restore")
    assert result.exit_code == 0, result.output
    assert "restored 1 routes" in result.output and "at version 2" in result.output


def test_the_cli_asks_by_change_id_when_the_reply_is_lost(
    live_proxy: LiveProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put = AdminClient.put
    sent: list[dict[str, Any]] = []

    def put_and_lose_the_reply(self: AdminClient, path: str, body: dict[str, Any]) -> Any:
        sent.append(body)
        real_put(self, path, body)  # committed by the proxy...
        raise AdminError("the proxy did not answer")  # ...but the answer never came

    monkeypatch.setattr(AdminClient, "put", put_and_lose_the_reply)
    result = carve_routes(live_proxy, "set", "payments", "extracted")
    assert result.exit_code == 0, result.output
    assert "payments: monolith -> extracted" in result.output
    assert sent[0]["change_id"] in json.dumps(
        json.loads(carve_routes(live_proxy, "--json", "history").output)
    )

    def put_lost_before_the_proxy(self: AdminClient, path: str, body: dict[str, Any]) -> Any:
        raise AdminError("the proxy did not answer")

    monkeypatch.setattr(AdminClient, "put", put_lost_before_the_proxy)
    result = carve_routes(live_proxy, "set", "payments", "shadow")
    assert result.exit_code == 1
    assert "the change was NOT applied" in result.output


async def test_a_change_reaches_every_worker_of_two_proxies_within_half_a_second(
    fake: Any, tmp_path: Path
) -> None:
    """The propagation figure: two `carve proxy --workers 2` on one store."""
    monolith: Fake = await fake("monolith")
    payments: Fake = await fake("payments")
    ports = [unused_port(), unused_port()]
    processes = []
    for n, port in enumerate(ports):
        config = write_config(tmp_path / f"proxy{n}.toml", port, tmp_path, monolith, payments)
        processes.append(
            await start_proxy(config, 2, tmp_path / f"var{n}", stderr=asyncio.subprocess.DEVNULL)
        )
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(urls, processes, strict=True):
            await wait_until_up(url, process)
        connector = aiohttp.TCPConnector(force_close=True)  # each request may meet any worker
        async with aiohttp.ClientSession(connector=connector) as session:
            workers: dict[str, set[int]] = {url: set() for url in urls}
            deadline = time.monotonic() + 10
            while any(len(pids) < 2 for pids in workers.values()):
                for url in urls:
                    async with session.get(f"{url}/healthz") as response:
                        workers[url].add((await response.json())["pid"])
                assert time.monotonic() < deadline, f"only saw workers {workers}"
            async with session.put(
                f"{urls[0]}/_carve/api/routes/payments", json={"state": "extracted"}, headers=AUTH
            ) as response:
                assert response.status == 200
            changed = time.monotonic()
            current: dict[str, set[int]] = {url: set() for url in urls}
            while current != workers:
                for url in urls:
                    async with session.get(f"{url}/readyz") as response:
                        ready = await response.json()
                    if ready["routes_version"] == 1:
                        current[url].add(ready["pid"])
                took = time.monotonic() - changed
                assert took < 0.5, f"only {current} of {workers} in 0.5 s"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), timeout=20)


# ---------------------------------------------------------------- the outside attack
def raw_edit(store_url: str, change: Any, raw: str) -> None:
    """Edit the store's document; the placeholder "RAW" becomes `raw`, bytes as they are."""
    path = Path(store_url.removeprefix("file:"))
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document).replace('"RAW"', raw, 1))


async def test_a_kept_bad_entry_is_shown_in_readyz_and_the_api(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("inventory", "extracted")

    def overflow(document: dict[str, Any]) -> None:
        document["routes"]["inventory"] = "RAW"
        document["version"] += 1

    raw_edit(proxy.store_url, overflow, '{"mode": "canary", "percent": 1e400}')
    await proxy.set_state("payments", "extracted")  # a later change of another route lands
    assert await served_by(proxy, "/api/inventory/x") == "inventory"  # its last good state
    ready = await proxy.client.get("/readyz")
    assert ready.status == 200
    [bad] = (await ready.json())["bad_entries"]
    assert bad["route"] == "inventory" and bad["store"] == proxy.store_url
    assert "1e400" not in bad["reason"] and 'write {"mode"' in bad["reason"]
    listed = await (await proxy.client.get("/_carve/api/routes", headers=AUTH)).json()
    assert [b["route"] for b in listed["bad_entries"]] == ["inventory"]


async def test_store_garbage_in_history_and_change_records_is_a_clear_answer(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    raw_edit(proxy.store_url, lambda d: d["history"].append("RAW"), "[" * 150 + "]" * 150)
    raw_edit(
        proxy.store_url,
        lambda d: d["history"].append({"id": "cid-bad", "route": "RAW"}),
        "1e400",
    )
    answer = await proxy.client.get("/_carve/api/history", headers=AUTH)
    assert answer.status == 200
    body = await answer.json()
    assert [c["to"] for c in body["history"]] == ["extracted"]  # the rest still shown
    assert len(body["problems"]) == 2 and "routes.json history" in body["problems"][1]
    shown = await proxy.client.get("/_carve/api/routes/payments", headers=AUTH)
    assert shown.status == 200 and len((await shown.json())["history_problems"]) == 2
    change = await proxy.client.get("/_carve/api/changes/cid-bad", headers=AUTH)
    assert change.status == 409
    detail = (await change.json())["detail"]
    assert "cid-bad" in detail and "history item 2" in detail
    again = await proxy.client.put(
        "/_carve/api/routes/payments",
        json={"state": "shadow", "change_id": "cid-bad"},
        headers=AUTH,
    )
    assert again.status == 409 and (await again.json())["applied"] is True


async def test_a_proxy_whose_snapshot_is_bad_and_store_is_down_is_not_ready_and_says_why(
    trio: Trio, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = await served_once(trio, aiohttp_client, tmp_path, monkeypatch)
    [snapshot] = (tmp_path / "var").glob("routes-snapshot-*.json")
    snapshot.write_text('{"version": 1e400}')  # it started the proxy from nothing: a crash
    store.write_text("{damaged")
    again = await aiohttp_client(create_app(config))
    ready = await again.get("/readyz")
    assert ready.status == 503
    [problem] = (await ready.json())["problems"]
    assert "no route table" in problem and snapshot.name in problem and "damaged" not in problem
    assert "unreadable and ignored" in problem
    # with no table, a route's requests are refused: never the configured default
    seen = [len(fake.seen) for fake in trio]
    for path in ("/api/payments/x", "/api/inventory/x"):
        refused = await again.get(path)
        assert refused.status == 503 and refused.headers["Retry-After"] == "5"
        body = await refused.json()
        assert body["code"] == "no_route_table" and "no route table" in body["detail"]
    assert [len(fake.seen) for fake in trio] == seen  # nothing forwarded anywhere


def test_the_cli_says_not_applied_when_the_store_is_failing(live_proxy: LiveProxy) -> None:
    table = live_proxy.app[TABLE]
    path = Path(live_proxy.store_url.removeprefix("file:"))
    assert carve_routes(live_proxy, "set", "payments", "extracted").exit_code == 0
    path.unlink()
    path.mkdir()  # unreadable
    deadline = time.monotonic() + 2
    while table.last_error is None:
        assert time.monotonic() < deadline, "the outage went unnoticed"
        time.sleep(0.02)
    result = carve_routes(live_proxy, "set", "payments", "shadow")
    assert result.exit_code == 1
    assert "not sent" in result.output and "the change was NOT applied" in result.output
    assert "unknown" not in result.output
    path.rmdir()


def test_the_cli_restore_shows_the_diff_and_refuses_an_older_table(live_proxy: LiveProxy) -> None:
    assert carve_routes(live_proxy, "set", "payments", "extracted").exit_code == 0
    result = carve_routes(live_proxy, "restore")  # a healthy store
    assert result.exit_code == 0, result.output
    assert "nothing to restore" in result.output and "is healthy" in result.output

    def newer(document: dict[str, Any]) -> None:  # another writer moved on meanwhile
        document["routes"]["payments"] = {"mode": "shadow", "percent": 0}
        document["version"] += 1

    table = live_proxy.app[TABLE]
    table._lock.acquire()  # a refresh under way: this proxy still holds version 1
    try:
        edit(live_proxy.store_url, newer)
        result = carve_routes(live_proxy, "restore", "--dry-run")
        assert result.exit_code == 0, result.output
        assert "shadow" in result.output and "extracted" in result.output
        assert "dry run" in result.output
        result = carve_routes(live_proxy, "restore")
        assert result.exit_code == 1 and "--force" in result.output
        assert "payments" in result.output
    finally:
        table._lock.release()
    assert table.snapshot.version == 1
    result = carve_routes(live_proxy, "restore", "--force")
    assert result.exit_code == 0 and "restored 1 routes" in result.output, result.output
