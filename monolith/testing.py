"""Helpers for tests that need several threads hitting the database at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def run_concurrently(calls: list[Callable[[], T]]) -> list[T]:
    """Start every call on its own thread at the same moment; return their results.

    Each thread has its own database connection, closed when it ends, so the database
    (not Python) decides who waits for whom. Calls that raised are raised together as an
    ExceptionGroup once all threads are done.
    """
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("did not run")] * len(calls)

    def worker(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise BaseExceptionGroup("concurrent calls failed", errors)
    return results  # type: ignore[return-value]  # no BaseException left
