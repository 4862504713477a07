"""Parsing many files: in a process pool when there is more than one worker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from analyzer.cache import FactsCache
from analyzer.options import ParseOptions

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

ERROR = "error"  # a cache entry holding why the file could not be parsed


@dataclass(frozen=True, slots=True)
class ParseJob:
    module: str
    source: bytes
    key: str


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, count: int) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


def _pool(jobs: int) -> Executor:
    # imported here: a run answered from the result cache needs no pool
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    if sys.platform == "linux" and threading.active_count() == 1:
        # fork: workers start at once and inherit the loaded analyzer. Only while this
        # process has no other thread (a library caller may have some): forking then is safe.
        return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))


def _chunks(jobs: list[ParseJob], workers: int) -> list[list[ParseJob]]:
    """Balanced batches: largest files dealt round-robin, several batches per worker."""
    count = max(1, min(len(jobs), workers * 8))
    batches: list[list[ParseJob]] = [[] for _ in range(count)]
    for i, job in enumerate(sorted(jobs, key=lambda j: -len(j.source))):
        batches[i % count].append(job)
    return batches


def _run_batch(
    jobs: list[ParseJob], parse: ParseOptions, cache: FactsCache
) -> list[tuple[str, dict | str]]:
    """In a worker: parse a batch (libcst is imported there, never in the main process)."""
    from analyzer.extract import run_jobs

    return run_jobs(jobs, parse, cache)


class Parser:
    """Parses files, in a process pool when there are workers to spare.

    The jobs are submitted as soon as the parser is made, so the caller can load cached
    facts (and import the clustering libraries) while the workers import libcst and parse.
    """

    def __init__(
        self, jobs: list[ParseJob], parse: ParseOptions, cache: FactsCache, workers: int
    ) -> None:
        self._jobs, self._parse, self._cache = jobs, parse, cache
        self._pool: Executor | None = None
        self._futures: list[Future[list[tuple[str, dict | str]]]] = []
        if workers > 1 and jobs:
            self._pool = _pool(min(workers, len(jobs)))
            self._futures = [
                self._pool.submit(_run_batch, batch, parse, cache)
                for batch in _chunks(jobs, workers)
            ]

    def results(self, progress: Progress) -> Iterator[tuple[str, dict | str]]:
        if self._pool is None:
            if self._jobs:
                from analyzer.extract import run_job

                for job in self._jobs:
                    yield run_job(job, self._parse, self._cache)
                    progress.advance(1)
            return
        from concurrent.futures import as_completed

        try:
            for future in as_completed(self._futures):
                batch = future.result()
                progress.advance(len(batch))
                yield from batch
        finally:
            self._pool.shutdown(cancel_futures=True)
