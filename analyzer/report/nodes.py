"""The graph as drawn: nodes at the run's granularity, edges summed between them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OUTSIDE = "outside"


@dataclass
class Node:
    id: str
    group: str  # context name, or OUTSIDE
    lines: int = 0
    modules: list[str] = field(default_factory=list)


@dataclass
class Link:
    source: str
    target: str
    weight: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)


def graph_view(doc: Mapping[str, Any]) -> tuple[list[Node], list[Link]]:
    """Nodes (apps or modules, as the run's granularity) and the weighted links between them."""
    by_app = doc["granularity"] == "app"
    votes: dict[str, Counter[str | None]] = defaultdict(Counter)
    for module in doc["modules"]:
        votes[module["app"]][module["context"]] += 1
    home = {app: max(sorted(c, key=str), key=lambda k: c[k]) for app, c in votes.items()}
    node_of: dict[str, str] = {}
    nodes: dict[str, Node] = {}
    for module in doc["modules"]:
        group = module["context"] or OUTSIDE
        key = module["app"] if by_app else module["name"]
        if by_app and module["context"] != home[module["app"]]:
            key = module["name"]  # a module a pin moved out of its app
        node = nodes.setdefault(key, Node(key, group))
        node.lines += module["lines"]
        node.modules.append(module["name"])
        node_of[module["name"]] = key
    links: dict[tuple[str, str], Link] = {}
    for edge in doc["edges"]:
        a, b = node_of.get(edge["source"]), node_of.get(edge["target"])
        if a is None or b is None or a == b:
            continue
        link = links.setdefault((a, b), Link(a, b, kinds=defaultdict(int)))
        link.weight += edge["weight"]
        link.kinds[edge["kind"]] += len(edge["sites"])
    for link in links.values():
        link.weight = round(link.weight, 3)
        link.kinds = dict(link.kinds)
    return sorted(nodes.values(), key=lambda n: (n.group, n.id)), sorted(
        links.values(), key=lambda link: (link.source, link.target)
    )
