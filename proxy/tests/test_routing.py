"""Choosing the route and the backend."""

from __future__ import annotations

import pytest

from proxy.config import finish
from proxy.routing import Router, decide
from routetable import Mode, RouteState


def router(*routes: dict[str, object]) -> Router:
    upstreams = {n: {"url": f"http://127.0.0.1:{9000 + i}"} for i, n in enumerate("mabc")}
    return Router(
        finish(
            {
                "upstreams": {
                    "monolith": upstreams["m"],
                    **{k: v for k, v in upstreams.items() if k != "m"},
                },
                "routes": list(routes),
            },
            "test",
        )
    )


def test_the_longest_prefix_wins_and_templates_win_over_prefixes() -> None:
    r = router(
        {"name": "api", "prefix": "/api/", "service": "a"},
        {"name": "orders", "prefix": "/api/orders/", "service": "b"},
        {"name": "cancel", "template": "/api/orders/{id}/cancel/", "service": "c"},
    )
    assert r.match("GET", "/api/orders/7/").name == "orders"  # type: ignore[union-attr]
    assert r.match("POST", "/api/orders/7/cancel/").name == "cancel"  # type: ignore[union-attr]
    assert r.match("POST", "/api/orders/7/x/cancel/").name == "orders"  # type: ignore[union-attr]
    assert r.match("GET", "/api/users/").name == "api"  # type: ignore[union-attr]
    assert r.match("GET", "/admin/") is None


@pytest.mark.parametrize(
    ("path", "matches"),
    [("/api/pay", True), ("/api/pay/x", True), ("/api/payments", False), ("/api/pa", False)],
)
def test_a_prefix_without_a_slash_matches_whole_segments(path: str, matches: bool) -> None:
    r = router({"name": "pay", "prefix": "/api/pay", "service": "a"})
    assert (r.match("GET", path) is not None) is matches


def test_a_prefix_with_a_slash_also_matches_the_bare_directory() -> None:
    r = router({"name": "pay", "prefix": "/api/pay/", "service": "a"})
    assert r.match("GET", "/api/pay") is not None
    assert r.match("GET", "/api/payx") is None


def test_methods_restrict_a_route() -> None:
    r = router({"name": "reads", "prefix": "/api/", "service": "a", "methods": ["get", "HEAD"]})
    assert r.match("GET", "/api/x") is not None
    assert r.match("POST", "/api/x") is None


def test_decisions_for_every_state() -> None:
    r = router({"name": "pay", "prefix": "/api/pay/", "service": "a"})
    route = r.match("GET", "/api/pay/")
    assert decide(None, RouteState(), "GET", "monolith").backend == "monolith"
    assert decide(route, RouteState(Mode.MONOLITH), "GET", "monolith").backend == "monolith"
    assert decide(route, RouteState(Mode.EXTRACTED), "POST", "monolith").backend == "a"
    shadow = decide(route, RouteState(Mode.SHADOW), "GET", "monolith")
    assert (shadow.backend, shadow.shadow) == ("monolith", "a")
    assert decide(route, RouteState(Mode.SHADOW), "POST", "monolith").shadow is None
    canary = RouteState(Mode.CANARY, 30)
    assert decide(route, canary, "GET", "monolith", (29, "user")).backend == "a"
    assert decide(route, canary, "GET", "monolith", (30, "user")).backend == "monolith"
    with pytest.raises(ValueError, match="cohort"):
        decide(route, canary, "GET", "monolith")
    # The service writes a context once it is in canary: writes never split by cohort.
    for cohort in ((29, "user"), (30, "user")):
        write = decide(route, canary, "POST", "monolith", cohort)
        assert (write.backend, write.reason) == ("a", "canary: writes go to the service")
