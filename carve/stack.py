"""The whole example deployment as local processes: `carve stack up` (what `make run` runs).

    monolith  :8000  web (gunicorn), worker (Celery), relay (+ ownership watcher, saga timeouts)
    payments  :8001  web, worker, relay
    inventory :8002  web, worker, relay
    proxy     :8080  the strangler-fig proxy, dashboard at /_carve/ui

Embedded mode by default: SQLite files, the filesystem broker and the route table under
var/. Logs are interleaved, one prefix per process; Ctrl-C stops everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from carve.stacklock import InUse, VarDirLock, check_ports

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("monolith", "payments", "inventory")
CELERY_APPS = {
    "monolith": "monolith.config.celery",
    "payments": "extracted.payments.config.celery",
    "inventory": "extracted.inventory.config.celery",
}
SETTINGS = {
    "monolith": "monolith.config.settings.base",
    "payments": "extracted.payments.config.settings",
    "inventory": "extracted.inventory.config.settings",
}
WSGI_APPS = {
    "monolith": "monolith.config.wsgi:application",
    "payments": "extracted.payments.config.wsgi:application",
    "inventory": "extracted.inventory.config.wsgi:application",
}


@dataclass(frozen=True)
class Ports:
    monolith: int = 8000
    payments: int = 8001
    inventory: int = 8002
    proxy: int = 8080

    def of(self, service: str) -> int:
        return int(getattr(self, service))


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def service_databases(
    admin_url: str | None, prefix: str, template: str | None = None
) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database per service (`<prefix>_<service>`) on the server of
    `admin_url`, dropped afterwards; with no `admin_url` (embedded mode), none. With a
    `template` prefix, each starts as a copy of `<template>_<service>` (no one may be
    connected to it)."""
    if admin_url is None:
        yield {}
        return
    import psycopg

    names = {service: f"{prefix}_{service}" for service in SERVICES}
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for service, name in names.items():
            source = f' TEMPLATE "{template}_{service}"' if template else ""
            admin.execute(f'CREATE DATABASE "{name}"{source}')
    server = urlsplit(admin_url)
    try:
        yield {s: server._replace(path=f"/{n}").geturl() for s, n in names.items()}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_broker_objects(broker_url: str, exchange: str, prefix: str) -> None:
    """Real mode: a private exchange and its services' queues go when their run ends."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as connection:
        channel: Any = connection.channel()
        for service in SERVICES:
            channel.queue_delete(f"{prefix}{service}")
        channel.exchange_delete(exchange)


@dataclass
class StackConfig:
    var_dir: Path
    ports: Ports = field(default_factory=Ports)
    # Real mode: a database URL per service; empty means a SQLite file under var_dir.
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    admin_token: str = ""
    web_workers: int = 2
    worker_concurrency: int = 2

    def env_for(self, service: str | None) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, "CARVE_VAR_DIR": str(self.var_dir)}
        env["CARVE_ADMIN_TOKEN"] = self.admin_token
        env["PYTHONUNBUFFERED"] = "1"
        # The stack's proxy reaches the services over loopback: its X-Forwarded-For counts.
        env.setdefault("CARVE_TRUSTED_PROXIES", "127.0.0.1,::1")
        # While a service's copy of user access is stale it asks the monolith about tokens.
        env.setdefault("CARVE_IDENTITY_URL", f"http://127.0.0.1:{self.ports.monolith}")
        # Celery's warning about running as root (containers, CI) is not news on every start.
        quiet = "ignore:You're running the worker with superuser privileges"
        env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), quiet]))
        for name in ("DATABASE_URL", "MONOLITH_DATABASE_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        for name, url in self.database_urls.items():
            env[f"{name.upper()}_DATABASE_URL"] = url  # for carve commands run beside
        if service and self.database_urls.get(service):
            env["DATABASE_URL"] = self.database_urls[service]
        # Local mode's token keys are made under var/auth on first run (servicekit.keys):
        # the public half lets the proxy verify the user id it puts canary users by.
        public = self.var_dir / "auth" / "public.pem"
        if "CARVE_AUTH_PUBLIC_KEYS" not in env and public.is_file():
            env["CARVE_AUTH_PUBLIC_KEYS"] = public.read_text()
        return env


@dataclass
class Spec:
    name: str
    argv: list[str]
    service: str | None


def manage(service: str) -> list[str]:
    if service == "monolith":
        return [sys.executable, str(REPO / "manage.py")]
    return [sys.executable, "-m", f"extracted.{service}"]


def carve(*args: str) -> list[str]:
    return [sys.executable, "-m", "carve", *args]


def proxy_config(config: StackConfig) -> Path:
    """A proxy config for these ports (the example config, re-pointed)."""
    text = (REPO / "proxy" / "example.toml").read_text()
    for service in SERVICES:
        text = text.replace(
            f"http://127.0.0.1:{Ports().of(service)}",
            f"http://127.0.0.1:{config.ports.of(service)}",
        )
    for host in ("127.0.0.1", "localhost"):  # the listen address and the public hosts
        text = text.replace(f'"{host}:8080"', f'"{host}:{config.ports.proxy}"')
    # A write may wait out a handover (CARVE_HANDOVER_WAIT_SECONDS): the service answers
    # 421 within a second while it is under way and the proxy asks again until the request's
    # deadline, which must outlast the wait. No first-byte timeout changes: no side holds a
    # request that long (messaging.ownership.HOLD_SECONDS).
    wait = float(config.env_for(None).get("CARVE_HANDOVER_WAIT_SECONDS", "10"))

    def outlast(match: re.Match[str]) -> str:
        return f"{match[1]}{max(float(match[2]), wait + 5)}"

    text = re.sub(r"^(total_timeout = )([0-9.]+)", outlast, text, flags=re.M)
    path = config.var_dir / "proxy.toml"
    path.write_text(text)
    return path


def specs(config: StackConfig) -> list[Spec]:
    found = []
    for service in SERVICES:
        port = config.ports.of(service)
        found.append(
            Spec(
                f"{service}-worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    CELERY_APPS[service],
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={config.worker_concurrency}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"{service}@%h",
                ],
                service,
            )
        )
        found.append(
            Spec(f"{service}-relay", carve("events", "--service", service, "relay"), service)
        )
        found.append(
            Spec(
                f"{service}-web",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    WSGI_APPS[service],
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(config.web_workers),
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "10",
                    # well over the proxy's idle_seconds (1.5): it never reuses a
                    # connection gunicorn is about to close
                    "--keep-alive",
                    "5",
                    # Each gunicorn would announce, and fight over, one control socket in
                    # the home folder; the stack controls its processes by signals.
                    "--no-control-socket",
                ],
                service,
            )
        )
    found.append(Spec("proxy", carve("proxy", "--config", str(proxy_config(config))), None))
    return found


def run_step(argv: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"{what} failed:\n{result.stdout}{result.stderr}")


class StackError(Exception):
    pass


class Stack:
    """Start, watch and stop the processes of one deployment."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self.lock = threading.Lock()
        self.echo = True
        self.var_lock = VarDirLock(config.var_dir)

    def claim(self, *, ports: bool = True) -> None:
        """Refuse to run beside another stack: take var/ (held until stop() or this
        process ends) and, with `ports`, check that no port of this stack is taken."""
        try:
            self.var_lock.acquire()
            if ports:
                check_ports(self.ports())
        except InUse as exc:
            self.var_lock.release()
            raise StackError(str(exc)) from None

    def ports(self) -> dict[str, int]:
        return {name: self.config.ports.of(name) for name in (*SERVICES, "proxy")}

    def prepare(self, *, seed: bool = True, declare: bool = True) -> None:
        """Migrate every database, create the demo admins, declare queues (unless not
        `declare`), seed. The services have a database each: they are prepared side by side."""
        self.claim(ports=False)
        self._each_service(lambda service: self._prepare(service, declare))
        if seed:
            run_step([*manage("monolith"), "seed"], self.config.env_for("monolith"), "seeding")

    def declare(self) -> None:
        """Declare each service's queue and bindings on the broker (prepare does this)."""
        self._each_service(self._declare)

    def _each_service(self, step: Callable[[str], None]) -> None:
        with ThreadPoolExecutor(len(SERVICES)) as pool:
            for done in [pool.submit(step, service) for service in SERVICES]:
                done.result()  # the first failure, with its output

    def _prepare(self, service: str, declare: bool) -> None:
        env = self.config.env_for(service)
        run_step(
            [*manage(service), "migrate", "--no-input", "-v", "0"], env, f"migrating {service}"
        )
        if service != "monolith":
            run_step([*manage(service), "ensure_superuser"], env, f"admin for {service}")
        if declare:
            self._declare(service)

    def _declare(self, service: str) -> None:
        env = self.config.env_for(service)
        run_step(carve("events", "--service", service, "declare"), env, f"queue of {service}")

    def start(self, *, echo: bool = True) -> None:
        if not self.processes:
            self.claim()
        self.echo = echo
        for spec in specs(self.config):
            self._launch(spec)

    def _launch(self, spec: Spec) -> None:
        width = max(len(s.name) for s in specs(self.config))
        process = subprocess.Popen(
            spec.argv,
            cwd=REPO,
            env=self.config.env_for(spec.service),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[spec.name] = process
        thread = threading.Thread(
            target=self._pump, args=(spec.name.ljust(width), process, self.echo), daemon=True
        )
        thread.start()
        self._threads[spec.name] = thread

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Signal one process (and its children, e.g. a worker's pool) and wait for it."""
        process = self.processes[name]
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        self._reap(name)

    def _reap(self, name: str) -> None:
        """After a process has ended: finish copying its output, close the pipe."""
        self._threads[name].join(timeout=5)
        stdout = self.processes[name].stdout
        if stdout is not None:
            stdout.close()

    def relaunch(self, name: str) -> None:
        """Start a process of the stack again (after kill())."""
        self._launch(next(spec for spec in specs(self.config) if spec.name == name))

    def _pump(self, prefix: str, process: subprocess.Popen[str], echo: bool) -> None:
        assert process.stdout is not None
        log = (self.config.var_dir / "logs").joinpath(f"{prefix.strip()}.log")
        log.parent.mkdir(exist_ok=True)
        with log.open("a") as sink:
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                if echo:
                    with self.lock:
                        sys.stdout.write(f"{prefix} | {line}")
                        sys.stdout.flush()

    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports().items()}

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.urls())
        while pending:
            for name, url in list(pending.items()):
                try:
                    if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                        del pending[name]
                except requests.RequestException:
                    pass
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise StackError(f"stopped while starting: {', '.join(dead)} (see var/logs)")
            if time.monotonic() > deadline:
                raise StackError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.25)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop what makes events (proxy, web servers, relays) first, then the workers, so a
        worker is not handed new events as it shuts down; each phase gets `timeout`.

        SIGTERM goes to each process itself, which stops its own children (a worker's pool, a
        web server's workers); whatever is left after `timeout` is killed with its group.
        SIGTERM to the whole group would reach a Celery pool's children before their parent
        asks them to finish, and the parent can then hang forever at exit."""
        workers = [name for name in self.processes if name.endswith("-worker")]
        producers = [name for name in self.processes if name not in workers]
        self._terminate([self.processes[name] for name in producers], timeout)
        self._terminate([self.processes[name] for name in workers], timeout, celery=True)
        for name in self.processes:
            self._reap(name)
        self.var_lock.release()

    @staticmethod
    def _terminate(
        processes: list[subprocess.Popen[str]], timeout: float, *, celery: bool = False
    ) -> None:
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                if celery:  # a hung worker: Celery logs every thread's stack on SIGUSR1
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGUSR1)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=1)
            with contextlib.suppress(ProcessLookupError):  # the stragglers of its group
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def sql(self, service: str, query: str) -> list[tuple[Any, ...]]:
        """Read a service's own database (to check, never to write behind its back)."""
        code = (
            "import json, django; django.setup(); from django.db import connection\n"
            "with connection.cursor() as c:\n"
            f"    c.execute({query!r}); print(json.dumps(c.fetchall(), default=str))"
        )
        env = {**self.config.env_for(service), "DJANGO_SETTINGS_MODULE": SETTINGS[service]}
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise StackError(f"reading {service}: {result.stderr.strip()}")
        return [tuple(row) for row in json.loads(result.stdout.strip().splitlines()[-1])]

    def running(self) -> Iterator[str]:
        return (name for name, process in self.processes.items() if process.poll() is None)


def admin_token(var_dir: Path) -> str:
    """CARVE_ADMIN_TOKEN, else one kept under var/ so it survives restarts."""
    given = os.environ.get("CARVE_ADMIN_TOKEN")
    if given:
        return given
    path = var_dir / "admin-token"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()
