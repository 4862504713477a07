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


async def test_a_proxy_restarted_while_the_store_is_unreadable_serves_its_last_table(
    trio: Trio, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARVE_VAR_DIR", str(tmp_path / "var"))
    store = tmp_path / "routes.json"
    config = proxy_config({f.name: f.url for f in trio}, routes_url=f"file:{store}")
    first = await aiohttp_client(create_app(config))
    response = await first.put(
        "/_carve/api/routes/payments", json={"state": "extracted"}, headers=AUTH
    )
    assert response.status == 200
    await first.close()
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
