"""The Redis store: a hash of route -> state, a version counter and a history list.

A write is one WATCH/MULTI transaction (read the old state, set the new one, set the
version one higher, append the change, record its id), so concurrent writers from
several hosts never lose an audit entry nor apply a change id twice. A meta hash keeps
the store's generation (epoch) and how many states it holds, so a deleted key is seen.
Readers compare the version key and the epoch, one round trip, with the ones they hold.

URL: redis://host:port/db?prefix=carve:routes: (the prefix namespaces the keys).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from routetable.states import Change, RouteState, Snapshot, parse_count, shown_name
from routetable.store import (
    DEADLINE,
    BadRecord,
    Held,
    History,
    RouteStore,
    StoreError,
    decode_fields,
    decode_names,
    history_of,
    names_json,
    plan_change,
    read_entries,
    recorded_change,
    replayed,
    restore_plan,
    vet_routes,
)

DEFAULT_PREFIX = "carve:routes:"
_TYPES = {  # the type of each key, by its name after the prefix
    "states": "hash",
    "version": "string",
    "meta": "hash",
    "history": "list",
    "changes": "hash",
}


class RedisStore(RouteStore):
    def __init__(self, url: str, *, timeout: float = DEADLINE) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", DEFAULT_PREFIX)
        self.url = url
        client_url = urlunsplit(parts._replace(query=urlencode(query)))
        self._client = redis.Redis.from_url(
            client_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            # A pooled connection closed meanwhile is retried once at once; a timeout is
            # not: the caller's deadline holds.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            # Bytes as stored: they are decoded in the one parse step (states.text_of), so
            # an entry, a name or a record that is not UTF-8 is one bad item, named.
            decode_responses=False,
        )
        self._states_key = f"{self.prefix}states"
        self._version_key = f"{self.prefix}version"
        self._history_key = f"{self.prefix}history"
        self._meta_key = f"{self.prefix}meta"  # epoch, and how many states it holds
        self._changes_key = f"{self.prefix}changes"  # change id -> change
        self._all_keys = (
            self._states_key,
            self._version_key,
            self._meta_key,
            self._history_key,
            self._changes_key,
        )

    def stamp(self) -> Hashable:
        # The generation too (a re-created table at the same version is another table)
        # and how many states there are (a state deleted or added by hand is seen).
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.get(self._version_key)
            pipe.hget(self._meta_key, "epoch")
            pipe.hlen(self._states_key)
            # a key of the wrong type (edited by hand) changes the stamp: load() names it
            return tuple(str(r) if isinstance(r, Exception) else r for r in pipe.execute(False))
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route table version from Redis: {exc}") from exc

    def load(self) -> Snapshot:
        keys = (self._states_key, self._version_key, self._meta_key)
        try:
            pipe = self._client.pipeline(transaction=True)
            self._typed(pipe, keys)
            pipe.hgetall(self._states_key)
            pipe.get(self._version_key)
            pipe.hgetall(self._meta_key)
            results = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route table from Redis: {exc}") from exc
        raw_states, version, meta = self._checked(keys, results)
        entries, bad_names = decode_names(self._states_key, raw_states)
        current, unknown = self._current(version, meta, set(entries))
        states, problems = read_entries(self._states_key, entries, unknown)
        return Snapshot(current.version, states, current.epoch, problems | bad_names)

    def set_state(
        self,
        route: str,
        state: RouteState,
        *,
        who: str,
        change_id: str = "",
        held: Held | None = None,
    ) -> Change:
        changes: list[Change] = []

        def write(pipe: redis.client.Pipeline) -> None:
            # The keys are WATCHed: read them in one MULTI (another connection) so they
            # agree; a write after the WATCH makes this EXEC fail and the whole run again.
            read = self._client.pipeline(transaction=True)
            # every key this write touches is of its type, or the EXEC below would apply
            # part of the change (a WRONGTYPE inside MULTI/EXEC rolls nothing back)
            self._typed(read, self._all_keys)
            read.get(self._version_key)
            read.hgetall(self._meta_key)
            read.hkeys(self._states_key)
            read.hget(self._states_key, route)
            read.hget(self._changes_key, change_id or "-")
            version, meta, raw_names, old, recorded = self._checked(
                self._all_keys, read.execute(raise_on_error=False)
            )
            if change_id and recorded is not None:
                where = f"{self._changes_key} (field {change_id})"
                changes[:] = [replayed(recorded_change(recorded, where, change_id), route, state)]
                return
            names, _ = decode_names(self._states_key, dict.fromkeys(raw_names))
            current, unknown = self._current(version, meta, set(names))
            change, epoch = plan_change(
                self.url, current, old, route, state, who=who, change_id=change_id, held=held
            )
            known = (set(names) - unknown) | {route}
            record = json.dumps(change.to_json())
            pipe.multi()
            pipe.hset(self._states_key, route, json.dumps(state.to_json()))
            pipe.set(self._version_key, change.version)
            pipe.hset(
                self._meta_key,
                mapping={"epoch": epoch, "count": len(known), "names": names_json(known)},
            )
            pipe.rpush(self._history_key, record)
            pipe.hset(self._changes_key, change.id, record)
            changes[:] = [change]

        self._transaction(write, "write route table to")
        return changes[0]

    def change(self, change_id: str) -> Change | None:
        try:
            recorded = self._client.hget(self._changes_key, change_id)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route changes from Redis: {exc}") from exc
        if recorded is None:
            return None
        return recorded_change(recorded, f"{self._changes_key} (field {change_id})", change_id)

    def restore(self, snapshot: Snapshot, *, who: str) -> Snapshot:
        written: list[Snapshot] = []

        def write(pipe: redis.client.Pipeline) -> None:
            check = self._client.pipeline(transaction=True)
            self._typed(check, self._all_keys)
            self._checked(self._all_keys, check.execute(raise_on_error=False))
            current = parse_count(pipe.get(self._version_key)) or 0
            restored, changes = restore_plan(snapshot, current, who)
            pipe.multi()
            pipe.delete(self._states_key)
            if restored.states:
                pipe.hset(
                    self._states_key,
                    mapping={r: json.dumps(s.to_json()) for r, s in restored.states.items()},
                )
            pipe.set(self._version_key, restored.version)
            pipe.hset(
                self._meta_key,
                mapping={
                    "epoch": restored.epoch,
                    "count": len(restored.states),
                    "names": names_json(restored.states),
                },
            )
            for change in changes:
                record = json.dumps(change.to_json())
                pipe.rpush(self._history_key, record)
                pipe.hset(self._changes_key, change.id, record)
            written[:] = [restored]

        self._transaction(write, "restore route table to")
        return written[0]

    def history_report(self, route: str | None = None, limit: int = 100) -> History:
        keys = (self._history_key,)
        try:
            pipe = self._client.pipeline(transaction=True)
            self._typed(pipe, keys)
            pipe.lrange(self._history_key, 0, -1)
            (raw,) = self._checked(keys, pipe.execute(raise_on_error=False))
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route history from Redis: {exc}") from exc
        return history_of(raw, self._history_key, route, limit)

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _typed(pipe: redis.client.Pipeline, keys: tuple[str, ...]) -> None:
        for key in keys:
            pipe.type(key)

    def _checked(self, keys: tuple[str, ...], results: list[Any]) -> list[Any]:
        """The results after the TYPE of each key (queued by `_typed`): a key of another
        type than carve writes is a BadRecord naming it (edited by hand, the store is not
        failing); any other error of the batch a StoreError."""
        for key, found in zip(keys, results, strict=False):
            kind = found.decode() if isinstance(found, bytes) else str(found)
            if kind not in ("none", _TYPES[key.removeprefix(self.prefix)]):
                raise BadRecord(
                    f"the Redis key {key} is a {kind}, not a "
                    f"{_TYPES[key.removeprefix(self.prefix)]}: edited by hand? nothing was "
                    "written; delete or fix it (then `carve routes restore` if the table is gone)"
                )
        rest = results[len(keys) :]
        for result in rest:
            if isinstance(result, Exception):
                raise StoreError(f"Redis answered an error: {result}")
        return rest

    def _transaction(self, write: Callable[[redis.client.Pipeline], None], what: str) -> None:
        """Run `write` under WATCH of the version and the states: compare-and-set."""
        try:
            self._client.transaction(write, self._version_key, self._states_key, self._meta_key)
        except redis.RedisError as exc:
            raise StoreError(f"cannot {what} Redis: {exc}") from exc

    def _current(
        self, version: bytes | None, raw_meta: dict[bytes, bytes], stored: set[str]
    ) -> tuple[Held, set[str]]:
        """The generation and version the keys hold, and the unknown routes (added by
        hand, ignored); StoreError when the keys disagree."""
        meta = decode_fields(self._meta_key, raw_meta)
        if version is None and not stored and not meta:
            return Held("", 0), set()  # empty: never written, or wiped
        fix = "restore it with `carve routes restore`"
        number = parse_count(version)
        if number is None:
            raise StoreError(
                f"the route table version key {self._version_key} is "
                f"{'missing' if version is None else repr(shown_name(version))} while "
                f"{len(stored)} states "
                f"are stored: {fix}"
            )
        unknown = vet_routes(
            self._states_key,
            stored,
            meta.get("names"),
            meta.get("count"),
            names_where=f"{self._meta_key} (field names)",
        )
        return Held(meta.get("epoch", ""), number, frozenset(stored - unknown)), unknown
