"""The reader: an in-memory snapshot kept fresh by a cheap version check."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable

from routetable.states import MONOLITH, Change, RouteState, Snapshot
from routetable.store import RouteStore, StoreError

log = logging.getLogger("carve.routetable")

_UNSET = object()


class RouteTable:
    """Holds the latest snapshot of a store. Reading `snapshot` never does I/O.

    `refresh()` checks the store's stamp and reloads only when it changed; an
    asynchronous owner calls it from a background task (in an executor), a synchronous
    one calls `current()`, which refreshes when the snapshot is older than `max_age`.
    When the store cannot be reached the last snapshot stays in force and
    `last_error` says why.
    """

    def __init__(self, store: RouteStore, *, max_age: float = 0.25) -> None:
        self.store = store
        self.max_age = max_age
        self.snapshot = Snapshot()
        self.last_error: str | None = None
        self.last_ok: float | None = None  # time.monotonic() of the last good check
        self._stamp: Hashable = _UNSET
        self._checked = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Reload if the store changed; True when the snapshot was replaced."""
        with self._lock:
            self._checked = time.monotonic()
            try:
                stamp = self.store.stamp()
                changed = stamp != self._stamp
                if changed:
                    self.snapshot = self.store.load()
                    self._stamp = stamp
            except StoreError as exc:
                if self.last_error != str(exc):
                    log.warning("route table: %s (keeping version %s)", exc, self.snapshot.version)
                self.last_error = str(exc)
                return False
            self.last_error = None
            self.last_ok = self._checked
            return changed

    def current(self) -> Snapshot:
        """The snapshot, refreshed first if it is older than `max_age` seconds."""
        if time.monotonic() - self._checked >= self.max_age:
            self.refresh()
        return self.snapshot

    def state_of(self, route: str, default: RouteState = MONOLITH) -> RouteState:
        return self.current().get(route, default)

    def set_state(self, route: str, state: RouteState, *, who: str) -> Change:
        """Write through to the store, then see the write at once."""
        change = self.store.set_state(route, state, who=who)
        self.refresh()
        return change
