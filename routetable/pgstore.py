"""The PostgreSQL store: a table of states, an append-only change table, a version row.

A write locks the version row (`SELECT ... FOR UPDATE`), so writers from every host are
serialised, and updates state, history and version in one transaction. Readers compare
the version row, one indexed SELECT, with the one they hold.

URL: postgresql://user@host:5432/db?schema=NAME (the schema is created if missing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from routetable.states import Change, RouteState, Snapshot
from routetable.store import RouteStore, StoreError

T = TypeVar("T")

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.carve_route_state (
    route text PRIMARY KEY,
    state jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.carve_route_change (
    id bigserial PRIMARY KEY,
    route text NOT NULL,
    who text NOT NULL,
    at timestamptz NOT NULL,
    change jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.carve_route_version (
    id int PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO {schema}.carve_route_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;
"""


class PostgresStore(RouteStore):
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.schema = query.pop("schema", "public")
        self.url = url
        self._dsn = urlunsplit(parts._replace(query=urlencode(query)))
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        self._conn: psycopg.Connection | None = None
        self._q = {
            name: sql.SQL(text).format(schema=sql.Identifier(self.schema))
            for name, text in _QUERIES.items()
        }
        try:
            self._run(self._create_tables)
        except StoreError:
            self.close()
            raise

    def _create_tables(self, conn: psycopg.Connection) -> None:
        # CREATE ... IF NOT EXISTS still races between sessions; a lock serialises them.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('carve.routetable.ddl'))")
            conn.execute(self._q["ddl"])

    def stamp(self) -> Hashable:
        return self._run(lambda conn: _one(conn.execute(self._q["version"])))

    def load(self) -> Snapshot:
        def read(conn: psycopg.Connection) -> Snapshot:
            with conn.transaction():
                version = _one(conn.execute(self._q["version"]))
                rows = conn.execute(self._q["states"]).fetchall()
            states = {route: RouteState.from_json(state) for route, state in rows}
            return Snapshot(version=int(version), states=states)

        return self._run(read)

    def set_state(self, route: str, state: RouteState, *, who: str) -> Change:
        def write(conn: psycopg.Connection) -> Change:
            with conn.transaction():
                conn.execute(self._q["lock_version"])
                row = conn.execute(self._q["state_of"], (route,)).fetchone()
                before = RouteState.from_json(row[0]) if row else RouteState()
                change = Change.now(route, who, before, state)
                conn.execute(self._q["upsert"], (route, json.dumps(state.to_json())))
                conn.execute(
                    self._q["audit"], (route, who, change.at, json.dumps(change.to_json()))
                )
                conn.execute(self._q["bump"])
            return change

        return self._run(write)

    def history(self, route: str | None = None, limit: int = 100) -> list[Change]:
        def read(conn: psycopg.Connection) -> list[Change]:
            rows = conn.execute(self._q["history"], (route, route, limit or None)).fetchall()
            return [Change.from_json(change) for (change,) in reversed(rows)]

        return self._run(read)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, operation: Callable[[psycopg.Connection], T]) -> T:
        """Run `operation` on the connection, reconnecting once if it was lost."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=2)
                    return operation(self._conn)
                except psycopg.OperationalError as exc:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise StoreError(f"cannot reach the route table in PostgreSQL: {exc}")
                except psycopg.Error as exc:
                    raise StoreError(f"route table query failed in PostgreSQL: {exc}") from exc
        raise AssertionError("unreachable")


def _one(cursor: psycopg.Cursor) -> int:
    row = cursor.fetchone()
    if row is None:
        raise StoreError("the route table version row is missing")
    return int(row[0])


_QUERIES = {
    "ddl": SCHEMA_DDL,
    "version": "SELECT version FROM {schema}.carve_route_version WHERE id = 1",
    "lock_version": "SELECT version FROM {schema}.carve_route_version WHERE id = 1 FOR UPDATE",
    "bump": "UPDATE {schema}.carve_route_version SET version = version + 1 WHERE id = 1",
    "states": "SELECT route, state FROM {schema}.carve_route_state",
    "state_of": "SELECT state FROM {schema}.carve_route_state WHERE route = %s",
    "upsert": (
        "INSERT INTO {schema}.carve_route_state (route, state) VALUES (%s, %s) "
        "ON CONFLICT (route) DO UPDATE SET state = EXCLUDED.state"
    ),
    "audit": (
        "INSERT INTO {schema}.carve_route_change (route, who, at, change) VALUES (%s, %s, %s, %s)"
    ),
    "history": (
        "SELECT change FROM {schema}.carve_route_change WHERE (%s::text IS NULL OR route = %s) "
        "ORDER BY id DESC LIMIT %s"
    ),
}
