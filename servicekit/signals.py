"""Stopping a long-running command on SIGINT/SIGTERM without deadlocking on the signal.

Python runs a signal handler in the main thread between two bytecodes, even inside
`threading.Event.set()` or `Thread.start()`, which hold locks. A handler that itself sets an
Event (or starts a thread) deadlocks when a second signal lands while the first is being
handled: make and a process group both forwarding one SIGTERM is enough. Here the handler
does nothing; the C-level handler writes the signal's number to a wakeup pipe, and a
watcher thread that reads the pipe sets the Event like any other thread.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _noted(signum: int, frame: object) -> None:
    """Installed so the signal does not kill the process; the wakeup pipe carries it."""


def stop_on_signals(
    stop: threading.Event | None = None, signals: Iterable[signal.Signals] = STOP_SIGNALS
) -> threading.Event:
    """Set `stop` (a new Event when None) when one of `signals` arrives; return it. Call
    from the main thread, once per process (it takes the process's one wakeup fd)."""
    event = stop if stop is not None else threading.Event()
    wanted = {int(signum) for signum in signals}
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for signum in wanted:
        signal.signal(signum, _noted)

    def watch() -> None:
        while True:  # a daemon thread: it ends with the process
            if wanted.intersection(os.read(read_end, 64)):
                event.set()

    threading.Thread(target=watch, name="stop-on-signal", daemon=True).start()
    return event
