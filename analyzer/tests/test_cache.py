"""The caches: a second run reuses facts, a changed file is parsed again, damage is harmless."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analyzer.analysis import analyze
from analyzer.cache import FORMAT_VERSION, cache_root
from analyzer.options import AnalyzeOptions
from analyzer.tests.shop import SHOP


def test_warm_run_reuses_results_and_changed_file_is_reparsed(
    write_tree: Callable[[dict[str, str]], Path],
) -> None:
    shop = write_tree(SHOP)
    cold = analyze(AnalyzeOptions(path=shop))
    assert cold["stats"]["parsed"] == len(cold["modules"])
    warm = analyze(AnalyzeOptions(path=shop))
    assert warm["stats"]["result_cached"] and warm["contexts"] == cold["contexts"]

    services = shop / "shop/accounts/services.py"
    services.write_text(services.read_text() + "\nfrom shop.catalog.public import price_get\n")
    changed = analyze(AnalyzeOptions(path=shop))
    assert changed["stats"]["parsed"] == 1 and not changed["stats"]["result_cached"]
    assert any(
        e["source"] == "shop.accounts.services" and e["target"] == "shop.catalog.public"
        for e in changed["edges"]
    )


def test_no_cache_writes_nothing(write_tree: Callable[[dict[str, str]], Path]) -> None:
    shop = write_tree(SHOP)
    analyze(AnalyzeOptions(path=shop, use_cache=False))
    assert not (cache_root() / f"v{FORMAT_VERSION}").exists()


def test_damaged_or_deleted_cache_entries_are_parsed_again(
    write_tree: Callable[[dict[str, str]], Path],
) -> None:
    shop = write_tree(SHOP)
    first = analyze(AnalyzeOptions(path=shop))
    entries = sorted((cache_root() / f"v{FORMAT_VERSION}" / "facts").rglob("*.json"))
    assert entries
    entries[0].write_text("{not json")
    for result in (cache_root() / f"v{FORMAT_VERSION}" / "results").rglob("*.json"):
        result.unlink()
    again = analyze(AnalyzeOptions(path=shop))
    assert again["edges"] == first["edges"]
    assert again["stats"]["parsed"] == 1


def test_one_worker_and_many_agree(write_tree: Callable[[dict[str, str]], Path]) -> None:
    shop = write_tree(SHOP)
    serial = analyze(AnalyzeOptions(path=shop, jobs=1, use_cache=False))
    parallel = analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))
    for key in ("modules", "edges", "contexts", "metrics", "skipped"):
        assert serial[key] == parallel[key]


def test_parallel_parse_with_another_thread_running(
    write_tree: Callable[[dict[str, str]], Path],
) -> None:
    """A caller with threads of its own gets spawned workers rather than forked ones."""
    import threading

    shop = write_tree(SHOP)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        doc = analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))
    finally:
        stop.set()
        other.join()
    assert doc["stats"]["parsed"] == len(doc["modules"])
    assert {c["name"] for c in doc["contexts"]} == {"accounts", "catalog", "orders"}
