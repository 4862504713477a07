"""The Redis store: a hash of route -> state, a version counter and a history list.

A write is one WATCH/MULTI transaction (read the old state, set the new one, bump the
version, append the change), so concurrent writers from several hosts never lose an
audit entry. Readers compare the version key, one GET, with the one they hold.

URL: redis://host:port/db?prefix=carve:routes: (the prefix namespaces the three keys).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from routetable.states import Change, RouteState, Snapshot
from routetable.store import RouteStore, StoreError

DEFAULT_PREFIX = "carve:routes:"


class RedisStore(RouteStore):
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", DEFAULT_PREFIX)
        self.url = url
        client_url = urlunsplit(parts._replace(query=urlencode(query)))
        self._client = redis.Redis.from_url(
            client_url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
        )
        self._states_key = f"{self.prefix}states"
        self._version_key = f"{self.prefix}version"
        self._history_key = f"{self.prefix}history"

    def stamp(self) -> Hashable:
        try:
            return self._client.get(self._version_key)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route table version from Redis: {exc}") from exc

    def load(self) -> Snapshot:
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(self._states_key)
            pipe.get(self._version_key)
            raw_states, version = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route table from Redis: {exc}") from exc
        states = {name: RouteState.from_json(json.loads(s)) for name, s in raw_states.items()}
        return Snapshot(version=int(version or 0), states=states)

    def set_state(self, route: str, state: RouteState, *, who: str) -> Change:
        changes: list[Change] = []

        def write(pipe: redis.client.Pipeline) -> None:
            old = pipe.hget(self._states_key, route)
            before = RouteState.from_json(json.loads(old)) if old else RouteState()
            change = Change.now(route, who, before, state)
            pipe.multi()
            pipe.hset(self._states_key, route, json.dumps(state.to_json()))
            pipe.incr(self._version_key)
            pipe.rpush(self._history_key, json.dumps(change.to_json()))
            changes[:] = [change]

        try:
            self._client.transaction(write, self._states_key)
        except redis.RedisError as exc:
            raise StoreError(f"cannot write route table to Redis: {exc}") from exc
        return changes[0]

    def history(self, route: str | None = None, limit: int = 100) -> list[Change]:
        try:
            raw = self._client.lrange(self._history_key, 0, -1)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read route history from Redis: {exc}") from exc
        entries = [Change.from_json(json.loads(e)) for e in raw]
        if route is not None:
            entries = [c for c in entries if c.route == route]
        return entries[-limit:] if limit else entries

    def close(self) -> None:
        self._client.close()
