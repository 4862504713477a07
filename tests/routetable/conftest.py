"""The route stores with their faults, for the fault suite: Redis and PostgreSQL are
reached through messaging.testing.FaultProxy (the shared servers are never stopped), so
these tests sit outside routetable/, which imports no other part."""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from messaging.testing import FaultProxy
from routetable import Mode, RouteState, RouteTable, open_store
from routetable.tests.conftest import PG_URL, REDIS_URL, require_server


class Backend:
    """One store under test, with the faults the issue lists: `url` reaches it through
    a TCP proxy a test can stop or partition (Redis, PostgreSQL), and the tamper methods
    edit it behind the table's back, as an operator or an accident would."""

    kind: str
    url: str

    def stop(self) -> None:
        raise NotImplementedError

    def partition(self) -> None:
        raise NotImplementedError

    def repair(self) -> None:
        raise NotImplementedError

    def wipe(self) -> None:
        raise NotImplementedError

    def bad_entry(self, route: str) -> None:
        """Write a malformed state for `route` and bump the version, as by hand."""
        raise NotImplementedError

    def bad_history_item(self) -> None:
        raise NotImplementedError

    def delete_version(self) -> None:
        raise NotImplementedError

    # The outside attack's edits (issue 15, follow-up): raw bytes where carve writes JSON.
    def raw_entry(self, route: str, text: str, *, bump: bool = True) -> None:
        """Store `text` as `route`'s entry, as it is, bumping the version unless told not."""
        raise NotImplementedError

    def raw_history_item(self, text: str) -> None:
        raise NotImplementedError

    def raw_change_record(self, change_id: str, text: str) -> None:
        """Record garbage under a change id, as `HSET carve:routes:changes cid-bad garbage`."""
        raise NotImplementedError

    def drop_states(self) -> None:
        """Delete every state and keep the version (a TRUNCATE of the state table)."""
        raise NotImplementedError

    def set_version(self, version: int) -> None:
        """Set the version as it is, as a backup restored over the store would."""
        raise NotImplementedError

    def bytes_entry(self, route: str | bytes, data: bytes) -> None:
        """Store bytes that are not UTF-8 as `route`'s entry (or name) and bump the version,
        as `printf '\\xff\\xfe' | redis-cli -x hset ...states r2` does."""
        raise NotImplementedError

    def forget_names(self) -> None:
        """Make the store look written by an older carve: no route names nor count."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class FileBackend(Backend):
    kind = "file"

    def __init__(self, directory: Path) -> None:
        self.path = directory / "routes.json"
        self.url = f"file:{self.path}"
        self._aside = directory / "routes.json.aside"
        self._holder: Any = None

    def _edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        document = json.loads(self.path.read_text())
        change(document)
        self.path.write_text(json.dumps(document))

    def stop(self) -> None:  # unreadable: a directory where the document was
        if self.path.exists():
            os.replace(self.path, self._aside)
        self.path.mkdir()

    def partition(self) -> None:  # a writer elsewhere holds the lock and never lets go
        self._holder = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        fcntl.flock(self._holder, fcntl.LOCK_EX)

    def repair(self) -> None:
        if self.path.is_dir():
            self.path.rmdir()
        if self._aside.exists():
            os.replace(self._aside, self.path)
        if self._holder is not None:
            self._holder.close()
            self._holder = None

    def wipe(self) -> None:
        self.path.unlink(missing_ok=True)

    def bad_entry(self, route: str) -> None:
        def change(document: dict[str, Any]) -> None:
            document["routes"][route] = {}
            document["version"] += 1

        self._edit(change)

    def bad_history_item(self) -> None:
        self._edit(lambda document: document["history"].append("garbage"))

    def delete_version(self) -> None:
        self._edit(lambda document: document.pop("version"))

    def _edit_raw(self, change: Callable[[dict[str, Any]], None], raw: str) -> None:
        """Edit the document; the placeholder "RAW" becomes `raw`, bytes as they are."""
        document = json.loads(self.path.read_text())
        change(document)
        self.path.write_text(json.dumps(document).replace('"RAW"', raw, 1))

    def raw_entry(self, route: str, text: str, *, bump: bool = True) -> None:
        def change(document: dict[str, Any]) -> None:
            document["routes"][route] = "RAW"
            document["version"] += bump

        self._edit_raw(change, text)

    def raw_history_item(self, text: str) -> None:
        self._edit_raw(lambda document: document["history"].append("RAW"), text)

    def raw_change_record(self, change_id: str, text: str) -> None:
        self._edit_raw(
            lambda document: document["history"].append({"id": change_id, "route": "RAW"}), text
        )

    def drop_states(self) -> None:
        self._edit(lambda document: document.update(routes={}))

    def set_version(self, version: int) -> None:
        self._edit(lambda document: document.update(version=version))

    def bytes_entry(self, route: str | bytes, data: bytes) -> None:
        document = json.loads(self.path.read_text())
        document["version"] += 1
        document["routes"]["ROUTE"] = "RAW"
        name = route if isinstance(route, bytes) else route.encode()
        text = json.dumps(document).encode()
        self.path.write_bytes(text.replace(b"ROUTE", name).replace(b'"RAW"', b'"' + data + b'"'))

    def forget_names(self) -> None:
        self._edit(lambda document: document.pop("names", None))

    def close(self) -> None:
        self.repair()


class ProxiedBackend(Backend):
    def __init__(self, host: str, port: int) -> None:
        self.proxy = FaultProxy(host, port)

    def stop(self) -> None:
        self.proxy.cut()

    def partition(self) -> None:
        self.proxy.partition()

    def repair(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.close()


class RedisBackend(ProxiedBackend):
    kind = "redis"

    def __init__(self) -> None:
        import redis

        require_server("127.0.0.1", 6379, "Redis")
        super().__init__("127.0.0.1", 6379)
        self.prefix = f"carve:test:{uuid.uuid4().hex}:"
        self.url = f"redis://127.0.0.1:{self.proxy.port}/0?prefix={self.prefix}"
        self.client = redis.Redis.from_url(REDIS_URL, decode_responses=True)

    def wipe(self) -> None:  # FLUSHALL, but only of our keys: the server is shared
        keys = list(self.client.scan_iter(f"{self.prefix}*"))
        if keys:
            self.client.delete(*keys)

    def bad_entry(self, route: str) -> None:
        self.client.hset(f"{self.prefix}states", route, '{"mode":"bogus","percent":0}')
        self.client.incr(f"{self.prefix}version")

    def bad_history_item(self) -> None:
        self.client.rpush(f"{self.prefix}history", "garbage")

    def delete_version(self) -> None:
        self.client.delete(f"{self.prefix}version")

    def raw_entry(self, route: str, text: str, *, bump: bool = True) -> None:
        self.client.hset(f"{self.prefix}states", route, text)
        if bump:
            self.client.incr(f"{self.prefix}version")

    def raw_history_item(self, text: str) -> None:
        self.client.rpush(f"{self.prefix}history", text)

    def raw_change_record(self, change_id: str, text: str) -> None:
        self.client.hset(f"{self.prefix}changes", change_id, text)

    def drop_states(self) -> None:
        self.client.delete(f"{self.prefix}states")

    def set_version(self, version: int) -> None:
        self.client.set(f"{self.prefix}version", version)

    def bytes_entry(self, route: str | bytes, data: bytes) -> None:
        self.client.hset(f"{self.prefix}states", route, data)
        self.client.incr(f"{self.prefix}version")

    def forget_names(self) -> None:
        self.client.hdel(f"{self.prefix}meta", "names", "count")

    def close(self) -> None:
        self.wipe()
        self.client.close()
        super().close()


class PostgresBackend(ProxiedBackend):
    kind = "postgres"

    def __init__(self) -> None:
        import psycopg

        require_server("127.0.0.1", 5432, "PostgreSQL")
        super().__init__("127.0.0.1", 5432)
        self.schema = f"carve_test_{uuid.uuid4().hex}"
        self.url = (
            f"postgresql://postgres@127.0.0.1:{self.proxy.port}/postgres?schema={self.schema}"
        )
        self.conn = psycopg.connect(PG_URL, autocommit=True)

    def _sql(self, text: str) -> None:
        self.conn.execute(text.format(s=f'"{self.schema}"'))

    def wipe(self) -> None:
        self._sql("TRUNCATE {s}.carve_route_state, {s}.carve_route_change, {s}.carve_route_version")

    def bad_entry(self, route: str) -> None:
        self._sql(
            'UPDATE {s}.carve_route_state SET state = \'{{"mode": "bogus", "percent": 0}}\' '
            f"WHERE route = '{route}'"
        )
        self._sql("UPDATE {s}.carve_route_version SET version = version + 1")

    def bad_history_item(self) -> None:
        self._sql(
            "INSERT INTO {s}.carve_route_change (route, who, at, change) "
            "VALUES ('x', 'y', now(), '{{}}')"
        )

    def delete_version(self) -> None:
        self._sql("DELETE FROM {s}.carve_route_version")

    def _param(self, text: str, *params: str) -> None:
        self.conn.execute(text.format(s=f'"{self.schema}"'), params)

    def raw_entry(self, route: str, text: str, *, bump: bool = True) -> None:
        self._param(
            "INSERT INTO {s}.carve_route_state (route, state) VALUES (%s, %s::jsonb) "
            "ON CONFLICT (route) DO UPDATE SET state = EXCLUDED.state",
            route,
            text,
        )
        if bump:
            self._sql("UPDATE {s}.carve_route_version SET version = version + 1")

    def raw_history_item(self, text: str) -> None:
        self._param(
            "INSERT INTO {s}.carve_route_change (route, who, at, change) "
            "VALUES ('x', 'y', now(), %s::jsonb)",
            text,
        )

    def raw_change_record(self, change_id: str, text: str) -> None:
        self._param(
            "INSERT INTO {s}.carve_route_change (route, who, at, change, change_id) "
            "VALUES ('x', 'y', now(), %s::jsonb, %s)",
            text,
            change_id,
        )

    def drop_states(self) -> None:
        self._sql("TRUNCATE {s}.carve_route_state")

    def set_version(self, version: int) -> None:
        self._sql(f"UPDATE {{s}}.carve_route_version SET version = {int(version)}")

    def forget_names(self) -> None:  # an upgrade from a schema without these columns
        self._sql("UPDATE {s}.carve_route_version SET routes = NULL, names = NULL")

    def close(self) -> None:
        self._sql("DROP SCHEMA IF EXISTS {s} CASCADE")
        self.conn.close()
        super().close()


@pytest.fixture(
    params=[
        "file",
        pytest.param("redis", marks=pytest.mark.real),
        pytest.param("postgres", marks=pytest.mark.real),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store, empty and private, with its faults."""
    made: Backend
    if request.param == "file":
        made = FileBackend(tmp_path)
    elif request.param == "redis":
        made = RedisBackend()
    else:
        made = PostgresBackend()
    yield made
    made.close()


TIMEOUT = 0.5  # the stores' deadline in these tests (2 s in production)
EXTRACTED = RouteState(Mode.EXTRACTED)
CANARY_30 = RouteState(Mode.CANARY, 30)
SHADOW = RouteState(Mode.SHADOW)
MONOLITH = RouteState(Mode.MONOLITH)


@dataclass
class Fleet:
    """A writer and two readers on one store, all holding version 2: payments extracted,
    inventory on a 30 % canary."""

    writer: RouteTable
    readers: list[RouteTable]

    @property
    def tables(self) -> list[RouteTable]:
        return [self.writer, *self.readers]

    def converge(self, holds: Callable[[RouteTable], bool], within: float = 1.0) -> float:
        """Refresh every table until `holds` is true of each; the seconds it took."""
        start = time.monotonic()
        while True:
            for table in self.tables:
                table.refresh()
            if all(holds(t) for t in self.tables):
                return time.monotonic() - start
            seen = [
                (t.snapshot.version, dict(t.snapshot.states), t.last_error) for t in self.tables
            ]
            assert time.monotonic() - start < within, f"not converged in {within} s: {seen}"
            time.sleep(0.01)

    def assert_serving_last_good(self) -> None:
        for table in self.tables:
            assert table.snapshot.get("payments") == EXTRACTED
            assert table.snapshot.get("inventory") == CANARY_30


def table_on(url: str, snapshot_path: Path | str | None = None) -> RouteTable:
    return RouteTable(open_store(url, timeout=TIMEOUT), snapshot_path=snapshot_path)


@pytest.fixture
def fleet(backend: Backend) -> Iterator[Fleet]:
    writer = table_on(backend.url)
    writer.refresh()
    writer.set_state("payments", EXTRACTED, who="ci")
    writer.set_state("inventory", CANARY_30, who="ci")
    made = Fleet(writer, [table_on(backend.url) for _ in range(2)])
    made.converge(lambda t: t.snapshot.version == 2)
    yield made
    backend.repair()
    for table in made.tables:
        table.store.close()
