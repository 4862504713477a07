"""Parsing many files in worker processes that are started before the work is known.

A run only learns which files need parsing after listing and hashing them all, and a worker
then spends most of a small job importing libcst (about 0.15 s). So `Parser` starts its
first worker as the run begins; it imports libcst while the main process lists, hashes and
loads cached facts. A run answered from the result cache stops it unused. More workers start
when there are enough files for them.

Work is dealt in batches, one per worker at a time, as workers become free. A worker that dies
(a crash in the native parser, the OOM killer) does not end the run: its batch is tried again
one file at a time in a new worker, and a file that kills a worker on its own is reported as
skipped.
"""

from __future__ import annotations

import gc
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from analyzer.cache import FactsCache, cache_root
from analyzer.options import AnalyzeOptions, AnalyzerError, ParseOptions

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

ERROR = "error"  # a cache entry holding why the file could not be parsed
READY = "ready"  # a worker's first message: libcst is imported


@dataclass(frozen=True, slots=True)
class ParseJob:
    module: str
    source: bytes
    key: str


Outcome = tuple[str, dict | str]  # module, and its facts as cached or why it was skipped


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, count: int) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


def _context() -> BaseContext:
    # imported here: a run answered from the result cache needs only the first worker
    import multiprocessing
    import threading

    if sys.platform == "linux" and threading.active_count() == 1:
        # fork: workers start at once and inherit the loaded analyzer. Only while this
        # process has no other thread (a library caller may have some): forking then is safe.
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _serve(conn: Connection, parse: ParseOptions, cache: FactsCache) -> None:
    """A worker: import libcst, say so, then parse each batch it is sent until told to stop."""
    try:
        # What the fork and the import make lives as long as the worker: the collector need
        # not walk it, neither during the import nor after (the first collection after a
        # batch walked all of libcst: 7 ms of every run after an edit).
        gc.disable()
        from analyzer.extract import run_jobs

        gc.freeze()
        gc.enable()
        conn.send(READY)
        while (batch := conn.recv()) is not None:
            conn.send(run_jobs(batch, parse, cache))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass  # the run ended (or was interrupted) without us


def _chunks(jobs: list[ParseJob], workers: int) -> list[list[ParseJob]]:
    """Balanced batches: largest files dealt round-robin, several batches per worker."""
    count = max(1, min(len(jobs), workers * 8))
    batches: list[list[ParseJob]] = [[] for _ in range(count)]
    for i, job in enumerate(sorted(jobs, key=lambda j: -len(j.source))):
        batches[i % count].append(job)
    return batches


class _Worker:
    def __init__(self, context: BaseContext, parse: ParseOptions, cache: FactsCache) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, parse, cache), daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self.batch: list[ParseJob] | None = None  # what it is parsing now

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


class Parser:
    """Parses files: in worker processes when `workers` > 1, else in this process.

    `early` workers start at once (see the module's docstring); `parse(jobs)` deals the jobs,
    starting more workers up to `workers`; `results()` yields each file's outcome; `close()`
    stops the workers, whether or not they were used.
    """

    def __init__(
        self, parse: ParseOptions, cache: FactsCache, workers: int, early: int = 1
    ) -> None:
        self._parse, self._cache, self._workers_wanted = parse, cache, workers
        self._context: BaseContext | None = None
        self._workers: list[_Worker] = []
        self._queue: deque[list[ParseJob]] = deque()
        self._local: list[ParseJob] = []  # parsed in this process (one worker asked for)
        self._alone: set[str] = set()  # modules retried alone after their batch killed a worker
        if workers > 1:
            self._context = _context()
            for _ in range(min(early, workers)):
                self._start()

    def _start(self) -> None:
        assert self._context is not None
        self._workers.append(_Worker(self._context, self._parse, self._cache))

    def parse(self, jobs: list[ParseJob]) -> None:
        """Queue `jobs` and hand batches to the workers that are ready (never waits)."""
        if not jobs:
            return
        if self._context is None:
            self._local.extend(jobs)
            return
        batches = _chunks(jobs, self._workers_wanted)
        self._queue.extend(batches)
        while len(self._workers) < min(self._workers_wanted, len(self._queue)):
            self._start()
        self._deal()

    def _deal(self) -> None:
        for worker in self._workers:
            if worker.ready and worker.batch is None and self._queue:
                worker.batch = self._queue.popleft()
                try:
                    worker.conn.send(worker.batch)
                except OSError:
                    pass  # it died since it said it was ready: results() finds it lost

    def poll(self) -> None:
        """Hand batches to workers that have become ready, without waiting.

        A worker is only seen ready when this process reads its first message, here or in
        `results()`; a caller busy with something else while workers start calls this now
        and then, or a worker ready for its batch would sit idle until `results()`."""
        for worker in self._workers:
            if not worker.ready and worker.conn.poll():
                try:
                    worker.ready = worker.conn.recv() == READY
                except (EOFError, OSError):
                    continue  # it died: results() finds it lost
        self._deal()

    @property
    def busy(self) -> bool:
        """Whether workers have files to parse (this process is then free until they finish)."""
        return bool(self._queue) or any(w.batch is not None for w in self._workers)

    def results(self, progress: Progress) -> Iterator[Outcome]:
        """Every queued file's outcome, as workers finish their batches."""
        if self._local:
            from analyzer.extract import run_job

            jobs, self._local = self._local, []
            for job in jobs:
                yield run_job(job, self._parse, self._cache)
                progress.advance(1)
        from multiprocessing.connection import wait

        while self.busy:
            waiting: dict[Any, _Worker] = {}
            for worker in self._workers:
                waiting[worker.conn] = waiting[worker.process.sentinel] = worker
            for ready in wait(list(waiting)):
                worker = waiting[ready]
                if worker not in self._workers:
                    continue  # both its pipe and its sentinel were ready: handled
                try:
                    message = worker.conn.recv() if ready is worker.conn else None
                except (EOFError, OSError):
                    message = None
                if message is None:
                    yield from self._lost(worker, progress)
                elif message == READY:
                    worker.ready = True
                else:
                    worker.batch = None
                    progress.advance(len(message))
                    yield from message
                self._deal()

    def _lost(self, worker: _Worker, progress: Progress) -> Iterator[Outcome]:
        """A worker died: retry its batch a file at a time; a file that kills one alone is
        reported as skipped."""
        self._workers.remove(worker)
        worker.process.join(5)
        code = worker.process.exitcode
        worker.stop()
        if not worker.ready:  # it could not even import the parser: no retry will help
            raise AnalyzerError(f"a parse worker failed to start (exit code {code})")
        batch = worker.batch or []
        if len(batch) == 1 and batch[0].module in self._alone:
            progress.advance(1)
            yield batch[0].module, f"the parser crashed on this file (exit code {code})"
        else:
            self._alone.update(job.module for job in batch)
            self._queue.extendleft([job] for job in reversed(batch))
        if self._queue and len(self._workers) < self._workers_wanted:
            self._start()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()


def start_parser(options: AnalyzeOptions) -> Parser:
    """The parser of a run of `options`, its first workers started now.

    Without a cache, or with an empty one, every file is parsed: all workers start at once.
    Otherwise the first starts now and imports libcst while the run does the rest (see the
    module's docstring). The CLI calls this as soon as it has the options, before it imports
    the analysis itself: the worker's import then overlaps that too, and it is forked from a
    small process (pages this one writes later are only copied if they were shared)."""
    cache = FactsCache(cache_root() if options.use_cache else None)
    early = 1 if cache.exists() else options.jobs
    return Parser(options.parse, cache, options.jobs, early=early)
