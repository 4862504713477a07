"""Dependency cycles between apps or contexts, and the lightest edges that break them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyzer.cache import Memo
from analyzer.graph import Edge, ModuleGraph
from analyzer.weighted import WeightedGraph


def find_cycles(
    graph: ModuleGraph, group_of: Mapping[str, str], level: str, memo: Memo | None = None
) -> list[dict[str, Any]]:
    """Strongly connected components of the group graph, each with its suggested cuts.

    Cuts are chosen greedily: while the component still has a cycle, cut the lightest edge
    on it (ties by name). Each cut lists the module edges behind it, with their sites.
    """
    d = WeightedGraph(directed=True)
    behind: dict[tuple[str, str], list[Edge]] = {}
    for edge in graph.sorted_edges:
        a, b = group_of.get(edge.source), group_of.get(edge.target)
        if a is None or b is None or a == b:
            continue
        d.add(a, b, edge.weight)
        behind.setdefault((a, b), []).append(edge)
    found = (memo or Memo(None)).get("cycle-cuts", d.material(), lambda: _cycle_cuts(d))
    return [
        {
            "level": level,
            "members": members,
            "cuts": [
                {
                    "source": u,
                    "target": v,
                    "weight": round(d.weight(u, v), 3),
                    "edges": [e.summary() for e in behind[(u, v)]],
                }
                for u, v in cuts
            ],
        }
        for members, cuts in found
    ]


def _cycle_cuts(d: WeightedGraph) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """(members, cuts) of each strongly connected component, in the order of its members."""
    import networkx as nx

    g = d.to_networkx()
    found = []
    components = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    for members in sorted(components):
        h = g.subgraph(members).copy()
        cuts = []
        while True:
            try:
                cycle = nx.find_cycle(h)
            except nx.NetworkXNoCycle:
                break
            u, v = min(cycle, key=lambda uv: (h[uv[0]][uv[1]]["weight"], uv))[:2]
            cuts.append((u, v))
            h.remove_edge(u, v)
        found.append((members, cuts))
    return found
