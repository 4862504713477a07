"""The route stores with their faults, for the fault suite: Redis and PostgreSQL are
reached through messaging.testing.FaultProxy (the shared servers are never stopped), so
these tests sit outside routetable/, which imports no other part."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from messaging.testing import FaultProxy
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
