"""The parse workers: started early, stopped when unused, and a crash costs one file at most."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import analyzer.extract
import analyzer.pool
from analyzer.analysis import analyze
from analyzer.cache import FactsCache
from analyzer.options import AnalyzeOptions, AnalyzerError, ParseOptions
from analyzer.tests.shop import SHOP

CRASHES = "shop.accounts.services"


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers forked even if this process has threads (as in the real-services pass),
    so that they inherit the test's patches."""
    monkeypatch.setattr(analyzer.pool, "_context", lambda: multiprocessing.get_context("fork"))


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[analyzer.pool._Worker]:
    """Every parse worker started during the test."""
    started: list[analyzer.pool._Worker] = []
    real_init = analyzer.pool._Worker.__init__

    def init(self: analyzer.pool._Worker, *args: object) -> None:
        real_init(self, *args)  # type: ignore[arg-type]
        started.append(self)

    monkeypatch.setattr(analyzer.pool._Worker, "__init__", init)
    return started


def test_a_file_that_kills_its_worker_is_skipped_and_every_other_file_is_parsed(
    write_tree: Callable[[dict[str, str]], Path],
    monkeypatch: pytest.MonkeyPatch,
    workers: list[analyzer.pool._Worker],
    forked: None,
) -> None:
    shop = write_tree(SHOP)
    whole = analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))
    real_run_job = analyzer.extract.run_job

    def run_job(job: analyzer.pool.ParseJob, *args: object) -> object:
        if job.module == CRASHES:
            os._exit(70)  # as a segfault in the native parser would end the worker
        return real_run_job(job, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(analyzer.extract, "run_job", run_job)  # forked workers inherit it
    doc = analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))

    crashed = {
        "path": "shop/accounts/services.py",
        "reason": "the parser crashed on this file (exit code 70)",
    }
    assert crashed in doc["skipped"]
    assert [s for s in doc["skipped"] if s != crashed] == whole["skipped"]
    assert {m["name"] for m in doc["modules"]} == {m["name"] for m in whole["modules"]}
    others = [e for e in whole["edges"] if e["source"] != CRASHES]
    assert others and all(e in doc["edges"] for e in others)
    assert all(not w.process.is_alive() for w in workers)


def test_a_run_answered_from_the_cache_stops_its_early_worker(
    write_tree: Callable[[dict[str, str]], Path], workers: list[analyzer.pool._Worker]
) -> None:
    shop = write_tree(SHOP)
    analyze(AnalyzeOptions(path=shop, jobs=2))
    workers.clear()
    warm = analyze(AnalyzeOptions(path=shop, jobs=2))
    assert warm["stats"]["result_cached"]
    assert len(workers) == 1  # started before the cache could answer
    assert workers[0].process.exitcode is not None  # and stopped: nothing left running


def test_a_worker_that_cannot_start_is_a_clear_error(
    write_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch, forked: None
) -> None:
    shop = write_tree(SHOP)

    def broken(*args: object) -> None:
        os._exit(3)  # as when libcst cannot be imported

    monkeypatch.setattr(analyzer.pool, "_serve", broken)
    with pytest.raises(AnalyzerError, match=r"a parse worker failed to start \(exit code 3\)"):
        analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))


def test_poll_hands_out_work_as_soon_as_a_worker_is_ready() -> None:
    """A caller busy with other work calls poll() now and then: the worker parses meanwhile."""
    parser = analyzer.pool.Parser(ParseOptions(), FactsCache(None), workers=2, early=1)
    try:
        parser.parse([analyzer.pool.ParseJob("m", b"import os\n", "key")])
        (worker,) = parser._workers
        # until the worker's first message (READY) can be read, with a deadline
        assert multiprocessing.connection.wait([worker.conn], timeout=60), "never ready"
        parser.poll()  # never waits: reads READY and deals the batch
        assert not parser._queue  # dealt before results() was asked for
        outcomes = list(parser.results(analyzer.pool.NoProgress()))
    finally:
        parser.close()
    assert [module for module, _ in outcomes] == ["m"]
    assert isinstance(outcomes[0][1], dict) and outcomes[0][1]["r"][0][2] == "os"


def test_a_worker_that_dies_once_ready_costs_its_files_not_the_run(
    write_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch, forked: None
) -> None:
    shop = write_tree(SHOP)

    def ready_then_dead(conn: multiprocessing.connection.Connection, *args: object) -> None:
        conn.send(analyzer.pool.READY)
        conn.close()
        os._exit(9)

    monkeypatch.setattr(analyzer.pool, "_serve", ready_then_dead)
    doc = analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))
    assert doc["modules"] and doc["edges"] == []
    assert {s["reason"] for s in doc["skipped"]} == {
        "the parser crashed on this file (exit code 9)"
    }
