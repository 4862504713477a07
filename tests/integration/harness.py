"""A whole deployment for a test: monolith, both services, workers, relays and the proxy,
as processes on free loopback ports, in this run's mode (embedded, or PostgreSQL and
RabbitMQ with CARVE_TEST_REAL=1: fresh databases and a private exchange per stack)."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from carve.stack import (
    REPO,
    SERVICES,
    Ports,
    Stack,
    StackConfig,
    delete_broker_objects,
    free_ports,
    service_databases,
)
from messaging.testing import wait_until
from routetable import RouteState, RouteTable, open_store

REAL = os.environ.get("CARVE_TEST_REAL") == "1"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


def databases(
    token: str, template: str | None = None
) -> contextlib.AbstractContextManager[dict[str, str]]:
    """Real mode: a fresh PostgreSQL database per service (a copy of `template`'s),
    dropped afterwards."""
    return service_databases(PG_ADMIN if REAL else None, f"carve_it_{token}", template)


@dataclass
class Template:
    """A deployment's state after migrate, admins and seed, made once per test run: each
    deployment starts from a copy (files of var/, and in real mode databases made with
    CREATE DATABASE ... TEMPLATE) instead of ten process starts that migrate and seed
    (20-60 s a deployment on a busy machine)."""

    var_dir: Path
    databases: str | None  # real mode: the prefix of the template databases
    events: dict[str, str] = field(default_factory=dict)  # embedded: names its broker binds


_template: Template | None = None
COPIED_NOT = shutil.ignore_patterns("stack.lock", "*.writelock", "cache")


def template() -> Template:
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="carve-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        prefix = f"carve_it_template_{uuid.uuid4().hex[:8]}" if REAL else None
        # Embedded: the broker is a folder in var/, so the template's names stay valid in
        # each copy; real mode declares each deployment's own exchange and queues.
        events = (
            {}
            if REAL
            else {"CARVE_EVENTS_EXCHANGE": "carve.it", "CARVE_EVENTS_QUEUE_PREFIX": "carve.it."}
        )
        if prefix:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                for service in SERVICES:
                    admin.execute(f'CREATE DATABASE "{prefix}_{service}"')
            atexit.register(drop_databases, prefix)
        urls = {s: f"{PG_ADMIN.rsplit('/', 1)[0]}/{prefix}_{s}" for s in SERVICES} if prefix else {}
        stack = Stack(
            StackConfig(
                var_dir=folder,
                ports=Ports(*free_ports(4)),
                database_urls=urls,
                extra_env={**events, **({} if REAL else {"CELERY_BROKER_URL": "filesystem://"})},
                admin_token="test-admin-token",
            )
        )
        try:
            stack.prepare(seed=True, declare=not REAL)
        finally:
            stack.var_lock.release()
        _template = Template(folder, prefix, events)
    return _template


def drop_databases(prefix: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        for service in SERVICES:
            admin.execute(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)')


@dataclass
class Deployment:
    stack: Stack
    routes: RouteTable

    @property
    def urls(self) -> dict[str, str]:
        return self.stack.urls()

    def env(self, service: str | None = None) -> dict[str, str]:
        return self.stack.config.env_for(service)

    def route(self, context: str, state: str) -> None:
        self.routes.set_state(context, RouteState.parse(state), who="test")

    def wait_owner(self, context: str, owner: str, timeout: float = 120) -> None:
        """Until every side agrees who writes `context` (handover finished)."""

        def settled() -> bool:
            return all(
                self.ownership(service).get(context)
                == (owner, "owner" if service == owner else "replica")
                for service in ("monolith", owner if owner != "monolith" else context)
            )

        wait_until(settled, timeout=timeout, message=f"{context} never settled on {owner}")

    def ownership(self, service: str) -> dict[str, tuple[str, str]]:
        rows = self.sql(service, "SELECT context, owner, state FROM messaging_contextownership")
        return {context: (owner, state) for context, owner, state in rows}

    def sql(self, service: str, query: str) -> list[tuple[Any, ...]]:
        """Read a service's own database (tests look; they never write behind its back)."""
        return self.stack.sql(service, query)

    def parity(self, **options: Any) -> Any:
        """Run every `carve parity` scenario on this deployment: routes in shadow, then
        extracted (they are put back after); returns the report."""
        from parity.checks import ProxyAdmin
        from parity.flip import FlippableDeployment, run_flipped
        from parity.scenarios import load
        from parity.session import Options

        flippable = FlippableDeployment(
            proxy=self.urls["proxy"],
            admin=ProxyAdmin(self.urls["proxy"], self.stack.config.admin_token),
            sides={name: self.urls[name] for name in SERVICES},
            verify_env=self.env(),
            verify_cwd=REPO,
        )
        return run_flipped(flippable, load(), Options(**{"deadline": 120, "jobs": 3, **options}))

    def carve(self, *args: str, service: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "carve", *args],
            cwd=REPO,
            env=self.env(service),
            capture_output=True,
            text=True,
        )


@contextmanager
def deployment(tmp: Path, **env: str) -> Iterator[Deployment]:
    token = uuid.uuid4().hex[:8]
    monolith, payments, inventory, proxy = free_ports(4)
    prepared = template()
    with databases(token, prepared.databases) as urls:
        shutil.copytree(prepared.var_dir, tmp, ignore=COPIED_NOT, dirs_exist_ok=True)
        extra = {
            "CARVE_EVENTS_EXCHANGE": f"carve.it.{token}",
            "CARVE_EVENTS_QUEUE_PREFIX": f"carve.it.{token}.",
            **prepared.events,
            "CARVE_EVENTS_RETRY_BASE_SECONDS": "0.05",
            "CARVE_SAGA_TIMEOUT_SECONDS": "15",
            "CARVE_GATEWAY_SLOW_SECONDS": "0.5",
            **(
                {"CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"]}
                if REAL
                else {"CELERY_BROKER_URL": "filesystem://"}
            ),
            **env,
        }
        config = StackConfig(
            var_dir=tmp,
            ports=Ports(monolith, payments, inventory, proxy),
            database_urls=urls,
            extra_env=extra,
            admin_token="test-admin-token",
            web_workers=1,
        )
        stack = Stack(config)
        if REAL:
            stack.declare()
        stack.start(echo=False)
        try:
            stack.wait_ready()
            yield Deployment(
                stack, RouteTable(open_store(f"file:{tmp / 'routes.json'}"), max_age=0)
            )
        finally:
            stack.stop()
            if REAL:
                delete_broker_objects(
                    extra["CELERY_BROKER_URL"],
                    extra["CARVE_EVENTS_EXCHANGE"],
                    extra["CARVE_EVENTS_QUEUE_PREFIX"],
                )
        unclean = {n: p.returncode for n, p in stack.processes.items() if p.returncode != 0}
        assert not unclean, f"processes that did not stop cleanly on SIGTERM: {unclean}"


class Client:
    """A shopper talking to the deployment through the proxy."""

    def __init__(self, base: str, username: str = "user0001", password: str = "carve-demo") -> None:
        self.base = base
        response = requests.post(
            f"{base}/api/users/token/",
            json={"username": username, "password": password},
            timeout=10,
        )
        response.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base}{path}", timeout=30)

    def post(self, path: str, body: Any = None, **headers: str) -> requests.Response:
        return self.session.post(f"{self.base}{path}", json=body, headers=headers, timeout=30)

    def order(self, *lines: tuple[str, int], card: str = "tok_ok") -> dict[str, Any]:
        body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], "card_token": card}
        response = self.post("/api/orders/", body)
        assert response.status_code in (201, 409), response.text
        return dict(response.json())

    def settled(self, order_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll an order to a terminal state (confirmed or cancelled)."""
        found: dict[str, Any] = {}

        def terminal() -> bool:
            found.update(self.get(f"/api/orders/{order_id}/").json())
            return found.get("status") in ("confirmed", "cancelled")

        wait_until(
            terminal, timeout=timeout, message=f"order {order_id} stayed {found.get('status')}"
        )
        return found
