"""Header rewriting between client and upstream: hop-by-hop, X-Forwarded-*, request id."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 7.6.1, plus the legacy ones still seen in the wild.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Host and the body's framing are the upstream client's to write; Expect was answered.
# What a client says about the address, scheme or path it used is never passed on: the
# proxy sets what it knows (X-Forwarded-For/Proto/Host, X-Real-IP) and drops the rest, so
# an upstream that trusts one of these cannot be told another client address or URL.
_CLIENT_CLAIMS = frozenset(
    {
        "forwarded",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-port",
        "x-forwarded-server",
        "x-forwarded-prefix",
        "x-forwarded-scheme",
        "x-forwarded-ssl",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-cluster-client-ip",
        "x-original-url",
        "x-rewrite-url",
        "x-original-host",
    }
)
_NOT_FORWARDED = HOP_BY_HOP | _CLIENT_CLAIMS | {"host", "content-length", "expect"}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def _dropped(headers: CIMultiDictProxy[str], base: frozenset[str]) -> frozenset[str]:
    connection = headers.get("Connection")
    if not connection:
        return base
    return base | {token.strip().lower() for token in connection.split(",")}


def _copy(headers: CIMultiDictProxy[str], drop: Iterable[str]) -> CIMultiDict[str]:
    return CIMultiDict([(k, v) for k, v in headers.items() if k.lower() not in drop])


_ID_PREFIX = os.urandom(8).hex()  # random per process: ids stay unique across workers
_ids = itertools.count()


def _new_prefix() -> None:
    global _ID_PREFIX
    _ID_PREFIX = os.urandom(8).hex()


os.register_at_fork(after_in_child=_new_prefix)  # a forked worker gets its own


def request_id(headers: CIMultiDictProxy[str]) -> str:
    """The client's X-Request-ID when it is sane, else a new unique one (this process's
    random prefix and a counter: no system call per request)."""
    given = headers.get("X-Request-ID")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_ID_PREFIX}{next(_ids):016x}"


def upstream_request_headers(
    headers: CIMultiDictProxy[str], *, peer: str | None, scheme: str, host: str | None, rid: str
) -> CIMultiDict[str]:
    """The client's headers minus hop-by-hop ones and the client's claims about its
    address (above), plus X-Forwarded-*, X-Real-IP and X-Request-ID.

    The proxy is the edge: X-Forwarded-For is the peer alone, never what the client
    claimed (appended, a client on an address the services trust - loopback in `make run` -
    could name any address and dodge the per-address throttles); Proto, Host (a
    configured public host, `public_host`) and X-Real-IP are set by the proxy."""
    out = _copy(headers, _dropped(headers, _NOT_FORWARDED))
    out.popall("X-Forwarded-For", [])
    out["X-Forwarded-For"] = peer or "unknown"
    out["X-Real-IP"] = peer or "unknown"
    out["X-Forwarded-Proto"] = scheme
    if host:
        out["X-Forwarded-Host"] = host
    out["X-Request-ID"] = rid
    return out


def public_host(given: str | None, configured: tuple[str, ...]) -> str | None:
    """The name the proxy may tell upstreams and clients it is reached by: the client's
    Host when the config names it, else the first configured; None when none is
    configured (a client's Host is never repeated as the proxy's own name)."""
    if not configured:
        return None
    if given is not None and given.lower() in configured:
        return given.lower()
    return configured[0]


def client_response_headers(
    headers: CIMultiDictProxy[str], rid: str, upstream_base: str, public_base: str
) -> CIMultiDict[str]:
    """The upstream's headers minus hop-by-hop ones and framing, plus X-Request-ID.

    A Location pointing at the upstream itself is rewritten to `public_base` (what nginx's
    `proxy_redirect default` does), so no internal address leaks; `public_base` is a
    configured public host, or "" (a relative Location), never the client's Host."""
    out = _copy(headers, _dropped(headers, HOP_BY_HOP | {"content-length"}))
    out["X-Request-ID"] = rid
    location = out.get("Location")
    if location is not None and location.startswith(upstream_base):
        out["Location"] = public_base + location[len(upstream_base) :]
    return out


def relative_location(headers: Mapping[str, str], upstream_base: str) -> CIMultiDict[str]:
    """A copy with a Location at `upstream_base` made relative: two sides on different
    addresses redirecting to the same path then compare equal."""
    out = CIMultiDict(headers)
    location = out.get("Location")
    if location is not None and location.startswith(upstream_base):
        out["Location"] = location[len(upstream_base) :] or "/"
    return out


def is_websocket_upgrade(headers: CIMultiDictProxy[str]) -> bool:
    return (
        headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in headers.get("Connection", "").lower()
    )
