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

from routetable.states import Change, RouteState, Snapshot
from routetable.store import RouteStore, StoreError


class FileStore(RouteStore):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = f"file:{self.path}"
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
        states = {name: RouteState.from_json(s) for name, s in document["routes"].items()}
        return Snapshot(version=document["version"], states=states)

    def set_state(self, route: str, state: RouteState, *, who: str) -> Change:
        with self._locked():
            document = self._read()
            before = RouteState.from_json(document["routes"].get(route, RouteState().to_json()))
            change = Change.now(route, who, before, state)
            document["routes"][route] = state.to_json()
            document["version"] += 1
            document["history"].append(change.to_json())
            self._write(document)
        return change

    def history(self, route: str | None = None, limit: int = 100) -> list[Change]:
        entries = [Change.from_json(e) for e in self._read()["history"]]
        if route is not None:
            entries = [c for c in entries if c.route == route]
        return entries[-limit:] if limit else entries

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._thread_lock, open(self._lock_path, "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
        except OSError as exc:
            raise StoreError(f"cannot lock route table {self._lock_path}: {exc}") from exc

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as f:
                document: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            return {"version": 0, "routes": {}, "history": []}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read route table {self.path}: {exc}") from exc
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
