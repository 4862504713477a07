"""The partition metrics on a graph small enough to work out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.discovery import SourceFile
from analyzer.facts import Kind
from analyzer.graph import Edge, ModuleGraph, Site
from analyzer.layout import App, Layout
from analyzer.metrics import partition_metrics


def graph(edges: list[tuple[str, str, Kind, int]]) -> ModuleGraph:
    """Modules a1, a2 (app a) and b1 (app b); each edge weighs one per site."""
    modules = ["a1", "a2", "b1"]
    files = {m: SourceFile(Path(f"{m}.py"), f"{m}.py", m, is_package=False) for m in modules}
    apps = {
        "a": App("a", "a", django=True, modules=["a1", "a2"]),
        "b": App("b", "b", django=True, modules=["b1"]),
    }
    layout = Layout(apps, {"a1": "a", "a2": "a", "b1": "b"}, {"a": "a", "b": "b"}, None, {})
    built = {}
    for source, target, kind, sites in edges:
        built[(source, target, kind)] = Edge(
            source,
            target,
            kind,
            [Site(f"{source}.py", n + 1, f"f{n}") for n in range(sites)],
            float(sites),
        )
    return ModuleGraph(files, {m: 10 for m in modules}, layout, built)


def test_two_groups_by_hand() -> None:
    g = graph(
        [
            ("a1", "a2", Kind.IMPORT, 2),
            ("a1", "a2", Kind.CALL, 3),
            ("a2", "b1", Kind.CALL, 1),
        ]
    )
    metrics = partition_metrics(g, {"a1": "A", "a2": "A", "b1": "B"})
    # Q: m = 6; A holds 5 of it with degree 11, B degree 1: 5/6 - (11/12)^2 - (1/12)^2
    assert metrics["modularity"] == pytest.approx(5 / 6 - (11 / 12) ** 2 - (1 / 12) ** 2, abs=1e-4)
    # SM: cohesion (1/4 + 0/1)/2; coupling 1/(2*2*1) over one pair
    assert metrics["sm"] == pytest.approx((1 / 4) / 2 - 1 / 4, abs=1e-4)
    # ICP: 1 of 4 call sites crosses
    assert metrics["icp"] == pytest.approx(0.25)
    # IFN: B exposes one name (b1.f0), A none: (0 + 1) / 2
    assert metrics["ifn"] == pytest.approx(0.5)
    # NED: both groups are smaller than 5 modules, so every module is in an extreme group
    assert metrics["ned"] == pytest.approx(1.0)


def test_one_group_has_no_coupling_and_an_empty_graph_scores_zero() -> None:
    whole = partition_metrics(
        graph([("a1", "b1", Kind.IMPORT, 1)]), {"a1": "X", "a2": "X", "b1": "X"}
    )
    assert whole["icp"] == 0 and whole["ifn"] == 0
    assert whole["sm"] == pytest.approx(1 / 9, abs=1e-4)
    assert whole["modularity"] == pytest.approx(0.0)
    empty = partition_metrics(graph([]), {"a1": "A", "a2": "A", "b1": "B"})
    assert empty["modularity"] == 0 and empty["sm"] == 0
