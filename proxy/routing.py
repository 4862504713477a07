"""Which route a canonical path belongs to, and which backend serves a request on it."""

from __future__ import annotations

import re
from typing import NamedTuple

from proxy.config import ProxyConfig, RouteConfig
from routetable import Mode, RouteState

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIRRORED_METHODS = frozenset({"GET", "HEAD"})


class Router:
    """Templates (`/api/orders/{id}/cancel/`) match whole paths and win over prefixes;
    among prefixes the longest wins. A route whose `methods` exclude the request's
    method does not match. No match means the default route (the monolith)."""

    def __init__(self, config: ProxyConfig) -> None:
        self._templates = [
            (re.compile(_template_regex(r.template)), r) for r in config.routes if r.template
        ]
        self._prefixes = sorted(
            (r for r in config.routes if r.prefix), key=lambda r: len(r.prefix or ""), reverse=True
        )

    def match(self, method: str, path: str) -> RouteConfig | None:
        for regex, route in self._templates:
            if regex.fullmatch(path) and _allows(route, method):
                return route
        for route in self._prefixes:
            if _under(path, route.prefix or "") and _allows(route, method):
                return route
        return None

    def why(self, route: RouteConfig | None) -> str:
        if route is None:
            return "no route matches: the default route"
        if route.template:
            return f"template {route.template}"
        return f"prefix {route.prefix}"


def _allows(route: RouteConfig, method: str) -> bool:
    return route.methods is None or method in route.methods


def _under(path: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix) or path == prefix[:-1]
    return path == prefix or path.startswith(prefix + "/")


def _template_regex(template: str) -> str:
    parts = re.split(r"\{[A-Za-z_][A-Za-z0-9_]*\}", template)
    return "[^/]+".join(re.escape(p) for p in parts)


class Decision(NamedTuple):  # a tuple: built for every request, and cheaply
    """Where one request goes and why; `shadow` names the service to mirror it to."""

    route: str
    state: RouteState
    backend: str
    reason: str
    shadow: str | None = None

    def __str__(self) -> str:
        return f"{self.state} {self.reason}"


def decide(
    route: RouteConfig | None,
    state: RouteState,
    method: str,
    default: str,
    cohort: tuple[int, str] | None = None,
) -> Decision:
    """The backend for a request. `cohort` (bucket 0..99, source) is needed for a canary."""
    if route is None:
        return Decision("default", state, default, "default route")
    mode = state.mode
    if mode is Mode.MONOLITH:
        return Decision(route.name, state, default, "monolith")
    if mode is Mode.EXTRACTED:
        return Decision(route.name, state, route.service, "extracted")
    if mode is Mode.SHADOW:
        shadow = route.service if method in MIRRORED_METHODS else None
        why = "shadow, mirrored" if shadow else f"shadow, {method} not mirrored"
        return Decision(route.name, state, default, why, shadow)
    if method not in SAFE_METHODS:
        # In a canary the service writes the context (one writer per context: see
        # messaging/ownership.py); only reads are split by cohort.
        return Decision(route.name, state, route.service, "canary: writes go to the service")
    if cohort is None:
        raise ValueError("a canary decision needs the request's cohort")
    number, source = cohort
    if number < state.percent:
        return Decision(route.name, state, route.service, f"canary: {source} cohort {number}")
    return Decision(route.name, state, default, f"canary: {source} cohort {number}")
