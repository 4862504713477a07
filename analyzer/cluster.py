"""Suggesting contexts: clustering the weighted graph of domain modules, honouring pins.

The graph's nodes are apps (`--granularity app`) or modules; a pinned module or package that
is narrower than its app becomes a node of its own, so a pin can move part of an app (a
what-if move). Nodes pinned to the same context are contracted into one before clustering;
should the clustering put two pinned contexts in one community, its other nodes join the pin
they are most strongly tied to. Louvain runs with a fixed seed (the same input gives the same
contexts); with `--contexts N`, Clauset-Newman-Moore greedy modularity stops at N communities.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from analyzer.cache import Memo
from analyzer.graph import ModuleGraph
from analyzer.layout import Role
from analyzer.options import CLUSTER_SEED
from analyzer.weighted import WeightedGraph

_PIN = "\0pin:"


@dataclass(frozen=True)
class Suggestion:
    context_of: dict[str, str]  # module -> context, for every module that takes part
    pinned: frozenset[str]  # contexts named by a pin


def _pin_for(module: str, pins: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    best = None
    for prefix, context in pins:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, context)
    return best


def clustered_modules(graph: ModuleGraph, pins: Iterable[tuple[str, str]]) -> list[str]:
    """Domain modules, and any module a pin puts into a context whatever its role."""
    pins = list(pins)
    return [
        module
        for module in sorted(graph.files)
        if graph.layout.app_of(module).role == Role.DOMAIN or _pin_for(module, pins)
    ]


def node_of(
    module: str, graph: ModuleGraph, granularity: str, pins: Iterable[tuple[str, str]]
) -> str:
    if granularity == "module":
        return module
    app = graph.layout.app_of(module)
    pin = _pin_for(module, pins)
    if pin is not None and pin[0].startswith(app.package + "."):
        return pin[0]
    return app.name


def node_graph(graph: ModuleGraph, node: Mapping[str, str]) -> WeightedGraph:
    """Undirected weighted graph of nodes; ties inside a node are self-loops."""
    g = WeightedGraph(sorted(set(node.values())))
    for edge in graph.sorted_edges:
        u, v = node.get(edge.source), node.get(edge.target)
        if u is not None and v is not None:
            g.add(u, v, edge.weight)
    return g


def _communities(g: WeightedGraph, contexts: int | None, memo: Memo) -> list[set[str]]:
    if g.total_weight() == 0:
        return [{n} for n in g.nodes]

    def compute() -> list[list[str]]:
        import networkx as nx

        h = g.to_networkx()
        if contexts is None:
            found = nx.community.louvain_communities(h, weight="weight", seed=CLUSTER_SEED)
        else:
            n = min(contexts, h.number_of_nodes())
            found = nx.community.greedy_modularity_communities(
                h, weight="weight", cutoff=n, best_n=n
            )
        return [sorted(c) for c in found]

    found = memo.get("communities", [contexts, CLUSTER_SEED, g.material()], compute)
    return [set(c) for c in found]


def _split_pins(g: WeightedGraph, community: set[str]) -> list[set[str]]:
    """A community holding several pinned contexts: each other node joins its closest pin."""
    pins = sorted(n for n in community if n.startswith(_PIN))
    if len(pins) < 2:
        return [community]
    groups = {pin: {pin} for pin in pins}
    for node in sorted(community - set(pins)):
        ties = {pin: g.weight(node, pin) for pin in pins}
        groups[max(pins, key=lambda pin: (ties[pin], -pins.index(pin)))].add(node)
    return list(groups.values())


def _with_named_apps(
    graph: ModuleGraph, pins: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """A pin naming a context after a domain app (`x=payments`) brings that app along, unless
    the app is pinned itself: "put x with payments" means with the payments app."""
    extra = []
    for context in sorted({context for _, context in pins}):
        app = graph.layout.apps.get(context)
        if app is None or app.role != Role.DOMAIN:
            continue
        if _pin_for(app.package, pins) is None:
            extra.append((app.package, context))
    return pins + tuple(extra)


def suggest(
    graph: ModuleGraph,
    *,
    granularity: str,
    contexts: int | None,
    pins: tuple[tuple[str, str], ...],
    memo: Memo | None = None,
) -> Suggestion:
    """Cluster the domain modules into named contexts (the clustering itself from `memo` when
    it ran on this very graph before)."""
    pins = _with_named_apps(graph, pins)
    modules = clustered_modules(graph, pins)
    node = {module: node_of(module, graph, granularity, pins) for module in modules}
    pinned_nodes: dict[str, str] = {}
    for module, n in node.items():
        pin = _pin_for(module, pins)
        if pin is not None:
            pinned_nodes[n] = pin[1]
    contracted = {m: (_PIN + pinned_nodes[n] if n in pinned_nodes else n) for m, n in node.items()}
    g = node_graph(graph, contracted)
    found = _communities(g, contexts, memo or Memo(None))
    communities = [part for c in found for part in _split_pins(g, c)]
    if granularity == "module":
        communities = _absorb_isolated(g, communities, graph)
    members: dict[str, list[str]] = {}
    for module, n in contracted.items():
        members.setdefault(n, []).append(module)
    named = _name(graph, [[m for n in c for m in members[n]] for c in communities], communities)
    context_of = {m: name for name, group in named.items() for m in group}
    pinned = frozenset(n[len(_PIN) :] for c in communities for n in c if n.startswith(_PIN))
    return Suggestion(context_of, pinned)


def _absorb_isolated(
    g: WeightedGraph, communities: list[set[str]], graph: ModuleGraph
) -> list[set[str]]:
    """At module granularity a module with no ties at all would be a context of its own; it
    joins the context holding most of its app's modules instead."""

    def untied(community: set[str]) -> bool:
        return all(not g.has_edges(n) and not n.startswith(_PIN) for n in community)

    kept = [c for c in communities if not untied(c)]
    if not kept:
        return communities
    for community in communities:
        if not untied(community):
            continue
        for module in community:
            app = graph.app_of(module)
            home = max(
                kept,
                key=lambda k: sum(
                    1 for m in k if not m.startswith(_PIN) and graph.app_of(m) == app
                ),
            )
            home.add(module)
    return kept


def _name(
    graph: ModuleGraph, groups: list[list[str]], communities: list[set[str]]
) -> dict[str, list[str]]:
    """Each context after its dominant app (most lines), or its pin; names made unique."""
    named: dict[str, list[str]] = {}
    order = sorted(
        range(len(groups)), key=lambda i: (-sum(graph.lines[m] for m in groups[i]), min(groups[i]))
    )
    for i in order:
        pins = [n[len(_PIN) :] for n in communities[i] if n.startswith(_PIN)]
        if pins:
            base = pins[0]
        else:
            lines: Counter[str] = Counter()
            for module in groups[i]:
                lines[graph.app_of(module)] += graph.lines[module]
            base = min(lines, key=lambda app: (-lines[app], app))
        name, suffix = base, 2
        while name in named:
            name, suffix = f"{base}-{suffix}", suffix + 1
        named[name] = sorted(groups[i])
    return dict(sorted(named.items()))
