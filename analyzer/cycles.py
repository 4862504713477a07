"""Dependency cycles between apps or contexts, and the lightest edges that break them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from analyzer.graph import Edge, ModuleGraph


def find_cycles(
    graph: ModuleGraph, group_of: Mapping[str, str], level: str
) -> list[dict[str, Any]]:
    """Strongly connected components of the group graph, each with its suggested cuts.

    Cuts are chosen greedily: while the component still has a cycle, cut the lightest edge
    on it (ties by name). Each cut lists the module edges behind it, with their sites.
    """
    d = nx.DiGraph()
    behind: dict[tuple[str, str], list[Edge]] = {}
    for edge in sorted(graph.edges.values(), key=lambda e: (e.source, e.target, e.kind)):
        a, b = group_of.get(edge.source), group_of.get(edge.target)
        if a is None or b is None or a == b:
            continue
        previous = d.get_edge_data(a, b, {}).get("weight", 0.0)
        d.add_edge(a, b, weight=previous + edge.weight)
        behind.setdefault((a, b), []).append(edge)
    cycles = []
    components = [sorted(c) for c in nx.strongly_connected_components(d) if len(c) > 1]
    for members in sorted(components):
        h = d.subgraph(members).copy()
        cuts = []
        while True:
            try:
                cycle = nx.find_cycle(h)
            except nx.NetworkXNoCycle:
                break
            u, v = min(cycle, key=lambda uv: (h[uv[0]][uv[1]]["weight"], uv))[:2]
            cuts.append(
                {
                    "source": u,
                    "target": v,
                    "weight": round(h[u][v]["weight"], 3),
                    "edges": [edge_summary(e) for e in behind[(u, v)]],
                }
            )
            h.remove_edge(u, v)
        cycles.append({"level": level, "members": members, "cuts": cuts})
    return cycles


def edge_summary(edge: Edge) -> dict[str, Any]:
    return {
        "source": edge.source,
        "target": edge.target,
        "kind": edge.kind.value,
        "weight": round(edge.weight, 3),
        "sites": [{"file": s.file, "line": s.line} for s in edge.sites],
    }
