"""The module graph: every resolved reference becomes a site on a weighted, typed edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from analyzer.discovery import SourceFile
from analyzer.facts import INSTANCE_DETAIL, FileFacts, Kind
from analyzer.layout import Layout
from analyzer.options import API_WEIGHT, KIND_WEIGHTS, is_api_module
from analyzer.resolve import Resolver, Target, is_models_module


@dataclass(frozen=True, slots=True)
class Site:
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


@dataclass
class ModuleGraph:
    files: Mapping[str, SourceFile]
    lines: Mapping[str, int]
    layout: Layout
    edges: dict[tuple[str, str, Kind], Edge]

    def app_of(self, module: str) -> str:
        return self.layout.module_app[module]


def build_graph(
    files: Mapping[str, SourceFile],
    facts: Mapping[str, FileFacts],
    lines: Mapping[str, int],
    layout: Layout,
    api_modules: tuple[str, ...],
) -> ModuleGraph:
    """Resolve every reference of every file; self-references and outside targets drop out."""
    resolver = Resolver(files, facts, layout)
    edges: dict[tuple[str, str, Kind], Edge] = {}

    def add(source: str, target: Target, kind: Kind, site: Site) -> None:
        key = (source, target.module, kind)
        edge = edges.get(key)
        if edge is None:
            edge = edges[key] = Edge(source, target.module, kind)
        edge.sites.append(site)

    for source in sorted(facts):
        display = files[source].display
        for ref in facts[source].references:
            event = resolver.event(source, ref)
            if event is not None:
                add(
                    source,
                    event,
                    Kind.EVENT,
                    Site(display, ref.line, event.symbol.split(".", 1)[0]),
                )
            target = resolver.resolve(source, ref)
            if target is None or target.module == source:
                continue
            if ref.detail.startswith(INSTANCE_DETAIL) and not (
                is_models_module(target.module) and target.symbol in facts[target.module].classes
            ):
                continue  # `x.save()` on something that is not a model class
            add(
                source,
                target,
                ref.kind,
                Site(display, ref.line, target.symbol.split(".", 1)[0], ref.detail),
            )
    for edge in edges.values():
        weight = KIND_WEIGHTS[edge.kind] * len(edge.sites)
        if (
            is_api_module(edge.target, api_modules)
            and layout.module_app[edge.source] != layout.module_app[edge.target]
        ):
            weight *= API_WEIGHT
        edge.weight = weight
    return ModuleGraph(files, lines, layout, edges)
