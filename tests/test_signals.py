"""Long-running commands stop on SIGTERM even when signals come in a burst (make and a
process group both forward one; an operator presses Ctrl-C twice)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

WAITER = """
import signal
from servicekit.signals import stop_on_signals
stop = stop_on_signals()
print("ready", flush=True)
stops = 0
while stops < 100:  # the main thread spends its life inside the Event's lock
    if stop.wait(0.0005):
        stops += 1
        stop.clear()
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the test keeps signalling until we exit
print("stopped", flush=True)
"""


def test_a_burst_of_signals_stops_the_command_instead_of_deadlocking_it() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WAITER], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 30
        try:
            while process.poll() is None:
                assert time.monotonic() < deadline, "deadlocked in its signal handler"
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0 and process.stdout.read() == "stopped\n"
