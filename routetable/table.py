"""The reader: an in-memory snapshot kept fresh by a cheap version check.

What a reader holds only moves forward: it adopts a table from the store only at a
later version (or the same version of the same generation), so a wiped, replaced or
rolled-back store never moves a route; it says why, once, and keeps the last good
table until an operator restores the store (`restore()`). An entry the store holds but
cannot be read keeps that route's last good state. With `snapshot_path`, every adopted
table is also kept on local disk and a reader starts from it while the store is down.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from routetable.restoring import RestorePlan, RestoreRefused, plan_restore
from routetable.states import MONOLITH, Change, RouteState, Snapshot, Unreadable, decode_json
from routetable.store import (
    DEADLINE,
    UNKNOWN_ROUTE,
    BadRecord,
    Held,
    RouteStore,
    StoreDown,
    StoreError,
    StoreRefused,
    follows,
    refusal,
)

log = logging.getLogger("carve.routetable")

_UNSET = object()
BREAKER_SECONDS = 1.0  # after a failed store call, changes are refused at once this long
MAX_SNAPSHOT_BYTES = 16 << 20
_TABLES: weakref.WeakSet[RouteTable] = weakref.WeakSet()


def _checksum(document: Mapping[str, Any]) -> str:
    """The checksum a kept snapshot carries: of every field but itself and `saved_at`."""
    content = {k: v for k, v in document.items() if k not in ("checksum", "saved_at")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _reset_after_fork() -> None:
    for table in list(_TABLES):
        table._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


class RouteTable:
    """Holds the latest good snapshot of a store. Reading `snapshot` never does I/O.

    `refresh()` checks the store's stamp and reloads only when it changed; it never
    raises. An asynchronous owner calls it from a background task (in an executor); a
    synchronous one calls `current()`, which starts a refresh in a background thread
    when the snapshot is older than `max_age` and waits for it at most `wait` seconds
    (not at all while the store is failing), so no caller blocks on the store.
    """

    def __init__(
        self,
        store: RouteStore,
        *,
        max_age: float = 0.25,
        wait: float = 0.05,
        snapshot_path: Path | str | None = None,
    ) -> None:
        self.store = store
        self.max_age = max_age
        self.wait = wait
        self.snapshot_path = None if snapshot_path is None else Path(snapshot_path)
        self.snapshot = Snapshot()
        self.source = "none"  # where the snapshot came from: none, disk or store
        self.last_error: str | None = None  # why the store could not be read, or was refused
        self.last_ok: float | None = None  # time.monotonic() of the last good read
        self._refused: str | None = None
        # The digest of the table adopted from the store (its content at its generation and
        # version): the same generation and version with another content is refused.
        self._digest: str | None = None
        self.snapshot_problem: str | None = None  # why the local snapshot was ignored
        # A table was kept on this host before (a snapshot file exists, even unreadable):
        # an empty store is then a wiped one, never a first start (see the README).
        self.seen_before = False
        self._failed_at: float | None = None  # time.monotonic() of the last failed call
        self._failure = ""
        self._stamp: Hashable = _UNSET
        self._checked = 0.0
        self._lock = threading.Lock()
        self._background: threading.Thread | None = None
        self._background_lock = threading.Lock()
        self._said: set[str] = set()
        _TABLES.add(self)
        if self.snapshot_path is not None:
            self._load_local(self.snapshot_path)

    def _after_fork(self) -> None:
        """In a forked child: a lock a thread of the parent held would never be released."""
        self._lock = threading.Lock()
        self._background_lock = threading.Lock()
        self._background = None

    # ------------------------------------------------------------ reading
    @property
    def loaded(self) -> bool:
        """A table is in force (read from the store, or from the local snapshot)."""
        return self.source != "none"

    def age(self) -> float | None:
        """Seconds since the store was last read well (None: never)."""
        return None if self.last_ok is None else time.monotonic() - self.last_ok

    def refresh(self, wait: float = 0.0) -> bool:
        """Reload if the store changed; True when a newer table was adopted. Never raises:
        a failure is logged once and kept in `last_error`. Does not queue behind a refresh
        already under way for longer than `wait` seconds."""
        acquired = self._lock.acquire(timeout=wait) if wait > 0 else self._lock.acquire(False)
        if not acquired:
            return False
        try:
            self._checked = time.monotonic()
            try:
                stamp = self.store.stamp()
                adopted = False
                if stamp != self._stamp:
                    adopted = self._adopt(self.store.load())
                    self._stamp = stamp
            except Exception as exc:  # the refresh must outlive any failure
                message = (
                    str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
                )
                self._say(
                    logging.WARNING,
                    f"route table: {message} (keeping version {self.snapshot.version})",
                )
                self.last_error = message
                if not isinstance(exc, BadRecord):  # a store that answers is not failing
                    self._failed_at, self._failure = time.monotonic(), message
                return False
            self._failed_at = None
            if self.last_error is not None and self._refused is None:
                log.info("route table: the store answers again (version %s)", self.snapshot.version)
                self._said.clear()
            self.last_error = self._refused
            self.last_ok = self._checked
            return adopted
        finally:
            self._lock.release()

    def current(self) -> Snapshot:
        """The snapshot; when it is older than `max_age` a refresh is started in the
        background and waited for briefly (not while the store is failing)."""
        if time.monotonic() - self._checked >= self.max_age:
            with self._background_lock:
                thread = self._background
                if thread is None or not thread.is_alive():
                    thread = threading.Thread(
                        target=self.refresh, name="carve-routetable-refresh", daemon=True
                    )
                    self._background = thread
                    thread.start()
            if self.last_error is None:
                thread.join(self.wait)
        return self.snapshot

    def state_of(self, route: str, default: RouteState = MONOLITH) -> RouteState:
        return self.current().get(route, default)

    # ------------------------------------------------------------ writing
    def held(self) -> Held | None:
        """What a write must find in the store: the generation and version held, and the
        routes (a store that lost one is refused)."""
        if not self.loaded or self.snapshot.empty:
            return None
        routes = frozenset(self.snapshot.states) | frozenset(
            r for r, why in self.snapshot.problems.items() if UNKNOWN_ROUTE not in why
        )
        return Held(self.snapshot.epoch, self.snapshot.version, routes)

    def set_state(self, route: str, state: RouteState, *, who: str, change_id: str = "") -> Change:
        """Write through to the store (refused if it is not the table held), then see it.

        Refused at once, nothing sent (StoreDown), while the store failed within the last
        BREAKER_SECONDS, or since with a refresh still waiting for it (a partition), and
        has not answered since; refused (StoreRefused) on an empty
        store when this host kept a table before but holds none now."""
        failed_at = self._failed_at
        if failed_at is not None and (
            time.monotonic() - failed_at < BREAKER_SECONDS or self._lock.locked()
        ):  # failed just now, or a refresh is still waiting for the failing store
            self.current()  # a refresh in the background: the store may answer again
            raise StoreDown(
                f"the route store {self.store.url} is failing ({self._failure}): the change "
                "was not sent, nothing was applied; retry when the store answers"
            )
        if not self.loaded and self.seen_before:
            raise StoreRefused(self._refused or self._no_table())
        if self._refused is not None:  # never write on top of a store this table refuses,
            self.refresh(wait=DEADLINE)  # unless it was restored meanwhile
            if self._refused is not None:
                raise StoreRefused(f"{self._refused}; the change was not sent")
        try:
            change = self.store.set_state(
                route, state, who=who, change_id=change_id, held=self.held()
            )
        except (StoreRefused, BadRecord):  # the store answered: it is not failing
            raise
        except StoreError as exc:
            self._failed_at, self._failure = time.monotonic(), str(exc)
            raise
        self.refresh(wait=DEADLINE)
        return change

    def _no_table(self) -> str:
        why = self.snapshot_problem or "its local snapshot is gone"
        return (
            f"no route table: this host kept one before ({why}) and the store "
            f"{self.store.url} holds none it can adopt: write one back with "
            "`carve routes restore` from a proxy that holds it, or seed the store on purpose "
            "(`carve routes restore --seed`)"
        )

    def plan_restore(self, seed: Mapping[str, RouteState] | None = None) -> RestorePlan:
        """What `restore()` would write and change; reads the store as it is (a wiped,
        unreadable or newer one too). `seed`: the states to write instead of the table
        held (an explicit re-seed, e.g. from the configuration)."""
        if seed is not None:
            table = Snapshot(0, seed)
        elif not self.loaded or self.snapshot.empty:
            raise StoreError(
                "this process holds no route table to restore; seed the store on purpose "
                "instead (`carve routes restore --seed`)"
            )
        else:
            table = self.snapshot
        try:
            return plan_restore(table, self.store.load(), None)
        except StoreError as exc:
            return plan_restore(table, None, str(exc))

    def restore(
        self,
        *,
        who: str,
        force: bool = False,
        seed: Mapping[str, RouteState] | None = None,
    ) -> tuple[RestorePlan, Snapshot | None]:
        """Write the table held (or `seed`) back to the store as a new generation (the
        operator's word after a wipe); every reader adopts it, its version being above all
        it held. Writes nothing when the store already holds this very table; refuses
        (RestoreRefused) to undo newer changes unless `force`. Returns the plan and what
        was written (None: nothing)."""
        plan = self.plan_restore(seed)
        if plan.noop:
            log.info(
                "route table: restore by %s: the store %s; nothing written", who, plan.store_was
            )
            return plan, None
        if plan.overrides and not force:
            raise RestoreRefused(plan.refusal())
        restored = self.store.restore(plan.table, who=who)
        log.warning(
            "route table: %s %s version %s as generation %s at version %s (the store %s)",
            who,
            "seeded" if seed is not None else "restored",
            plan.table.version,
            restored.epoch,
            restored.version,
            plan.store_was,
        )
        self.refresh(wait=DEADLINE)
        return plan, restored

    # ------------------------------------------------------------ internals
    def _adopt(self, fresh: Snapshot) -> bool:
        held = self.snapshot
        if not self.loaded and fresh.empty and self.seen_before:
            self._refused = self._no_table()  # a wiped store after a first start: never defaults
            self._say(logging.ERROR, f"route table: {self._refused}")
            return False
        if self.source == "disk" and not held.empty and not fresh.empty:
            # The local snapshot is only a fallback while the store cannot be read: this
            # process never saw its version in this run, so a readable store that does not
            # follow it is a LOCAL problem (a corrupt or foreign snapshot), never the store's.
            # (An empty store stays refused below: a wiped one is never adopted.)
            found = Held(fresh.epoch, fresh.version)
            if not follows(found, Held(held.epoch, held.version)) or (
                found == Held(held.epoch, held.version)
                and self._digest is not None
                and fresh.digest() != self._digest
            ):
                self.snapshot_problem = (
                    f"the local snapshot {self.snapshot_path} holds generation "
                    f"{held.epoch or 'unnamed'} at version {held.version}, which this process "
                    f"never saw in the store {self.store.url} (generation "
                    f"{fresh.epoch or 'unnamed'} at version {fresh.version}): the store's table "
                    "is used and the snapshot replaced. If the store was rolled back, restore "
                    "it from a proxy that served the later version from the store"
                )
                self._say(logging.ERROR, f"route table: {self.snapshot_problem}")
                held = Snapshot()  # nothing held: the store's table is adopted whole
        elif self.loaded and not held.empty:
            if not follows(Held(fresh.epoch, fresh.version), Held(held.epoch, held.version)):
                self._refused = refusal(
                    self.store.url,
                    Held(fresh.epoch, fresh.version),
                    Held(held.epoch, held.version),
                )
                self._say(logging.ERROR, f"route table: {self._refused}")
                return False
            lost = (
                sorted(set(held.states) - set(fresh.states) - set(fresh.problems))
                if fresh.epoch == held.epoch
                else []
            )
            if lost:
                self._refused = (
                    f"the route store {self.store.url} lost routes this table held "
                    f"({', '.join(lost[:10])}) at generation {held.epoch or 'unnamed'}, version "
                    f"{fresh.version}: kept the last good table; write it back with "
                    "`carve routes restore`"
                )
                self._say(logging.ERROR, f"route table: {self._refused}")
                return False
            digest = fresh.digest()
            if (
                fresh.epoch == held.epoch
                and fresh.version == held.version
                and self._digest is not None
                and digest != self._digest
            ):
                self._refused = (
                    f"the route store {self.store.url} holds other content at generation "
                    f"{held.epoch or 'unnamed'}, version {held.version} than this table held: "
                    "it was rolled back (a backup restored) and written over, or edited by "
                    "hand without a version bump; kept the last good table and refuse changes; "
                    "write the right table back with `carve routes restore`"
                )
                self._say(logging.ERROR, f"route table: {self._refused}")
                return False
            if fresh.epoch != held.epoch:
                log.warning(
                    "route table: the store is a new generation %s at version %s (was %s at %s)",
                    fresh.epoch,
                    fresh.version,
                    held.epoch or "unnamed",
                    held.version,
                )
        states = dict(fresh.states)
        for route, why in sorted(fresh.problems.items()):
            kept = held.states.get(route)
            unknown = UNKNOWN_ROUTE in why
            if kept is not None and not unknown:
                states[route] = kept
            if unknown:
                said = f"route {route!r} in {self.store.url} {why}"
            else:
                said = (
                    f"the entry of route {route!r} in {self.store.url} is unreadable, keeping "
                    f"{kept or 'the configured state'}: {why}"
                )
            self._say(logging.WARNING if unknown else logging.ERROR, f"route table: {said}")
        self._refused = None
        newer = fresh.version != held.version or fresh.epoch != held.epoch or not self.loaded
        self.snapshot = Snapshot(fresh.version, states, fresh.epoch, fresh.problems)
        self._digest = fresh.digest()
        was = self.source
        self.source = "store"
        if newer or was != "store":
            self._save_local()
        return newer

    def _say(self, level: int, message: str) -> None:
        """Log a message once (until the store answers well again)."""
        if message not in self._said:
            self._said.add(message)
            log.log(level, "%s", message)

    def _load_local(self, path: Path) -> None:
        """Start from the kept snapshot; one that cannot be read (truncated, garbage, a
        version below 0) is reported and ignored: the table then comes from the store."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.seen_before = True
            self._ignore_local(path, f"cannot read it: {exc}")
            return
        try:
            data = decode_json(raw, max_bytes=MAX_SNAPSHOT_BYTES, max_depth=8)
            if not isinstance(data, dict):
                raise Unreadable(f"expected an object, got {type(data).__name__}")
            if not isinstance(data.get("store"), str):
                raise Unreadable("it names no store")
            if data["store"] != self.store.url:
                log.warning("route table: ignoring %s, it is a snapshot of another store", path)
                return
            self.seen_before = True
            if data.get("checksum") != _checksum(data):
                raise Unreadable(
                    "its checksum does not match its content (edited or damaged; a snapshot "
                    "written by an older carve has none)"
                )
            snapshot = Snapshot.from_json(data)
        except Unreadable as exc:
            self.seen_before = True
            self._ignore_local(path, str(exc))
            return
        self.snapshot = snapshot
        digest = data.get("digest")
        self._digest = digest if isinstance(digest, str) else None
        self.source = "disk"
        log.info(
            "route table: starting from the local snapshot %s (version %s, saved %s)",
            path,
            self.snapshot.version,
            data.get("saved_at"),
        )

    def _ignore_local(self, path: Path, why: str) -> None:
        self.snapshot_problem = f"the local snapshot {path} is unreadable and ignored: {why}"
        log.error(
            "route table: %s; starting from the store %s (delete the file to silence this; "
            "the next good table replaces it)",
            self.snapshot_problem,
            self.store.url,
        )

    def _save_local(self) -> None:
        path = self.snapshot_path
        if path is None:
            return
        document: dict[str, Any] = {
            "store": self.store.url,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **self.snapshot.to_json(),
            "digest": self._digest,
        }
        document["checksum"] = _checksum(document)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(document, f, indent=1)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            self._say(logging.WARNING, f"route table: cannot keep the snapshot in {path}: {exc}")
