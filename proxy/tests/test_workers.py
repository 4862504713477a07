"""`carve proxy --workers N` as a user runs it: a subprocess that serves on one port from
N processes and drains requests in flight on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from proxy.tests.conftest import TOKEN, Fake

REPO = Path(__file__).resolve().parents[2]


async def wait_until_up(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.returncode is None, "the proxy exited while starting"
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            assert time.monotonic() < deadline, "the proxy did not become ready in 30 s"
            await asyncio.sleep(0.1)


def write_config(path: Path, port: int, store_dir: Path, monolith: Fake, payments: Fake) -> Path:
    """A proxy config: the admin API on, a payments route, the route table in store_dir."""
    path.write_text(
        f'[proxy]\nlisten = "127.0.0.1:{port}"\nadmin_token = "{TOKEN}"\ndrain_seconds = 10\n'
        f'routes_url = "file:{store_dir}/routes.json"\n'
        f'[upstreams.monolith]\nurl = "{monolith.url}"\n'
        f'[upstreams.payments]\nurl = "{payments.url}"\n'
        '[[routes]]\nname = "payments"\nprefix = "/api/payments/"\nservice = "payments"\n'
    )
    return path


async def start_proxy(
    config: Path, workers: int, var_dir: Path, stderr: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """`carve proxy --workers N` as a user runs it, its local state under var_dir."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "carve",
        "proxy",
        "--config",
        str(config),
        "--workers",
        str(workers),
        "--no-access-log",
        cwd=REPO,
        env={**os.environ, "CARVE_VAR_DIR": str(var_dir)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )


@pytest.mark.parametrize("workers", [1, 2])
async def test_workers_serve_one_port_and_drain_on_sigterm(
    fake: object, tmp_path: Path, workers: int
) -> None:
    monolith: Fake = await fake("monolith")  # type: ignore[operator]
    payments: Fake = await fake("payments")  # type: ignore[operator]
    port = unused_port()
    config = write_config(tmp_path / "proxy.toml", port, tmp_path, monolith, payments)
    process = await start_proxy(config, workers, tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(url, process)
        pids: set[int] = set()
        deadline = time.monotonic() + 10
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection each time
        async with aiohttp.ClientSession(connector=connector) as session:
            while len(pids) < workers:
                async with session.get(f"{url}/healthz") as response:
                    pids.add((await response.json())["pid"])
                assert time.monotonic() < deadline, f"only saw workers {pids}"
            assert len(pids) == workers
            async with session.get(f"{url}/api/x") as response:
                assert (await response.json())["upstream"] == "monolith"

            # a change made through one worker reaches every worker within a second
            async with session.put(
                f"{url}/_carve/api/routes/payments",
                json={"state": "extracted"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                assert response.status == 200
            changed = time.monotonic()
            current: set[int] = set()
            while current != pids:
                async with session.get(f"{url}/readyz") as response:
                    ready = await response.json()
                if ready["routes_version"] == 1:
                    current.add(ready["pid"])
                assert time.monotonic() - changed < 1.0, f"only {current} of {pids} in 1 s"
            for _ in range(4):
                async with session.get(f"{url}/api/payments/x") as response:
                    assert (await response.json())["upstream"] == "payments"

            slow = asyncio.create_task(session.get(f"{url}/slow?delay=1.5"))
            deadline = time.monotonic() + 5
            while not any(r["path"].startswith("/slow") for r in monolith.seen):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            response = await slow  # in flight when the signal came: it still completes
            assert response.status == 200
            assert (await response.json())["path"] == "/slow?delay=1.5"
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz"):
                pass
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = (await process.stderr.read()).decode() if process.stderr else ""
    assert "draining" in log and "Traceback" not in log, log


async def test_workers_leave_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    port = unused_port()
    config = tmp_path / "proxy.toml"
    config.write_text(
        f'[proxy]\nlisten = "127.0.0.1:{port}"\nroutes_url = "file:{tmp_path}/routes.json"\n'
        f'[upstreams.monolith]\nurl = "http://127.0.0.1:{unused_port()}"\n'
    )
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "carve", "proxy", "--config", str(config), "--workers", "2",
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(url, supervisor)
    finally:
        supervisor.kill()  # no chance to stop its workers
        await supervisor.wait()
    deadline = time.monotonic() + 10
    fresh_connections = aiohttp.TCPConnector(force_close=True)  # a new connect each time
    async with aiohttp.ClientSession(connector=fresh_connections) as session:
        while True:
            try:
                async with session.get(f"{url}/healthz"):
                    pass
            except aiohttp.ClientConnectionError:
                break  # nobody listens any more: the workers left
            assert time.monotonic() < deadline, "orphaned workers still hold the port"
            await asyncio.sleep(0.1)
