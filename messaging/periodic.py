"""Jobs that run beside the relay, every CARVE_PERIODIC_SECONDS: the ownership watcher,
and whatever a service adds (the monolith's saga timeouts).

CARVE_PERIODIC_JOBS lists them as "module:function"; a job that fails is logged and run
again next time, so one broken job never stops the relay or the others.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger("carve.periodic")


def jobs() -> list[tuple[str, Callable[[], None]]]:
    found = []
    for spec in getattr(settings, "CARVE_PERIODIC_JOBS", []):
        module, _, name = spec.partition(":")
        found.append((spec, getattr(importlib.import_module(module), name)))
    return found


def run_jobs(stop: threading.Event) -> None:
    """Run every job, over and over, until `stop` is set (a thread of the relay process)."""
    every = float(getattr(settings, "CARVE_PERIODIC_SECONDS", 0.25))
    scheduled = jobs()
    failing: set[str] = set()
    while not stop.is_set():
        for spec, job in scheduled:
            try:
                job()
                failing.discard(spec)
            except Exception:
                if spec not in failing:
                    log.exception("periodic job %s failed; retrying every %.2fs", spec, every)
                failing.add(spec)
                close_old_connections()
        stop.wait(every)


def start(stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run_jobs, args=(stop,), name="carve-periodic", daemon=True)
    thread.start()
    return thread
