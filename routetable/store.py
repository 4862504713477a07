"""The store interface and how a URL picks a backend.

    file:///abs/path/routes.json | file:var/routes.json   JSON file, atomic replace + lock
    redis://host:6379/0?prefix=carve:routes:              Redis hash + version key
    postgresql://user@host/db?schema=public               PostgreSQL tables + version row

With no URL, CARVE_ROUTES_URL is used, else `routes.json` under CARVE_VAR_DIR (default var/).

Every store call ends within DEADLINE seconds (CARVE_ROUTES_TIMEOUT, default 2) with a
result or a StoreError, however the store fails: no caller queues behind a stuck one.
"""

from __future__ import annotations

import abc
import json
import os
import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from routetable.states import (
    MONOLITH,
    UNKNOWN_ROUTE,
    Change,
    RouteState,
    Snapshot,
    Unreadable,
    decode_json,
    parse_change,
    parse_count,
    parse_entries,
    parse_entry,
    parse_history,
    shown_name,
    text_of,
)

DEADLINE = float(os.environ.get("CARVE_ROUTES_TIMEOUT", "2"))


class StoreError(Exception):
    """The store cannot be read or written; the message says which and why."""


class BadRecord(StoreError):
    """An item the store holds cannot be read (garbage, edited by hand): the message names
    the key and what to do. Nothing was written; `applied` is true when the item is the
    record of a change id already applied (a retry found it)."""

    def __init__(self, message: str, *, applied: bool = False) -> None:
        super().__init__(message)
        self.applied = applied


class StoreDown(StoreError):
    """The store failed just now: the call was not sent, nothing was applied."""


class StoreRefused(StoreError):
    """The store answered, but it is not the table the writer held (wiped, replaced or
    older): nothing was written; the message says how to restore it."""


class ChangeIdReused(StoreRefused):
    """A change id already recorded for another change (another route or state): nothing
    was written; the message names both."""


def replayed(recorded: Change, route: str, state: RouteState) -> Change:
    """The recorded change a retry with its change id gets back: the same change, or
    ChangeIdReused when the id was recorded for another one (nothing is applied)."""
    if recorded.route != route or recorded.after != state:
        raise ChangeIdReused(
            f"change id {recorded.id} is already recorded for another change ({recorded.route} "
            f"-> {recorded.after} by {recorded.who} at version {recorded.version}), not "
            f"{route} -> {state}: nothing was written; use a new change id"
        )
    return recorded


@dataclass(frozen=True, slots=True)
class Held:
    """The generation and version a writer last saw (and the routes it held): a write goes
    ahead only on that generation at that version or later, holding every one of them."""

    epoch: str
    version: int
    routes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class History:
    """The readable changes, oldest first, and a message for each unreadable item (left out)."""

    changes: list[Change]
    problems: list[str]


def vet_routes(
    where: str,
    stored: set[str],
    recorded_names: Any,
    recorded_count: Any,
    names_where: str | None = None,
) -> set[str]:
    """Check the routes a store holds against those it recorded writing; the unknown ones
    (added by hand) are returned, to be ignored with a warning. A route recorded but gone
    (deleted, truncated) is a StoreError: the table lost a route, it is never adopted.
    A store written by an older carve records no names: then the count is checked.
    `names_where` names the key the names are recorded in (default: `where`)."""
    fix = "write it back with `carve routes restore`"
    names: set[str] | None = None
    if recorded_names is not None:
        named = names_where or where
        try:
            decoded = decode_json(recorded_names, max_bytes=1 << 22, max_depth=2)
        except Unreadable as exc:
            raise BadRecord(
                f"the route names recorded in {named} are unreadable ({exc}): edited by hand? {fix}"
            ) from None
        if not isinstance(decoded, list) or not all(isinstance(n, str) for n in decoded):
            raise BadRecord(
                f"the route names recorded in {named} are not a list of texts: edited by hand? "
                f"{fix}"
            )
        names = set(decoded)
    if names is not None:
        lost = names - stored
        if lost:
            raise StoreError(
                f"{where} lost {len(lost)} of the {len(names)} routes it held "
                f"({', '.join(sorted(lost)[:10])}): deleted or truncated by hand; {fix}"
            )
        return stored - names
    count = parse_count(recorded_count)
    if recorded_count is not None and count is None:
        raise StoreError(f"the route count recorded in {where} is {recorded_count!r}: {fix}")
    if count is not None and len(stored) < count:
        raise StoreError(
            f"{where} holds {len(stored)} states but the table recorded {count} "
            f"(deleted or truncated by hand): {fix}"
        )
    return set()


def decode_names(where: str, raw: Mapping[Any, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A store's entries by route name, names decoded (bytes from Redis), and a problem
    for each name that is not UTF-8 text (added by hand: carve never writes one)."""
    entries: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, entry in raw.items():
        try:
            entries[text_of(name, f"a route name in {where}")] = entry
        except Unreadable as exc:
            problems[shown_name(name)] = (
                f"{UNKNOWN_ROUTE} ({exc}; added by hand?): ignored; delete it"
            )
    return entries, problems


def decode_fields(where: str, raw: Mapping[Any, Any]) -> dict[str, str]:
    """A hash of carve's own fields (meta), decoded; BadRecord names the undecodable one."""
    fields: dict[str, str] = {}
    for name, value in raw.items():
        try:
            key = text_of(name, f"a field of {where}")
            fields[key] = text_of(value, f"{where} (field {key})")
        except Unreadable as exc:
            raise BadRecord(
                f"{exc}: edited by hand? fix it or write the table back with `carve routes restore`"
            ) from None
    return fields


def read_entries(
    where: str, raw: dict[str, Any], unknown: set[str]
) -> tuple[dict[str, RouteState], dict[str, str]]:
    """The readable states of known routes, and a problem for each bad or unknown one."""
    states, problems = parse_entries({r: e for r, e in raw.items() if r not in unknown})
    for route in sorted(unknown):
        problems[route] = (
            f"{UNKNOWN_ROUTE} (added by hand to {where}?): ignored; set it with "
            "`carve routes` or delete it"
        )
    return states, problems


def history_of(raw: Any, where: str, route: str | None, limit: int) -> History:
    """The History of raw records (oldest first), of one route, the last `limit` (0: all)."""
    changes, problems = parse_history(raw, where)
    if route is not None:
        changes = [c for c in changes if c.route == route]
    return History(changes[-limit:] if limit else changes, problems)


def names_json(routes: Any) -> str:
    return json.dumps(sorted(routes))


def recorded_change(raw: Any, where: str, change_id: str) -> Change:
    """The change a change id names; BadRecord when its record cannot be read."""
    try:
        return parse_change(raw, where)
    except Unreadable as exc:
        raise BadRecord(
            f"change {change_id} is recorded (it was applied) but its record is unreadable: "
            f"{exc}; fix or delete that item",
            applied=True,
        ) from None


def follows(found: Held, held: Held) -> bool:
    """Whether a table found in the store may follow the one held: a later version (a new
    generation only comes at a version above all held: a restore), or the same version
    of the same generation. An empty, older or rolled-back table never does."""
    return found.version > held.version or (
        found.version == held.version and found.epoch == held.epoch
    )


def new_epoch() -> str:
    return uuid.uuid4().hex[:16]


def new_change_id() -> str:
    return uuid.uuid4().hex


def plan_change(
    url: str,
    current: Held,
    raw_before: Any,
    route: str,
    state: RouteState,
    *,
    who: str,
    change_id: str,
    held: Held | None,
) -> tuple[Change, str]:
    """The change a write makes on a store at `current`, and the store's epoch after it.

    Refuses (StoreRefused) when the writer held another generation or a later version.
    An empty store gets a new epoch with its first change; a state the API refuses
    (canary 0) is a ValueError here too."""
    state.settable()
    if held is not None and not follows(current, held):
        raise StoreRefused(refusal(url, current, held))
    if held is not None and current.epoch == held.epoch and held.routes - current.routes:
        lost = ", ".join(sorted(held.routes - current.routes)[:10])
        raise StoreRefused(
            f"the route store {url} lost routes this table held ({lost}) at generation "
            f"{held.epoch or 'unnamed'}: nothing was written; write the table back with "
            "`carve routes restore`"
        )
    epoch = current.epoch or (new_epoch() if current.version == 0 else "")
    try:
        before: RouteState | None = MONOLITH if raw_before is None else parse_entry(raw_before)
    except Unreadable:
        before = None
    change = Change.now(
        route, who, before, state, id=change_id or new_change_id(), version=current.version + 1
    )
    return change, epoch


def refusal(url: str, found: Held, held: Held) -> str:
    """The operator's message for a store that is not the table a reader or writer held."""
    if found.version == 0:
        what = "is empty (wiped, or a new store)"
    elif found.epoch != held.epoch:
        what = f"holds another generation ({found.epoch or 'unnamed'} at version {found.version})"
    else:
        what = f"went back to version {found.version}"
    return (
        f"the route store {url} {what}, but this table held generation "
        f"{held.epoch or 'unnamed'} at version {held.version}: kept the last good table; "
        "write it back with `carve routes restore` (or re-seed the store on purpose)"
    )


class RouteStore(abc.ABC):
    """Where route states and their audit history are persisted.

    Every method is synchronous and safe to call from several threads.
    """

    url: str

    @abc.abstractmethod
    def stamp(self) -> Hashable:
        """A cheap token that changes whenever the table changes (no full read)."""

    @abc.abstractmethod
    def load(self) -> Snapshot:
        """The whole table as it is now."""

    @abc.abstractmethod
    def set_state(
        self,
        route: str,
        state: RouteState,
        *,
        who: str,
        change_id: str = "",
        held: Held | None = None,
    ) -> Change:
        """Persist `state` for `route` and audit it, atomically; returns the change.

        A `change_id` already recorded is not applied again: the recorded change is
        returned. With `held`, the write is refused (StoreRefused) unless the store is
        still that generation at that version or later."""

    @abc.abstractmethod
    def change(self, change_id: str) -> Change | None:
        """The recorded change with this id, if any."""

    @abc.abstractmethod
    def restore(self, snapshot: Snapshot, *, who: str) -> Snapshot:
        """Write `snapshot`'s states back as a new generation, at a version above both the
        snapshot's and the store's, and audit each route; returns what was written."""

    @abc.abstractmethod
    def history_report(self, route: str | None = None, limit: int = 100) -> History:
        """The most recent changes, oldest first, optionally of one route, and a message
        naming each unreadable item (left out: one bad item hides nothing else)."""

    def history(self, route: str | None = None, limit: int = 100) -> list[Change]:
        """The most recent readable changes, oldest first, optionally of one route."""
        return self.history_report(route, limit).changes

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def restore_plan(
    snapshot: Snapshot, current_version: int, who: str
) -> tuple[Snapshot, list[Change]]:
    """The table a restore writes and the changes it audits (one per route)."""
    version = max(current_version, snapshot.version) + 1
    restored = Snapshot(version, snapshot.states, new_epoch())
    changes = [
        Change.now(
            route,
            f"{who} (restore)",
            None,
            state,
            id=f"restore-{restored.epoch}-{route}",
            version=version,
        )
        for route, state in sorted(snapshot.states.items())
    ]
    return restored, changes


def default_url() -> str:
    """CARVE_ROUTES_URL, else a file under CARVE_VAR_DIR (default var/)."""
    url = os.environ.get("CARVE_ROUTES_URL")
    if url:
        return url
    var_dir = Path(os.environ.get("CARVE_VAR_DIR", "var"))
    return f"file:{var_dir / 'routes.json'}"


def open_store(url: str | None = None, *, timeout: float = DEADLINE) -> RouteStore:
    """Open the backend a URL names (see the module docstring); every call on it ends
    within `timeout` seconds. Opening does no I/O: a store that is down opens."""
    url = url or default_url()
    scheme = urlsplit(url).scheme
    if scheme in ("", "file"):
        from routetable.filestore import FileStore

        return FileStore(file_path(url), timeout=timeout)
    if scheme in ("redis", "rediss", "unix"):
        from routetable.redisstore import RedisStore

        return RedisStore(url, timeout=timeout)
    if scheme in ("postgres", "postgresql"):
        from routetable.pgstore import PostgresStore

        return PostgresStore(url, timeout=timeout)
    raise StoreError(
        f"unknown route store {url!r}: use file:PATH, redis://HOST/DB or postgresql://HOST/DB"
    )


def file_path(url: str) -> Path:
    """The path of a `file:` URL: `file:///abs`, `file:relative` or a bare path."""
    parts = urlsplit(url)
    if parts.scheme == "":
        return Path(url)
    if parts.netloc not in ("", "localhost"):
        raise StoreError(f"a file store URL names no host: {url!r}")
    return Path(parts.path)
