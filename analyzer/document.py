"""The JSON document of a run: every report (text, dot, html) is a view of it.

Its shape is documented in analyzer/README.md ("The JSON document"); `SCHEMA` names its
version and changes when a field changes meaning or goes away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from analyzer.cache import Memo
from analyzer.cluster import Suggestion, clustered_modules
from analyzer.cycles import find_cycles
from analyzer.decision import Decision, suggestion_decision, violations
from analyzer.discovery import Skipped
from analyzer.facts import INSTANCE_DETAIL, Kind
from analyzer.graph import ModuleGraph
from analyzer.metrics import Scorer
from analyzer.options import AnalyzeOptions

SCHEMA = "carve.analyze/1"
# Kinds that share data rather than call code: cutting them needs events or replication.
DATA_KINDS = frozenset({Kind.RELATION, Kind.ORM_WRITE, Kind.META_MODEL, Kind.ADMIN, Kind.SIGNAL})


def _packages(graph: ModuleGraph, members: list[str], clustered: set[str]) -> list[str]:
    """The shortest list of packages/modules naming exactly `members` among clustered modules."""
    by_app: dict[str, list[str]] = defaultdict(list)
    for module in members:
        by_app[graph.app_of(module)].append(module)
    packages: list[str] = []
    for app_name, modules in sorted(by_app.items()):
        app = graph.layout.apps[app_name]
        whole = [m for m in app.modules if m in clustered]
        packages += [app.package] if sorted(whole) == sorted(modules) else sorted(modules)
    return packages


def build_document(
    graph: ModuleGraph,
    suggestion: Suggestion,
    options: AnalyzeOptions,
    skipped: list[Skipped],
    decision: Decision | None,
    memo: Memo | None = None,
) -> dict[str, Any]:
    layout = graph.layout
    context_of = suggestion.context_of
    clustered = set(clustered_modules(graph, options.pins))
    members: dict[str, list[str]] = defaultdict(list)
    for module, context in sorted(context_of.items()):
        members[context].append(module)
    contexts = [
        {
            "name": name,
            "apps": sorted({graph.app_of(m) for m in modules}),
            "modules": modules,
            "packages": _packages(graph, modules, clustered),
            "lines": sum(graph.lines[m] for m in modules),
            "pinned": name in suggestion.pinned,
        }
        for name, modules in sorted(members.items())
    ]
    current = {m: graph.app_of(m) for m in context_of}
    scorer = Scorer(graph, context_of)  # both partitions cover the same modules
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "root": options.path.name or str(options.path),
        "granularity": options.granularity,
        "api_modules": list(options.api_modules),
        "modules": [
            {
                "name": module,
                "path": graph.files[module].display,
                "app": graph.app_of(module),
                "lines": graph.lines[module],
                "context": context_of.get(module),
            }
            for module in sorted(graph.files)
        ],
        "apps": [
            {
                "name": app.name,
                "package": app.package,
                "django": app.django,
                "role": app.role.value,
                "reason": app.reason,
                "contexts": sorted({context_of[m] for m in app.modules if m in context_of}),
                "modules": len(app.modules),
                "lines": sum(graph.lines[m] for m in app.modules),
            }
            for app in sorted(layout.apps.values(), key=lambda a: a.name)
        ],
        "edges": [e.summary() for e in graph.sorted_edges],
        "contexts": contexts,
        "metrics": {
            **scorer.metrics(context_of, memo),
            "contexts": len(contexts),
            "current": scorer.metrics(current, memo),
        },
        "cross_context": _cross_context(graph, context_of),
        "cycles": find_cycles(graph, {m: graph.app_of(m) for m in clustered}, "app", memo)
        + find_cycles(graph, context_of, "context", memo),
        "writes": _writes(graph, context_of),
        "skipped": [
            {"path": s.path, "reason": s.reason} for s in sorted(skipped, key=lambda s: s.path)
        ],
    }
    against = decision or suggestion_decision(doc)
    doc["violations"] = violations(graph, against)
    doc["violations_against"] = against.source
    return doc


def _cross_context(graph: ModuleGraph, context_of: Mapping[str, str]) -> list[dict[str, Any]]:
    """Context pairs with what ties them, heaviest first, and the cost of cutting them."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in graph.sorted_edges:
        a, b = context_of.get(edge.source), context_of.get(edge.target)
        if a is None or b is None or a == b:
            continue
        pair = pairs.get((a, b))
        if pair is None:  # (not setdefault: most edges belong to a pair seen before)
            pair = pairs[(a, b)] = {
                "source": a,
                "target": b,
                "weight": 0.0,
                "kinds": defaultdict(int),
                "edges": [],
                "api_calls": 0,
                "callees": set(),
                "data_sites": 0,
            }
        pair["weight"] += edge.weight
        pair["kinds"][edge.kind.value] += len(edge.sites)
        pair["edges"].append(edge.summary())
        if edge.kind == Kind.CALL:
            pair["api_calls"] += len(edge.sites)
            pair["callees"].update(f"{edge.target}.{s.symbol}" for s in edge.sites if s.symbol)
        elif edge.kind in DATA_KINDS:
            pair["data_sites"] += len(edge.sites)
    result = []
    for pair in sorted(pairs.values(), key=lambda p: (-p["weight"], p["source"], p["target"])):
        pair["weight"] = round(pair["weight"], 3)
        pair["kinds"] = dict(sorted(pair["kinds"].items()))
        pair["edges"].sort(key=lambda e: -e["weight"])
        pair["callees"] = sorted(pair["callees"])
        result.append(pair)
    return result


def _writes(graph: ModuleGraph, context_of: Mapping[str, str]) -> list[dict[str, Any]]:
    """Which context (or outside app) writes which model, cross-context writes flagged."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    write = Kind.ORM_WRITE  # read once: an enum member off its class costs ~0.2 µs (3.11)
    for edge in graph.edges.values():
        if edge.kind is not write:
            continue
        writer = context_of.get(edge.source) or graph.app_of(edge.source)
        owner = context_of.get(edge.target) or graph.app_of(edge.target)
        for site in edge.sites:
            model = f"{edge.target}.{site.symbol}"
            item = found.setdefault(
                (writer, model),
                {
                    "writer": writer,
                    "writer_in_context": edge.source in context_of,
                    "model": model,
                    "owner": owner,
                    "cross_context": writer != owner,
                    "sites": [],
                },
            )
            item["sites"].append(
                {
                    "file": site.file,
                    "line": site.line,
                    "method": site.detail.removeprefix(INSTANCE_DETAIL),
                }
            )
    return [found[key] for key in sorted(found)]
