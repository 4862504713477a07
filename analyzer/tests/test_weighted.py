"""WeightedGraph builds the same networkx graph, edge order included, as adding the summed
edges to networkx directly did; seeded Louvain depends on that order."""

from __future__ import annotations

import networkx as nx

from analyzer.weighted import WeightedGraph

ADDED = [("b", "a", 1.0), ("a", "c", 0.5), ("a", "b", 2.0), ("c", "c", 1.0), ("d", "a", 0.25)]


def _direct(graph: nx.Graph) -> nx.Graph:
    for u, v, w in ADDED:
        previous = graph.get_edge_data(u, v, {}).get("weight", 0.0)
        graph.add_edge(u, v, weight=previous + w)
    return graph


def test_undirected_edges_sum_both_ways_in_first_added_order() -> None:
    g = WeightedGraph(["a", "b", "c", "d", "e"])
    for u, v, w in ADDED:
        g.add(u, v, w)
    direct = nx.Graph()
    direct.add_nodes_from(["a", "b", "c", "d", "e"])
    _direct(direct)
    built = g.to_networkx()
    assert list(built.nodes) == list(direct.nodes)
    assert list(built.edges(data=True)) == list(direct.edges(data=True))
    assert g.weight("a", "b") == g.weight("b", "a") == 3.0
    assert g.has_edges("c") and not g.has_edges("e") and g.total_weight() == 4.75


def test_directed_edges_keep_their_direction() -> None:
    g = WeightedGraph(directed=True)
    for u, v, w in ADDED:
        g.add(u, v, w)
    built = g.to_networkx()
    assert list(built.edges(data=True)) == list(_direct(nx.DiGraph()).edges(data=True))
    assert g.weight("a", "b") == 2.0 and g.weight("b", "a") == 1.0
