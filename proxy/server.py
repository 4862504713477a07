"""Running the proxy: one worker process, or a supervisor of N workers on one port.

Each worker binds the port itself with SO_REUSEPORT, so the kernel spreads new
connections over the workers. SIGTERM (or SIGINT) drains: a worker stops accepting,
answers /readyz with 503, lets requests in flight finish (up to drain_seconds), then
exits; the supervisor forwards the signal to every worker and waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from multiprocessing.process import BaseProcess

from aiohttp import web

from proxy.config import ConfigError, ProxyConfig

log = logging.getLogger("carve.proxy")
MAX_RESTARTS = 5  # in 30 s; beyond that a crash loop is reported, not hidden
ORPHAN_CHECK_SECONDS = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def configure_logging(access_log: bool) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("carve.proxy.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )


def _event_loop_policy() -> None:
    try:
        import uvloop
    except ImportError:  # optional: the proxy is correct without it, only slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def serve_worker(
    config: ProxyConfig, access_log: bool = True, supervisor: int | None = None
) -> None:
    """One worker: serve until SIGTERM/SIGINT (or, when started by the `supervisor`
    process, until that process is gone), then drain and return."""
    configure_logging(access_log)
    if supervisor is not None:
        _ask_for_sigterm_when_parent_dies()
    _event_loop_policy()
    asyncio.run(_serve(config, supervisor))


def _ask_for_sigterm_when_parent_dies() -> None:
    """On Linux the kernel sends SIGTERM the moment the supervisor dies, even by
    SIGKILL (PR_SET_PDEATHSIG); elsewhere `_orphaned` polling is the only watch."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


async def _orphaned(supervisor: int) -> None:
    """Return once `supervisor` is no longer our parent (it died, even by SIGKILL, and
    possibly before this worker got this far), so a worker never keeps the port after
    its supervisor."""
    while os.getppid() == supervisor:
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)
    log.warning("the supervisor %d is gone", supervisor)


async def _serve(config: ProxyConfig, supervisor: int | None = None) -> None:
    from proxy.app import HANDLER, RUNNER_KWARGS, create_app
    from proxy.front import FrontRunner

    app = create_app(config)
    runner = FrontRunner(
        app, handler=app[HANDLER], shutdown_timeout=config.drain_seconds, **RUNNER_KWARGS
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_port=True, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch = None
    if supervisor is not None:
        watch = loop.create_task(_orphaned(supervisor))
        watch.add_done_callback(lambda _: stop.set())
    try:
        await site.start()
        log.info("carve proxy listening on http://%s:%d", config.host, config.port)
        await stop.wait()
        if watch is not None:
            watch.cancel()
        log.info("draining: finishing requests in flight (up to %.0f s)", config.drain_seconds)
    finally:
        await runner.cleanup()
    log.info("stopped")


def check_port(config: ProxyConfig) -> None:
    """Fail before starting workers when the port is taken (a clear error, not N crashes)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror}; "
                "is another proxy running? (set [proxy] listen in the config)"
            ) from None


def supervise(config: ProxyConfig, workers: int, access_log: bool = True) -> int:
    """Run `workers` processes until SIGTERM/SIGINT; restart a worker that dies."""
    configure_logging(access_log)
    check_port(config)
    metrics_dir = tempfile.mkdtemp(prefix="carve-proxy-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # inherited by the spawned workers
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(
            target=serve_worker, args=(config, access_log, os.getpid()), daemon=False
        )
        process.start()
        return process

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    processes = [start() for _ in range(workers)]
    restarts: list[float] = []
    log.info("supervisor %d started %d workers", os.getpid(), workers)
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(processes):
                if process.exitcode is None or stopping:
                    continue
                log.error("worker %d exited with %s", process.pid, process.exitcode)
                _mark_dead(process)
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 30] + [now]
                if len(restarts) > MAX_RESTARTS:
                    log.error("workers keep dying (%d in 30 s): stopping", len(restarts))
                    stopping = True
                    break
                processes[index] = start()
        log.info("supervisor: draining %d workers", workers)
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + config.drain_seconds + 5
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.error("worker %d did not drain in time; killing it", process.pid)
                process.kill()
                process.join()
        return 0 if not restarts and all(p.exitcode == 0 for p in processes) else 1
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _mark_dead(process: BaseProcess) -> None:
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        if process.pid is not None:
            multiprocess.mark_process_dead(process.pid)
