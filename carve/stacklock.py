"""One stack per var/ folder and per port: what `carve stack up` checks before it touches
anything, so a second one started by mistake says why it will not run instead of
migrating the first one's databases and starting duplicate workers and relays."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

LOCK_NAME = "stack.lock"


class InUse(Exception):
    """Another stack holds what this one needs; the message says what and what to do."""


class VarDirLock:
    """An exclusive lock on `<var>/stack.lock`, held for the life of this process (the
    kernel drops it when the process ends, however it ends); the file names the holder."""

    def __init__(self, var_dir: Path) -> None:
        self.path = var_dir / LOCK_NAME
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> None:
        if self.held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise InUse(
                f"{self.path.parent} is in use by a running stack ({holder}). Stop that one "
                "(Ctrl-C in its terminal), or give this one a folder and ports of its own: "
                "CARVE_VAR_DIR=var2 carve stack up --base-port 18000"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # the file stays: removing it could let two stacks lock two files
            self._file = None


def taken(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (binding the way a server does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_ports(ports: dict[str, int]) -> None:
    """Raise InUse naming every port of `ports` ({what: port}) that is taken."""
    busy = [f"{port} ({what})" for what, port in ports.items() if taken(port)]
    if busy:
        raise InUse(
            f"port {', '.join(busy)} {'is' if len(busy) == 1 else 'are'} already taken: "
            "is another stack running? Stop it, or move this one: "
            "carve stack up --base-port 18000 (make run BASE_PORT=18000)"
        )
