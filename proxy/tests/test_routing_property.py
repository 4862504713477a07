"""The security property of the router, end to end over real sockets: for any path,
the route the proxy chose is the route of the path the upstream received."""

from __future__ import annotations

import socket
from pathlib import Path

from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from proxy.paths import BadPath, is_own_path, split_target
from proxy.routing import Router
from proxy.tests.conftest import LiveProxy, fake_app
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


def get(port: int, target: str, host: str = "t") -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
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


ATTACK_SEGMENTS = st.sampled_from(
    [
        "api",
        "payments",
        "_carve",
        "%5fcarve",
        "metrics",
        "healthz",
        "readyz",
        "..",
        ".",
        "",
        "..;",
        ".;x",
        "%c0%ae",
        "%2e%2e",
        "%e2%82",
        "caf%C3%A9",
        "a;b",
        "%00",
        "%2F",
        "x",
    ]
)


def test_any_target_is_served_as_its_canonical_path_routes_it_or_refused(tmp_path: Path) -> None:
    """The differential (issue 13): for any request target, the upstream that served it and
    the path it saw are those that routing the canonical path gives, or the answer is a 4xx;
    and a third listener, named in the target or the Host, is never reached."""
    store = open_store(f"file:{tmp_path}/routes.json")
    store.set_state("payments", RouteState(Mode.EXTRACTED), who="test")
    with LiveProxy(tmp_path) as live:
        router = Router(live.config)
        never: list[dict[str, object]] = []
        server = live.run(_start_never(never))
        third = f"127.0.0.1:{server.port}"
        paths = st.lists(ATTACK_SEGMENTS, max_size=6).map(lambda s: "/" + "/".join(s))
        targets = paths | paths.map(lambda p: f"http://{third}{p}") | st.just("*")

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(targets, st.sampled_from(["t", third]))
        @example(f"http://{third}/healthz", "t")  # the proxy's own page, asked in absolute form
        def check(target: str, host: str) -> None:
            for fake in live.fakes.values():
                fake.seen.clear()
            status = get(live.port, target, host)
            received = [r for f in live.fakes.values() for r in f.seen]
            assert never == [], (target, host)
            # an absolute-form target is routed by its path; its authority is never used
            origin_form = target.removeprefix(f"http://{third}") or "/"
            try:
                path, _ = split_target(origin_form)
            except BadPath:
                path = None
            if 400 <= status < 500 or (path is not None and is_own_path(path)):
                assert received == [], (target, received)  # refused, or the proxy's own
                return
            assert path is not None, (target, status)
            assert len(received) == 1, (target, received)
            chosen = router.match("GET", path)
            expected = chosen.service if chosen else "monolith"
            assert (received[0]["upstream"], received[0]["path"]) == (expected, path), target

        check()
        live.run(server.close())


async def _start_never(seen: list[dict[str, object]]) -> TestServer:
    server = TestServer(fake_app("never", seen), host="127.0.0.1")
    await server.start_server()
    return server
