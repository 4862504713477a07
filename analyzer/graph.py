"""The module graph: every resolved reference becomes a site on a weighted, typed edge."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from analyzer.discovery import SourceFile
from analyzer.facts import INSTANCE_DETAIL, FileFacts, Kind
from analyzer.layout import Layout, find_layout, shapes_layout
from analyzer.options import API_WEIGHT, KIND_WEIGHTS, is_api_module
from analyzer.resolve import ClassesUnknown, Resolver, Target


class Site(NamedTuple):  # (not a frozen dataclass: made per reference, see facts.py)
    file: str
    line: int
    symbol: str = ""
    detail: str = ""


@dataclass
class Edge:
    """All the sites of one kind from one module to another, and what they weigh."""

    source: str
    target: str
    kind: Kind
    sites: list[Site] = field(default_factory=list)
    weight: float = 0.0
    _summary: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def summary(self) -> dict[str, Any]:
        """The edge as the JSON document lists it, made once: the document lists an edge in
        several places (the same object in each), and a head start makes it early."""
        if self._summary is None:
            self._summary = {
                "source": self.source,
                "target": self.target,
                "kind": self.kind.value,
                "weight": round(self.weight, 3),
                "sites": [{"file": s.file, "line": s.line} for s in self.sites],
            }
        return self._summary


@dataclass
class ModuleGraph:
    files: Mapping[str, SourceFile]
    lines: Mapping[str, int]
    layout: Layout
    edges: dict[tuple[str, str, Kind], Edge]

    def app_of(self, module: str) -> str:
        return self.layout.module_app[module]

    @cached_property
    def sorted_edges(self) -> list[Edge]:
        """The edges by source, target and kind (the order every report lists them in)."""
        edges = self.edges
        return [edges[key] for key in sorted(edges)]


EdgeKey = tuple[str, str, Kind]  # source module, target module, kind
TICK_EVERY = 32  # modules resolved between two calls of HeadStart.build's `tick` (~3 ms)


def module_edges(
    resolver: Resolver, source: str, display: str, api_modules: tuple[str, ...]
) -> dict[EdgeKey, Edge]:
    """The edges from `source`, in the order their first sites appear, each weighted.

    An edge's key starts with its source, so each module's edges are its own: a graph is the
    union of its modules' edges, which can be resolved apart (see `HeadStart`)."""
    layout = resolver.layout
    edges: dict[EdgeKey, Edge] = {}

    def add(target: Target, kind: Kind, site: Site) -> None:
        key = (source, target.module, kind)
        edge = edges.get(key)
        if edge is None:
            edge = edges[key] = Edge(source, target.module, kind)
        edge.sites.append(site)

    for ref in resolver.facts[source].references:
        event = resolver.event(source, ref)
        if event is not None:
            add(event, Kind.EVENT, Site(display, ref.line, event.symbol.partition(".")[0]))
        target = resolver.resolve(source, ref)
        if target is None or target.module == source:
            continue
        if ref.detail.startswith(INSTANCE_DETAIL) and not resolver.is_model_class(target):
            continue  # `x.save()` on something that is not a model class
        add(target, ref.kind, Site(display, ref.line, target.symbol.partition(".")[0], ref.detail))
    app = layout.module_app[source]
    for edge in edges.values():
        weight = KIND_WEIGHTS[edge.kind] * len(edge.sites)
        if is_api_module(edge.target, api_modules) and app != layout.module_app[edge.target]:
            weight *= API_WEIGHT
        edge.weight = weight
    return edges


def build_graph(
    files: Mapping[str, SourceFile],
    facts: Mapping[str, FileFacts],
    lines: Mapping[str, int],
    layout: Layout,
    api_modules: tuple[str, ...],
    ready: Mapping[str, dict[EdgeKey, Edge]] | None = None,
) -> ModuleGraph:
    """Resolve every reference of every file; self-references and outside targets drop out.

    `ready` holds modules' edges resolved beforehand, for this layout and these facts
    (`HeadStart.edges`); the other modules are resolved now."""
    resolver = Resolver(files, facts, layout)
    ready = ready or {}
    edges: dict[EdgeKey, Edge] = {}
    for source in sorted(facts):
        found = ready.get(source)
        if found is None:
            found = module_edges(resolver, source, files[source].display, api_modules)
        edges.update(found)
    return ModuleGraph(files, lines, layout, edges)


@dataclass
class HeadStart:
    """What can be built while the files in `pending` are still being parsed: the layout, as
    it stands unless their facts change it, and the edges of every module whose resolution
    cannot depend on them."""

    pending: frozenset[str]
    layout: Layout
    edges: dict[str, dict[EdgeKey, Edge]]  # source module -> its edges

    @classmethod
    def build(
        cls,
        files: Mapping[str, SourceFile],
        known: Mapping[str, FileFacts],
        pending: frozenset[str],
        api_modules: tuple[str, ...],
        tick: Callable[[], object] = lambda: None,
    ) -> HeadStart:
        """`files`: every module of the run; `known`: the facts of all but `pending`;
        `tick` is called every few modules (the caller's chance to keep its workers fed)."""
        layout = find_layout(files, {**known, **dict.fromkeys(pending, FileFacts())})
        tick()
        # A module's edges depend on other modules' facts only through their classes (model
        # labels, `x.save()`): where a pending module's could change the answer, this
        # resolver declines to give one.
        resolver = Resolver(files, known, layout, pending=pending)
        edges: dict[str, dict[EdgeKey, Edge]] = {}
        for count, source in enumerate(known, 1):
            if count % TICK_EVERY == 0:
                tick()
            try:
                found = module_edges(resolver, source, files[source].display, api_modules)
            except ClassesUnknown:
                continue  # resolved once every file's facts are in
            for edge in found.values():
                edge.summary()  # the document lists every edge: summed up now, not after
            edges[source] = found
        return cls(pending, layout, edges)

    def holds(self, facts: Mapping[str, FileFacts]) -> bool:
        """Whether the layout stands, now that `facts` holds the pending files' facts too."""
        return not any(shapes_layout(facts[module]) for module in self.pending)
