"""The caches: a second run reuses facts, a changed file is parsed again, damage is harmless."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analyzer.analysis import analyze
from analyzer.cache import FORMAT_VERSION, SUFFIX, cache_root
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
    entries = sorted((cache_root() / f"v{FORMAT_VERSION}" / "facts").rglob(f"*{SUFFIX}"))
    assert entries
    entries[0].write_bytes(b"\xff damaged")
    for result in (cache_root() / f"v{FORMAT_VERSION}" / "results").rglob(f"*{SUFFIX}"):
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


def _without_stats(doc: dict) -> dict:
    return {key: value for key, value in doc.items() if key != "stats"}


def test_an_edit_that_keeps_the_graph_reuses_the_memo_and_matches_a_fresh_run(
    write_tree: Callable[[dict[str, str]], Path],
) -> None:
    shop = write_tree(SHOP)
    cold = analyze(AnalyzeOptions(path=shop))
    memo = cache_root() / f"v{FORMAT_VERSION}" / "memo"
    computed = sorted(memo.rglob(f"*{SUFFIX}"))
    assert computed  # clustering, cycle cuts and modularity were stored

    services = shop / "shop/accounts/services.py"
    services.write_text("# moved down a line\n" + services.read_text())
    edited = analyze(AnalyzeOptions(path=shop))
    assert edited["stats"]["parsed"] == 1
    assert sorted(memo.rglob(f"*{SUFFIX}")) == computed  # nothing had to be computed again
    assert _without_stats(edited) == _without_stats(
        analyze(AnalyzeOptions(path=shop, use_cache=False))
    )

    def lines(doc: dict) -> list[int]:
        return [
            site["line"]
            for edge in doc["edges"]
            for site in edge["sites"]
            if site["file"].endswith("accounts/services.py")
        ]

    assert lines(edited) == [line + 1 for line in lines(cold)] and lines(cold)


def test_an_edit_that_changes_the_graph_clusters_again_and_matches_a_fresh_run(
    write_tree: Callable[[dict[str, str]], Path],
) -> None:
    shop = write_tree(SHOP)
    analyze(AnalyzeOptions(path=shop))
    memo = cache_root() / f"v{FORMAT_VERSION}" / "memo"
    computed = set(memo.rglob(f"*{SUFFIX}"))
    services = shop / "shop/accounts/services.py"
    services.write_text(services.read_text() + "\nfrom shop.catalog.public import price_get\n")
    edited = analyze(AnalyzeOptions(path=shop))
    assert set(memo.rglob(f"*{SUFFIX}")) > computed
    assert _without_stats(edited) == _without_stats(
        analyze(AnalyzeOptions(path=shop, use_cache=False))
    )
