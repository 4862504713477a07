"""The accepted contexts of a team (the decision), violations of it, and import-linter contracts.

A decision is TOML, in the analyzed project's pyproject.toml or in a file of its own:

    [tool.carve]
    api = ["public"]                      # modules any context may import from another
    allow = ["shop.orders.* -> shop.billing.models"]   # accepted crossings (fnmatch globs)

    [tool.carve.contexts]
    orders = ["shop.orders"]              # packages or modules; the longest prefix wins
    billing = ["shop.billing", "shop.invoices"]
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.facts import Kind
from analyzer.options import AnalyzerError, is_api_module

if TYPE_CHECKING:
    from analyzer.graph import ModuleGraph


@dataclass(frozen=True)
class Decision:
    contexts: dict[str, list[str]]
    api: tuple[str, ...]
    allow: tuple[str, ...]
    source: str
    _owner: dict[str, str] = field(init=False, repr=False, compare=False)
    _known: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = {prefix: name for name, prefixes in self.contexts.items() for prefix in prefixes}
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_known", {})  # module -> context: asked once per edge end

    def fingerprint(self) -> dict[str, Any]:
        """What the decision says (its lookup tables left out), for the result cache's key."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def context_of(self, module: str) -> str | None:
        """The context whose longest listed prefix covers `module`, if any."""
        if module in self._known:
            return self._known[module]
        parts = module.split(".")
        found = None
        for end in range(len(parts), 0, -1):
            found = self._owner.get(".".join(parts[:end]))
            if found is not None:
                break
        self._known[module] = found
        return found

    def allows(self, source: str, target: str) -> bool:
        for rule in self.allow:
            left, _, right = rule.partition("->")
            if fnmatchcase(source, left.strip()) and fnmatchcase(target, right.strip()):
                return True
        return False


def _from_table(table: Mapping[str, Any], source: str) -> Decision:
    contexts = table.get("contexts")
    if not isinstance(contexts, dict) or not contexts:
        raise AnalyzerError(
            f"{source}: [tool.carve.contexts] must map context names to lists of packages"
        )
    for name, prefixes in contexts.items():
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise AnalyzerError(f"{source}: context {name!r} must be a list of package names")
    api = table.get("api", ["public"])
    allow = table.get("allow", [])
    if not isinstance(api, list) or not isinstance(allow, list):
        raise AnalyzerError(f"{source}: [tool.carve] api and allow must be lists of strings")
    return Decision(contexts, tuple(api), tuple(allow), source)


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise AnalyzerError(f"{path}: cannot read the decision ({error.strerror})")
    except tomllib.TOMLDecodeError as error:
        raise AnalyzerError(f"{path}: not valid TOML ({error})")


def load_decision(root: Path, explicit: Path | None) -> Decision | None:
    """The decision in `explicit`, else in the nearest pyproject.toml at or above `root`."""
    if explicit is not None:
        table = _read(explicit).get("tool", {}).get("carve")
        if not table:
            raise AnalyzerError(f"{explicit}: no [tool.carve.contexts] table")
        return _from_table(table, str(explicit))
    for folder in (root.resolve(), *root.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _read(candidate).get("tool", {}).get("carve", {})
            return _from_table(table, str(candidate)) if "contexts" in table else None
    return None


def violations(graph: ModuleGraph, decision: Decision) -> list[dict[str, Any]]:
    """Edges between two decided contexts, into a non-API module, that no rule allows.

    Event edges never violate: subscribing to another context's published events is the
    designed way across, like calling its API module.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    event = Kind.EVENT  # read once: an enum member off its class costs ~0.2 µs (3.11)
    for edge in graph.sorted_edges:
        if edge.kind is event:
            continue
        a, b = decision.context_of(edge.source), decision.context_of(edge.target)
        if a is None or b is None or a == b or is_api_module(edge.target, decision.api):
            continue
        if decision.allows(edge.source, edge.target):
            continue
        item = found.get((edge.source, edge.target))
        if item is None:
            item = found[(edge.source, edge.target)] = {
                "source": edge.source,
                "target": edge.target,
                "source_context": a,
                "target_context": b,
                "kinds": [],
                "sites": [],
            }
        kind = edge.kind.value
        item["kinds"].append(kind)
        item["sites"] += [{"file": s.file, "line": s.line, "kind": kind} for s in edge.sites]
    return list(found.values())


def suggestion_decision(doc: Mapping[str, Any]) -> Decision:
    contexts = {c["name"]: list(c["packages"]) for c in doc["contexts"]}
    return Decision(contexts, tuple(doc["api_modules"]), (), "suggestion")


def _toml_list(values: list[str], indent: str = "    ") -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}{json.dumps(v)},\n" for v in values) + "]"


def suggested_crossings(doc: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Module pairs that cross the suggested contexts outside API modules and events."""
    return {
        (edge["source"], edge["target"])
        for pair in doc["cross_context"]
        for edge in pair["edges"]
        if edge["kind"] != Kind.EVENT.value
        and not is_api_module(edge["target"], doc["api_modules"])
    }


def decision_toml(doc: Mapping[str, Any]) -> str:
    """The suggestion as a decision, with today's crossings allowed (a ratchet baseline)."""
    allowed = sorted(f"{source} -> {target}" for source, target in suggested_crossings(doc))
    lines = [
        "# Accepted bounded contexts, written by `carve analyze --save-decision`.",
        "# Copy into pyproject.toml or pass with --decision; `carve analyze --check` then fails",
        "# on any new cross-context edge into a non-API module.",
        "[tool.carve]",
        f"api = {json.dumps(list(doc['api_modules']))}",
        f"allow = {_toml_list(allowed)}",
        "",
        "[tool.carve.contexts]",
    ]
    lines += [f"{json.dumps(c['name'])} = {json.dumps(c['packages'])}" for c in doc["contexts"]]
    return "\n".join(lines) + "\n"


def contracts_toml(doc: Mapping[str, Any]) -> str:
    """import-linter contracts: each context may import another only through its API."""
    contexts = doc["contexts"]
    roots = sorted({p.split(".", 1)[0] for c in contexts for p in c["packages"]})
    api_modules = [
        m["name"]
        for m in doc["modules"]
        if m["context"] and m["name"].rsplit(".", 1)[-1] in doc["api_modules"]
    ]
    out = [
        "# import-linter contracts for the suggested contexts (carve analyze --emit-contracts).",
        "[tool.importlinter]",
        f"root_packages = {json.dumps(roots)}",
    ]
    allowed = suggested_crossings(doc)
    for context in contexts:
        others = [p for c in contexts if c is not context for p in c["packages"]]
        if not others:
            continue
        ignores = [
            f"{source} -> {api}"
            for api in api_modules
            if api not in context["modules"]
            for package in context["packages"]
            for source in (package, f"{package}.**")
        ]
        ignores += sorted(f"{s} -> {t}" for s, t in allowed if s in context["modules"])
        # The analysis left tests and migrations out; so do the contracts.
        ignores += [
            f"{package}{middle}.{part}.** -> {root}.**"
            for package in context["packages"]
            for middle in ("", ".**")
            for part in ("tests", "migrations")
            for root in roots
        ]
        title = f"Context {context['name']} uses other contexts only through their API"
        out += [
            "",
            "[[tool.importlinter.contracts]]",
            f"name = {json.dumps(title)}",
            'type = "forbidden"',
            f"source_modules = {json.dumps(context['packages'])}",
            f"forbidden_modules = {_toml_list(others)}",
            "allow_indirect_imports = true",
            'unmatched_ignore_imports_alerting = "none"',
            f"ignore_imports = {_toml_list(ignores)}",
        ]
    return "\n".join(out) + "\n"
