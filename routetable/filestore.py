"""The embedded-mode store: one JSON document, replaced atomically under a file lock.

Writers take an exclusive `flock` on a sidecar `.lock` file, read the document, write
the new one to a temporary file in the same directory, fsync it and `os.replace` it
over the old one, so a reader always sees a whole document. Readers take no lock; the
stamp is the file's (inode, mtime, size). An inode number can be reused and a clock
tick is coarser than two quick writes, so the writer makes every new file's mtime
strictly later than the old one's: the stamp changes with every write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from routetable.states import Change, RouteState, Snapshot, Unreadable, decode_json, text_of
from routetable.store import (
    DEADLINE,
    BadRecord,
    Held,
    History,
    RouteStore,
    StoreError,
    decode_names,
    history_of,
    plan_change,
    read_entries,
    recorded_change,
    replayed,
    restore_plan,
    vet_routes,
)

MAX_DOCUMENT_BYTES = 64 << 20


class FileStore(RouteStore):
    def __init__(self, path: Path, *, timeout: float = DEADLINE) -> None:
        self.path = Path(path)
        self.url = f"file:{self.path}"
        self.timeout = timeout
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()  # flock is per open file, not per thread

    def stamp(self) -> Hashable:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read route table {self.path}: {exc}") from exc
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def load(self) -> Snapshot:
        document = self._read()
        current, unknown = self._current(document)
        entries, bad_names = decode_names(str(self.path), document.get("routes", {}))
        states, problems = read_entries(str(self.path), entries, unknown)
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
        with self._locked():
            document = self._read()
            recorded = self._find(document, change_id)
            if recorded is not None:
                return replayed(recorded, route, state)
            current, unknown = self._current(document)
            routes = document.setdefault("routes", {})
            change, epoch = plan_change(
                self.url,
                current,
                routes.get(route),
                route,
                state,
                who=who,
                change_id=change_id,
                held=held,
            )
            routes[route] = state.to_json()
            document["version"] = change.version
            document["epoch"] = epoch
            document["names"] = sorted(current.routes | {route})
            document.setdefault("history", []).append(change.to_json())
            self._write(document)
        return change

    def change(self, change_id: str) -> Change | None:
        return self._find(self._read(), change_id)

    def restore(self, snapshot: Snapshot, *, who: str) -> Snapshot:
        with self._locked():
            document = self._read()
            version = document.get("version")
            restored, changes = restore_plan(
                snapshot, version if isinstance(version, int) else 0, who
            )
            document["version"] = restored.version
            document["epoch"] = restored.epoch
            document["routes"] = {r: s.to_json() for r, s in restored.states.items()}
            document["names"] = sorted(restored.states)
            history = document.get("history")
            document["history"] = (history if isinstance(history, list) else []) + [
                c.to_json() for c in changes
            ]
            self._write(document)
        return restored

    def history_report(self, route: str | None = None, limit: int = 100) -> History:
        raw = self._read().get("history", [])
        if not isinstance(raw, list):
            return History([], [f"the history in {self.path} is not a list; nothing shown"])
        return history_of(raw, f"{self.path} history", route, limit)

    def _find(self, document: dict[str, Any], change_id: str) -> Change | None:
        if not change_id:
            return None
        raw = document.get("history", [])
        for position, item in reversed(list(enumerate(raw if isinstance(raw, list) else []))):
            if isinstance(item, dict) and item.get("id") == change_id:
                return recorded_change(item, f"{self.path} history item {position}", change_id)
        return None

    def _current(self, document: dict[str, Any]) -> tuple[Held, set[str]]:
        version = document.get("version", 0 if not document.get("routes") else None)
        routes = document.get("routes", {})
        epoch = document.get("epoch") or ""
        if (
            type(version) is not int
            or version < 0
            or not isinstance(routes, dict)
            or not isinstance(epoch, str)
        ):
            raise BadRecord(
                f"route table {self.path} has no valid version, epoch or routes "
                f"(version {str(version)[:40]!r}): it was edited by hand; fix it or restore "
                "it with `carve routes restore`"
            )
        try:
            text_of(epoch, f"the epoch of {self.path}")
        except Unreadable as exc:
            raise BadRecord(f"{exc}: edited by hand? restore it with `carve routes restore`")
        names = document.get("names")
        stored = set(decode_names(str(self.path), routes)[0])
        unknown = vet_routes(
            str(self.path), stored, None if names is None else json.dumps(names), None
        )
        return Held(epoch, version, frozenset(stored - unknown)), unknown

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise StoreError(f"route table {self.path} is busy: no write finished in time")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a") as lock_file:
                while True:
                    try:
                        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise StoreError(
                                f"route table {self.path} is locked by another process for "
                                f"more than {self.timeout:g} s; nothing was written"
                            ) from None
                        time.sleep(0.005)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
        except OSError as exc:
            raise StoreError(f"cannot lock route table {self._lock_path}: {exc}") from exc
        finally:
            self._thread_lock.release()

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as f:
                text = f.read(MAX_DOCUMENT_BYTES + 1)
            # No depth scan of the whole document (the refresh path): entries and records
            # are checked one by one; nesting past json.loads' limit is a RecursionError,
            # which decode_json turns into Unreadable.
            # Bytes that are not UTF-8 stay in the texts they belong to (surrogateescape):
            # that entry, name or record is the one bad item, not the whole document.
            document = decode_json(
                text.decode("utf-8", "surrogateescape"),
                max_bytes=MAX_DOCUMENT_BYTES,
                max_depth=None,
                constants=True,
                utf8=False,
            )
        except FileNotFoundError:
            return {}
        except (OSError, Unreadable) as exc:
            raise StoreError(f"cannot read route table {self.path}: {exc}") from exc
        if not isinstance(document, dict):
            raise StoreError(f"cannot read route table {self.path}: not a JSON object")
        return document

    def _write(self, document: dict[str, Any]) -> None:
        directory = self.path.parent
        try:
            previous_mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            previous_mtime = 0
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(document, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            mtime = max(time.time_ns(), previous_mtime + 1)
            os.utime(tmp, ns=(mtime, mtime))
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
