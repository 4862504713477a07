"""The canonical path: the rules in proxy/paths.py, unit by unit and over HTTP."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.paths import BadPath, canonical_path, split_target
from proxy.tests.conftest import Fake, ProxyFactory, raw_request


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/", "/"),
        ("/api/payments/charges/", "/api/payments/charges/"),
        ("/api//payments///charges", "/api/payments/charges"),
        ("/api/./payments/./x", "/api/payments/x"),
        ("/api/orders/../payments/", "/api/payments/"),
        ("/api/payments/x/..", "/api/payments/"),
        ("/api/payments/.", "/api/payments/"),
        ("/api/%2e%2E/x", "/x"),
        ("/api/%70ayments/", "/api/payments/"),
        ("/a/%7e%41%5f", "/a/~A_"),
        ("/a/%3f%23", "/a/%3F%23"),
        ("/a/%252F", "/a/%252F"),
        ("/a b/|{}", "/a%20b/%7C%7B%7D"),
        ("/caf\u00e9", "/caf%C3%A9"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a/..b/c.", "/a/..b/c."),
    ],
)
def test_paths_are_resolved_to_one_canonical_form(raw: str, canonical: str) -> None:
    assert canonical_path(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/api/payments%2Fcharges", "encoded slash"),
        ("/api/payments%2fcharges", "encoded slash"),
        ("/api\\payments", "backslash"),
        ("/api/%5Cpayments", "encoded backslash"),
        ("/..", "above the root"),
        ("/api/../../etc/passwd", "above the root"),
        ("/%2e%2e/x", "above the root"),
        ("/a/%zz", "malformed"),
        ("/a/%4", "malformed"),
        ("/a/%00", "control"),
        ("/a/%0d%0a", "control"),
        ("http://evil.example/api/payments/", "starting with '/'"),
        ("evil.example:443", "starting with '/'"),
        ("*", "starting with '/'"),
        ("", "starting with '/'"),
    ],
)
def test_ambiguous_paths_are_rejected(raw: str, reason: str) -> None:
    with pytest.raises(BadPath, match=reason):
        canonical_path(raw)


def test_the_query_is_kept_but_never_routed_on() -> None:
    assert split_target("/api/./x?next=/a/../b&q=%2F") == ("/api/x", "next=/a/../b&q=%2F")
    with pytest.raises(BadPath, match="fragment"):
        split_target("/a#frag")


paths = st.lists(
    st.sampled_from(
        [
            "a",
            "api",
            "payments",
            ".",
            "..",
            "",
            "%2e",
            "%2E%2e",
            "%41",
            "%7E",
            "x y",
            "%2f",
            "%5c",
            "\\",
            "%25",
            "%3F",
            "\u00e9",
            "~",
            "%zz",
        ]
    ),
    max_size=8,
).map(lambda segments: "/" + "/".join(segments))


@given(paths)
def test_canonical_paths_are_fixed_points(raw: str) -> None:
    """Whatever the proxy forwards, canonicalised again, is itself: the upstream and
    the router cannot see two different paths."""
    try:
        canonical = canonical_path(raw)
    except BadPath:
        return
    assert canonical_path(canonical) == canonical
    assert "//" not in canonical
    assert "/./" not in canonical + "/" and "/../" not in canonical + "/"


@pytest.mark.parametrize(
    "target",
    [
        b"/api/payments%2Fcharges",
        b"/api/..%5Cpayments",
        b"/../etc/passwd",
        b"http://127.0.0.1:1/api/payments/",
        b"/a/%00",
    ],
)
async def test_the_proxy_answers_400_and_forwards_nothing(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory, target: bytes
) -> None:
    proxy = await make_proxy(*trio)
    head = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, data = await raw_request(proxy.client.port or 0, head)
    assert status == 400, data
    assert all(not f.seen for f in trio)


async def test_malformed_requests_get_400(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    for head in (
        b"GARBAGE\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
    ):
        status, data = await raw_request(proxy.client.port or 0, head)
        assert status == 400, data
    assert all(not f.seen for f in trio)


async def test_the_upstream_gets_exactly_the_path_the_router_chose(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory
) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    await proxy.set_state("payments", "extracted")
    head = (
        b"GET /api/orders/..//payments/./charges/%41?x=/../y HTTP/1.1\r\n"
        b"Host: evil.example\r\nConnection: close\r\n\r\n"
    )
    status, _ = await raw_request(proxy.client.port or 0, head)
    assert status == 200
    assert [r["path"] for r in payments.seen] == ["/api/payments/charges/A?x=/../y"]
    assert not monolith.seen


async def test_the_host_header_never_picks_the_upstream(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory
) -> None:
    monolith, payments, _ = trio
    proxy = await make_proxy(*trio)
    response = await proxy.client.get(
        "/api/orders/", headers={"Host": f"127.0.0.1:{payments.server.port}"}
    )
    assert (await response.json())["upstream"] == "monolith"
    assert monolith.seen[0]["headers"]["Host"] == f"127.0.0.1:{monolith.server.port}"
    assert "X-Forwarded-Host" not in monolith.seen[0]["headers"]  # no public host configured
