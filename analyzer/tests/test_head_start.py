"""The graph built while files are still parsed (graph.HeadStart) is the graph built after,
whichever file is pending; an edit that changes the layout or the classes is no exception."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analyzer.analysis import analyze
from analyzer.discovery import SourceFile, discover
from analyzer.extract import extract_facts
from analyzer.facts import FileFacts
from analyzer.graph import HeadStart, ModuleGraph, build_graph
from analyzer.layout import find_layout, shapes_layout
from analyzer.options import AnalyzeOptions
from analyzer.tests.shop import SHOP
from analyzer.tests.test_real_trees import MONOLITH

API = ("public",)


def _tree(root: Path) -> tuple[dict[str, SourceFile], dict[str, FileFacts]]:
    files, _ = discover(root)
    facts = {}
    for f in files:
        try:
            facts[f.module] = extract_facts(f.path.read_bytes())
        except Exception:  # a file that does not parse has no facts, as in a run
            facts[f.module] = FileFacts()
    return {f.module: f for f in files}, facts


def _edges(graph: ModuleGraph) -> list[tuple[Any, ...]]:
    return [(key, edge.sites, edge.weight) for key, edge in graph.edges.items()]


@pytest.mark.parametrize("tree", ["shop", "monolith"])
def test_the_head_start_gives_the_same_graph_whichever_file_is_pending(
    tree: str, write_tree: Callable[[dict[str, str]], Path]
) -> None:
    files, facts = _tree(write_tree(SHOP) if tree == "shop" else MONOLITH)
    lines = dict.fromkeys(files, 1)
    layout = find_layout(files, facts)
    expected = _edges(build_graph(files, facts, lines, layout, API))
    held = deferred = 0
    for module in files:
        known = {m: f for m, f in facts.items() if m != module}
        head = HeadStart.build(files, known, frozenset({module}), API)
        if not head.holds(facts):
            assert shapes_layout(facts[module])
            continue
        held += 1
        deferred += len(known) - len(head.edges)
        assert head.layout == layout
        assert _edges(build_graph(files, facts, lines, head.layout, API, head.edges)) == expected
    assert held > len(files) / 2
    assert deferred  # modules naming models by label waited for every file's classes


def _without_stats(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "stats"}


EDITS = {
    # a model renamed: relations elsewhere ("catalog.Product") no longer find it
    "class": ("shop/catalog/models.py", "class Product(", "class Item("),
    # an app label changed: the layout itself changes
    "layout": ("shop/orders/apps.py", 'label = "orders"', 'label = "sales"'),
    # a new import: the common edit
    "import": ("shop/accounts/services.py", "\n", "\nfrom shop.catalog.public import price_get\n"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_run_after_an_edit_matches_a_fresh_run(
    edit: str, write_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = write_tree(SHOP)
    analyze(AnalyzeOptions(path=shop, jobs=2))
    relative, old, new = EDITS[edit]
    path = shop / relative
    path.write_text(path.read_text().replace(old, new, 1))
    held: list[bool] = []
    holds = HeadStart.holds

    def spy(self: HeadStart, facts: dict[str, FileFacts]) -> bool:
        held.append(holds(self, facts))
        return held[-1]

    monkeypatch.setattr(HeadStart, "holds", spy)
    edited = analyze(AnalyzeOptions(path=shop, jobs=2))
    assert edited["stats"]["parsed"] == 1
    assert held == [edit != "layout"]  # the head start was built, and used unless stale
    assert _without_stats(edited) == _without_stats(
        analyze(AnalyzeOptions(path=shop, jobs=2, use_cache=False))
    )
