"""A small undirected or directed weighted graph in plain Python.

The analyzer's algorithms build one of these, which is cheap, and make a networkx graph
from it only when they must run an algorithm (see `Memo`). Edges keep the order and the
direction in which they were first added, so the networkx graph, and with it what
networkx's seeded algorithms return, is the same as if it had been built directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx


class WeightedGraph:
    def __init__(self, nodes: Iterable[str] = (), *, directed: bool = False) -> None:
        self.directed = directed
        self.nodes: dict[str, None] = dict.fromkeys(nodes)
        self._edges: dict[tuple[str, str], float] = {}  # first-added direction
        self._tied: set[str] = set()  # nodes with at least one edge (self-loops count)

    def _key(self, u: str, v: str) -> tuple[str, str]:
        if self.directed or (u, v) in self._edges:
            return (u, v)
        return (v, u) if (v, u) in self._edges else (u, v)

    def add(self, u: str, v: str, weight: float) -> None:
        """Add `weight` to the edge u-v (created when new)."""
        # The reports add every module edge to one of these, several times: this is `_key`
        # and the node bookkeeping inlined, the latter for new edges only.
        edges = self._edges
        key = (u, v)
        if key not in edges:
            if not self.directed and (v, u) in edges:
                key = (v, u)
            else:
                self.nodes.setdefault(u)
                self.nodes.setdefault(v)
                self._tied.add(u)
                self._tied.add(v)
                edges[key] = 0.0 + weight
                return
        edges[key] += weight

    def weight(self, u: str, v: str) -> float:
        return self._edges.get(self._key(u, v), 0.0)

    def edges(self) -> Iterable[tuple[str, str, float]]:
        return ((u, v, w) for (u, v), w in self._edges.items())

    def has_edges(self, node: str) -> bool:
        return node in self._tied

    def total_weight(self) -> float:
        return sum(self._edges.values())

    def material(self) -> list[Any]:
        """Everything an algorithm's result depends on, as JSON, for the memo key."""
        return [self.directed, list(self.nodes), [[u, v, w] for u, v, w in self.edges()]]

    def to_networkx(self) -> nx.Graph:
        import networkx as nx

        g = nx.DiGraph() if self.directed else nx.Graph()
        g.add_nodes_from(self.nodes)
        for u, v, w in self.edges():
            g.add_edge(u, v, weight=w)
        return g
