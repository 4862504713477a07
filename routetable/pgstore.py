"""The PostgreSQL store: a table of states, an append-only change table, a version row.

A write locks the version row (`SELECT ... FOR UPDATE`), so writers from every host are
serialised, and updates state, history (with the change id, unique) and version in one
transaction. The version row also keeps the store's generation (epoch) and how many
states it holds, so a truncated state table or a deleted version row is seen. Readers compare
the version row, one indexed SELECT, with the one they hold.

URL: postgresql://user@host:5432/db?schema=NAME (the schema is created if missing).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from routetable.states import MAX_ENTRY_BYTES, Change, RouteState, Snapshot, parse_count
from routetable.store import (
    DEADLINE,
    Held,
    History,
    RouteStore,
    StoreError,
    history_of,
    names_json,
    plan_change,
    read_entries,
    recorded_change,
    replayed,
    restore_plan,
    vet_routes,
)

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
ALTER TABLE {schema}.carve_route_change ADD COLUMN IF NOT EXISTS change_id text;
CREATE UNIQUE INDEX IF NOT EXISTS carve_route_change_id
    ON {schema}.carve_route_change (change_id);
CREATE TABLE IF NOT EXISTS {schema}.carve_route_version (
    id int PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
ALTER TABLE {schema}.carve_route_version ADD COLUMN IF NOT EXISTS epoch text NOT NULL DEFAULT '';
ALTER TABLE {schema}.carve_route_version ADD COLUMN IF NOT EXISTS routes int;
ALTER TABLE {schema}.carve_route_version ADD COLUMN IF NOT EXISTS names text;
"""


class PostgresStore(RouteStore):
    """Connects on first use (a proxy starts while PostgreSQL is down) and creates the
    tables then. Every call ends within `timeout`: a statement timeout on the server, a
    connect timeout, and a watchdog that shuts the socket of a call the network swallowed
    (a partition); a caller waits for the connection at most until its own deadline."""

    def __init__(self, url: str, *, timeout: float = DEADLINE) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.schema = query.pop("schema", "public")
        self.url = url
        self.timeout = timeout
        self._dsn = urlunsplit(parts._replace(query=urlencode(query)))
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        self._conn: psycopg.Connection | None = None
        self._tables_ready = False
        self._q = {
            name: sql.SQL(text).format(schema=sql.Identifier(self.schema))
            for name, text in _QUERIES.items()
        }

    def _create_tables(self, conn: psycopg.Connection) -> None:
        # The DDL takes table locks (a deadlock with running writers): skip it when done.
        if _count(conn.execute(_COLUMNS_DONE, (self.schema,))) == len(_NEWEST_COLUMNS):
            return
        # CREATE ... IF NOT EXISTS still races between sessions; a lock serialises them.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('carve.routetable.ddl'))")
            if _count(conn.execute(_COLUMNS_DONE, (self.schema,))) < len(_NEWEST_COLUMNS):
                conn.execute(self._q["ddl"])

    def stamp(self) -> Hashable:
        # the state count too: a state table truncated or added to by hand is seen
        return self._run(lambda conn: conn.execute(self._q["stamp"]).fetchone())

    def load(self) -> Snapshot:
        def read(conn: psycopg.Connection) -> Snapshot:
            with conn.transaction():
                row = conn.execute(self._q["version"]).fetchone()
                rows = conn.execute(self._q["states"]).fetchall()
            raw: dict[str, Any] = dict(rows)
            current, unknown = self._current(row, set(raw))
            oversized = {route for route, text in rows if text is None}  # state is NOT NULL
            entries = {r: t for r, t in raw.items() if r not in oversized}
            where = f"carve_route_state (schema {self.schema})"
            states, problems = read_entries(where, entries, unknown)
            for route in sorted(oversized - unknown):
                problems[route] = (
                    f"the row of route {route!r} in {where} is larger than {MAX_ENTRY_BYTES} "
                    "bytes (not read): a state is under 1 KiB; write "
                    '{"mode": "monolith|shadow|canary|extracted", "percent": 0..100}'
                )
            return Snapshot(current.version, states, current.epoch, problems)

        return self._run(read)

    def set_state(
        self,
        route: str,
        state: RouteState,
        *,
        who: str,
        change_id: str = "",
        held: Held | None = None,
    ) -> Change:
        def write(conn: psycopg.Connection) -> Change:
            with conn.transaction():
                current, unknown = self._lock_version(conn)
                recorded = self._find(conn, change_id)
                if recorded is not None:
                    return replayed(recorded, route, state)
                row = conn.execute(self._q["state_of"], (route,)).fetchone()
                change, epoch = plan_change(
                    self.url,
                    current,
                    ("" if row[0] is None else row[0]) if row else None,  # "": unreadable
                    route,
                    state,
                    who=who,
                    change_id=change_id,
                    held=held,
                )
                conn.execute(self._q["upsert"], (route, json.dumps(state.to_json())))
                conn.execute(
                    self._q["audit"],
                    (route, who, change.at, json.dumps(change.to_json()), change.id),
                )
                known = set(current.routes) | {route}
                conn.execute(
                    self._q["bump"], (change.version, epoch, len(known), names_json(known))
                )
            return change

        return self._run(write)

    def change(self, change_id: str) -> Change | None:
        return self._run(lambda conn: self._find(conn, change_id))

    def restore(self, snapshot: Snapshot, *, who: str) -> Snapshot:
        def write(conn: psycopg.Connection) -> Snapshot:
            with conn.transaction():
                conn.execute(self._q["ensure_version"])
                row = conn.execute(self._q["lock_version"]).fetchone()
                restored, changes = restore_plan(
                    snapshot, (parse_count(row[0]) or 0) if row else 0, who
                )
                conn.execute(self._q["clear_states"])
                for route, state in restored.states.items():
                    conn.execute(self._q["upsert"], (route, json.dumps(state.to_json())))
                for c in changes:
                    conn.execute(
                        self._q["audit"], (c.route, c.who, c.at, json.dumps(c.to_json()), c.id)
                    )
                conn.execute(
                    self._q["bump"],
                    (
                        restored.version,
                        restored.epoch,
                        len(restored.states),
                        names_json(restored.states),
                    ),
                )
            return restored

        return self._run(write)

    def history_report(self, route: str | None = None, limit: int = 100) -> History:
        def read(conn: psycopg.Connection) -> History:
            rows = conn.execute(self._q["history"], (route, route, limit or None)).fetchall()
            where = f"carve_route_change (schema {self.schema})"
            return history_of([change for (change,) in reversed(rows)], where, None, 0)

        return self._run(read)

    def close(self) -> None:
        if not self._lock.acquire(timeout=self.timeout):
            return  # a stuck call owns the connection; its watchdog closes it
        try:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        finally:
            self._lock.release()

    def _lock_version(self, conn: psycopg.Connection) -> tuple[Held, set[str]]:
        """Lock the version row (creating it in an empty store) for a write."""
        row = conn.execute(self._q["lock_version"]).fetchone()
        if row is None:  # an empty store, or another first writer committing just now
            if _count(conn.execute(self._q["count"])) == 0:
                conn.execute(self._q["ensure_version"])
            row = conn.execute(self._q["lock_version"]).fetchone()
        stored = {r for (r,) in conn.execute(self._q["routes"]).fetchall()}  # under the lock
        return self._current(row, stored)

    def _find(self, conn: psycopg.Connection, change_id: str) -> Change | None:
        if not change_id:
            return None
        row = conn.execute(self._q["change_by_id"], (change_id,)).fetchone()
        if row is None:
            return None
        where = f"carve_route_change (schema {self.schema}, change_id {change_id})"
        return recorded_change(row[0], where, change_id)

    def _current(self, row: tuple[Any, ...] | None, stored: set[str]) -> tuple[Held, set[str]]:
        """The generation and version the version row holds, and the unknown routes (added
        by hand, ignored); StoreError when the tables disagree (a version row deleted or
        states truncated by hand)."""
        fix = "restore it with `carve routes restore`"
        if row is None:
            if not stored:
                return Held("", 0), set()  # empty: never written, or wiped
            raise StoreError(
                f"the route table version row is missing in schema {self.schema} while "
                f"{len(stored)} states are stored: {fix}"
            )
        version, epoch, recorded, names = row
        number = parse_count(version)
        if number is None:
            raise StoreError(f"the route table version in schema {self.schema} is {version!r}")
        unknown = vet_routes(
            f"carve_route_state (schema {self.schema})",
            stored,
            names,
            recorded,
            names_where=f"carve_route_version (schema {self.schema}, column names)",
        )
        return Held(str(epoch or ""), number, frozenset(stored - unknown)), unknown

    def _run(self, operation: Callable[[psycopg.Connection], T]) -> T:
        """Run `operation` on the connection within the deadline, reconnecting once if
        the connection was lost."""
        # The first call also creates the tables: it may take three deadlines.
        budget = self.timeout * (1 if self._tables_ready else 3)
        deadline = time.monotonic() + budget
        if not self._lock.acquire(timeout=budget):
            raise StoreError(
                f"the route table in PostgreSQL did not answer within {budget:g} s "
                "(another call is still waiting for it)"
            )
        try:
            for attempt in (1, 2):
                remaining = deadline - time.monotonic()
                if remaining <= 0.05:
                    raise StoreError(
                        f"cannot reach the route table in PostgreSQL within {budget:g} s"
                    )
                watchdog: threading.Timer | None = None
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(
                            self._dsn,
                            autocommit=True,
                            connect_timeout=max(1, int(remaining)),
                            options=f"-c statement_timeout={int(self.timeout * 1000)}",
                        )
                    watchdog = threading.Timer(remaining, _abort, (self._conn,))
                    watchdog.daemon = True
                    watchdog.start()
                    if not self._tables_ready:
                        self._create_tables(self._conn)
                        self._tables_ready = True
                    return operation(self._conn)
                except psycopg.OperationalError as exc:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt == 2 or time.monotonic() >= deadline:
                        raise StoreError(
                            f"cannot reach the route table in PostgreSQL: {exc}"
                        ) from None
                except psycopg.Error as exc:
                    raise StoreError(f"route table query failed in PostgreSQL: {exc}") from exc
                finally:
                    if watchdog is not None:
                        watchdog.cancel()
        finally:
            self._lock.release()
        raise AssertionError("unreachable")


def _abort(conn: psycopg.Connection) -> None:
    """Shut the socket of a call past its deadline: the call fails at once."""
    with contextlib.suppress(OSError, psycopg.Error, ValueError):
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


def _count(cursor: psycopg.Cursor[Any]) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


_NEWEST_COLUMNS = ("epoch", "routes", "names", "change_id")
_COLUMNS_DONE = (
    "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND ("
    "(table_name = 'carve_route_version' AND column_name IN ('epoch', 'routes', 'names')) OR "
    "(table_name = 'carve_route_change' AND column_name = 'change_id'))"
)

# the stored (compressed) size first: a huge row is never even serialised
_CAPPED = (
    f"CASE WHEN pg_column_size(state) > {MAX_ENTRY_BYTES} THEN NULL "
    f"WHEN octet_length(state::text) > {MAX_ENTRY_BYTES} THEN NULL ELSE state::text END"
)

_QUERIES = {
    "ddl": SCHEMA_DDL,
    "version": (
        "SELECT version, epoch, routes, names FROM {schema}.carve_route_version WHERE id = 1"
    ),
    "lock_version": (
        "SELECT version, epoch, routes, names FROM {schema}.carve_route_version "
        "WHERE id = 1 FOR UPDATE"
    ),
    "ensure_version": (
        "INSERT INTO {schema}.carve_route_version (id, version) VALUES (1, 0) "
        "ON CONFLICT DO NOTHING"
    ),
    "count": "SELECT count(*) FROM {schema}.carve_route_state",
    "stamp": (
        "SELECT (SELECT version FROM {schema}.carve_route_version WHERE id = 1), "
        "(SELECT epoch FROM {schema}.carve_route_version WHERE id = 1), "
        "(SELECT count(*) FROM {schema}.carve_route_state)"
    ),
    "routes": "SELECT route FROM {schema}.carve_route_state",
    "bump": (
        "UPDATE {schema}.carve_route_version SET version = %s, epoch = %s, routes = %s, "
        "names = %s WHERE id = 1"
    ),
    # jsonb as text: our capped decoder reads it, never the driver's json.loads (a deeply
    # nested or huge-number document would raise RecursionError/OverflowError in a fetch)
    # ...and never a huge one: a row past the cap is NULL here (its size says why), so one
    # 50 MB row never makes every load miss its deadline (a bad entry, not an outage)
    "states": (f"SELECT route, {_CAPPED} FROM {{schema}}.carve_route_state"),
    "clear_states": "DELETE FROM {schema}.carve_route_state",
    "state_of": f"SELECT {_CAPPED} FROM {{schema}}.carve_route_state WHERE route = %s",
    "upsert": (
        "INSERT INTO {schema}.carve_route_state (route, state) VALUES (%s, %s) "
        "ON CONFLICT (route) DO UPDATE SET state = EXCLUDED.state"
    ),
    "audit": (
        "INSERT INTO {schema}.carve_route_change (route, who, at, change, change_id) "
        "VALUES (%s, %s, %s, %s, %s)"
    ),
    "change_by_id": ("SELECT change::text FROM {schema}.carve_route_change WHERE change_id = %s"),
    "history": (
        "SELECT change::text FROM {schema}.carve_route_change "
        "WHERE (%s::text IS NULL OR route = %s) ORDER BY id DESC LIMIT %s"
    ),
}
