"""The backend (the package's docstring says why it exists)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from typing import Any

from django.db.backends.sqlite3 import base

READS = ("SELECT", "PRAGMA", "EXPLAIN")
FIRST_POLL, LAST_POLL = 0.0002, 0.002  # seconds between tries while another process writes


class WriteLock:
    """An exclusive flock on `path` for one connection, taken with a timeout.

    Each instance opens the file itself: flock locks belong to an open file, so threads of
    one process (gunicorn's) exclude each other as processes do. In a process forked from
    the one that opened it, the inherited file is left alone (unlocking it would unlock the
    parent's) and the lock file is opened again.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.pid = 0
        self.held = False

    def acquire(self, timeout: float) -> None:
        if self.pid != os.getpid():
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self.pid, self.held = os.getpid(), False
        if self.held:
            return
        assert self.fd is not None
        deadline = time.monotonic() + timeout
        pause = FIRST_POLL
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError(
                        f"database is locked: another process has been writing to it for "
                        f"{timeout:g} s (its write lock is {self.path})"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 1.5, LAST_POLL)
            else:
                self.held = True
                return

    def release(self) -> None:
        if self.held and self.pid == os.getpid():
            assert self.fd is not None
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.held = False

    def close(self) -> None:
        self.release()
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
        self.fd, self.pid = None, 0


class CursorWrapper(base.SQLiteCursorWrapper):
    """Every statement but a read takes the write lock first (BEGIN IMMEDIATE too); it is
    let go when no transaction is left open (a write in autocommit, a COMMIT)."""

    lock: WriteLock | None = None
    timeout = 5.0

    def execute(self, query: str, params: Any = None) -> Any:
        lock = self.lock
        if lock is None or query.lstrip()[:7].upper().startswith(READS):
            return super().execute(query, params)
        lock.acquire(self.timeout)
        try:
            return super().execute(query, params)
        finally:
            if not self.connection.in_transaction:
                lock.release()

    def executemany(self, query: str, param_list: Any) -> Any:
        lock = self.lock
        if lock is None:
            return super().executemany(query, param_list)
        lock.acquire(self.timeout)
        try:
            return super().executemany(query, param_list)
        finally:
            if not self.connection.in_transaction:
                lock.release()


class DatabaseWrapper(base.DatabaseWrapper):
    write_lock: WriteLock | None = None

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        path = None if self.is_in_memory_db() else f"{self.settings_dict['NAME']}.writelock"
        if self.write_lock is not None and self.write_lock.path != path:
            self.write_lock.close()
            self.write_lock = None
        if path is not None and self.write_lock is None:
            self.write_lock = WriteLock(path)
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=CursorWrapper)
        cursor.lock = self.write_lock
        cursor.timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        return cursor

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_if_done()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_if_done()

    def _release_if_done(self) -> None:
        if self.write_lock is not None and not (
            self.connection is not None and self.connection.in_transaction
        ):
            self.write_lock.release()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            if self.write_lock is not None:
                self.write_lock.close()
