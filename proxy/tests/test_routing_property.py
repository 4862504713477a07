"""The security property of the router, end to end over real sockets: for any path,
the route the proxy chose is the route of the path the upstream received."""

from __future__ import annotations

import socket
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.paths import split_target
from proxy.routing import Router
from proxy.tests.conftest import LiveProxy
from routetable import Mode, RouteState, open_store

SEGMENTS = st.sampled_from(
    [
        "api",
        "payments",
        "inventory",
        "orders",
        "x",
        ".",
        "..",
        "",
        "%2e",
        "%2E%2e",
        "%70ayments",
        "%2f",
        "%5C",
        "\\",
        "%25",
        "a%20b",
        "~",
        "%zz",
        "%61pi",
        ";",
        "@",
    ]
)
TARGETS = st.lists(SEGMENTS, max_size=7).map(lambda s: "/" + "/".join(s)) | st.builds(
    lambda a, b: f"/{a}/{b}/", SEGMENTS, SEGMENTS
)


def get(port: int, target: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_the_route_chosen_is_the_route_of_what_the_upstream_receives(tmp_path: Path) -> None:
    store = open_store(f"file:{tmp_path}/routes.json")
    store.set_state("payments", RouteState(Mode.EXTRACTED), who="test")
    store.set_state("inventory", RouteState(Mode.EXTRACTED), who="test")
    with LiveProxy(tmp_path) as live:
        router = Router(live.config)

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(TARGETS)
        def check(target: str) -> None:
            for fake in live.fakes.values():
                fake.seen.clear()
            status = get(live.port, target)
            received = [r for f in live.fakes.values() for r in f.seen]
            if status == 400:
                assert received == []
                return
            assert len(received) == 1, (target, received)
            got = received[0]
            path, _ = split_target(got["path"])
            assert path == got["path"], "the upstream received a non-canonical path"
            assert path == split_target(target)[0], "the proxy forwarded another path"
            chosen = router.match("GET", path)
            expected = chosen.service if chosen else "monolith"
            assert got["upstream"] == expected, (target, got["path"])

        check()
