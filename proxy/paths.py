"""The ONE canonical form of a request path, used both to choose the route and to forward.

An attacker who can make the router and the upstream disagree about a path can reach
a route the table does not give them, so the proxy never forwards the raw path: it
forwards exactly the string it routed on. The rules (proxy/README.md repeats them):

- The target must be origin-form (`/path?query`). Absolute-form (`http://host/...`),
  authority-form and `*` are rejected: the upstream comes only from the config.
- Backslashes, raw or as `%5C`, are rejected (some servers treat them as `/`).
- An encoded slash `%2F` is rejected (decoding it later would change the segments).
- Encoded NUL and control characters are rejected; so is malformed `%` escaping, a
  raw byte that is not valid UTF-8, and escapes that do not decode as UTF-8 (the
  overlong `%C0%AE` for `.`).
- `;` parameters are part of a segment and kept as they are (`/a;b/c`), except on a dot
  segment: `..;` and `.;x` are rejected (some servers read `..;` as `..`).
- Percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`, so also `%2E`) are
  decoded; every other escape is kept with upper-case hex (`%3f` -> `%3F`); `%25`
  stays `%25`, so `%252F` reaches the upstream as `%252F`, never as a slash.
- Characters not allowed raw in a path (space, `"<>[]^`{|}`, non-ASCII) are
  percent-encoded as UTF-8.
- Repeated slashes collapse to one; `.` segments are removed; `..` removes the segment
  before it, and a `..` that would climb above the root is rejected.
- A trailing slash is kept (and added after a final `.` or `..`, as RFC 3986 does).

The query string is forwarded unchanged apart from percent-encoding characters that
are not allowed raw; it plays no part in routing.

The proxy's own paths (`/_carve`, `/healthz`, `/readyz`, `/metrics` and everything under
them) are never forwarded, whichever way the target spells them (`//_carve/...`,
`/x/../metrics`): `is_own_path` is checked on the canonical path.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCHAR_RAW = frozenset(_UNRESERVED | frozenset(b"!$&'()*+,;=:@"))
# A path that is certainly canonical already: no escapes, no dots after a slash,
# no repeated slashes. Most real requests take this branch and skip the slow walk.
_FAST = re.compile(r"(?:/[A-Za-z0-9\-_~!$&'()*+,;=:@][A-Za-z0-9\-._~!$&'()*+,;=:@]*)*/?")
_ESCAPE = re.compile(r"%(?P<hex>[0-9A-Fa-f]{2})|%")
_QUERY_OK = re.compile(r"[\x21-\x7e]*")


_OWN_ROOTS = ("/_carve", "/healthz", "/readyz", "/metrics")


def is_own_path(path: str) -> bool:
    """Whether a canonical path is the proxy's own (or under it): never forwarded, so no
    upstream's page of the same name (its /metrics) is served to the public either."""
    return path.startswith(_OWN_ROOTS) and "/" + path.split("/", 2)[1] in _OWN_ROOTS


class BadPath(ValueError):
    """The request target cannot be routed safely; the proxy answers 400."""


def canonical_path(path: str) -> str:
    """The canonical form of a request path (without query), or BadPath."""
    if path and _FAST.fullmatch(path):
        return path
    if not path.startswith("/"):
        raise BadPath("the request target must be a path starting with '/'")
    if "\\" in path:
        raise BadPath("backslashes are not allowed in the path")
    segments: list[str] = []
    raw_segments = path.split("/")[1:]
    for index, raw in enumerate(raw_segments):
        segment = _canonical_segment(raw)
        last = index == len(raw_segments) - 1
        if segment == "..":
            if not segments:
                raise BadPath("the path climbs above the root with '..'")
            segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
            continue
        if last:
            segments.append("")  # keep (or add) the trailing slash
    return "/" + "/".join(segments)


def _canonical_segment(raw: str) -> str:
    try:
        data = raw.encode("utf-8")
    except UnicodeEncodeError:
        raise BadPath("the path is not valid UTF-8") from None
    out: list[str] = []
    escaped_high = False  # a %XX of a byte >= 0x80: the decoded bytes must be UTF-8
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25:  # '%'
            match = _ESCAPE.match(raw if data.isascii() else data.decode("latin-1"), i)
            if match is None or match.group("hex") is None:
                raise BadPath("malformed percent-escape in the path")
            value = int(match.group("hex"), 16)
            if value == 0x2F:
                raise BadPath("an encoded slash (%2F) is not allowed in the path")
            if value == 0x5C:
                raise BadPath("an encoded backslash (%5C) is not allowed in the path")
            if value < 0x20 or value == 0x7F:
                raise BadPath("an encoded control character is not allowed in the path")
            out.append(chr(value) if value in _UNRESERVED else f"%{value:02X}")
            escaped_high = escaped_high or value >= 0x80
            i += 3
        elif byte < 0x20 or byte == 0x7F:
            raise BadPath("a control character is not allowed in the path")
        elif byte in _PCHAR_RAW:
            out.append(chr(byte))
            i += 1
        else:
            out.append(f"%{byte:02X}")
            i += 1
    segment = "".join(out)
    if escaped_high:
        try:  # overlong forms (%C0%AE for '.') and stray bytes are not UTF-8
            unquote_to_bytes(segment).decode("utf-8")
        except UnicodeDecodeError:
            raise BadPath("the path is not valid UTF-8 once percent-decoded") from None
    if segment.split(";", 1)[0] in (".", "..") and ";" in segment:
        # `..;` is `..` to some servers (Tomcat): a dot segment with parameters is refused.
        raise BadPath("a '.' or '..' segment with ';' parameters is not allowed")
    return segment


def canonical_query(query: str) -> str:
    """The query string with characters not allowed raw percent-encoded (UTF-8)."""
    if _QUERY_OK.fullmatch(query) and "#" not in query:
        return query
    out = []
    for char in query:
        if "\x21" <= char <= "\x7e" and char != "#":
            out.append(char)
        elif char < "\x20" or char == "\x7f":
            raise BadPath("a control character is not allowed in the query")
        else:
            try:
                out.append("".join(f"%{b:02X}" for b in char.encode("utf-8")))
            except UnicodeEncodeError:
                raise BadPath("the query is not valid UTF-8") from None
    return "".join(out)


def split_target(target: str) -> tuple[str, str]:
    """Canonical (path, query) of a raw request target, or BadPath."""
    path, sep, query = target.partition("?")
    if "#" in path:
        raise BadPath("a fragment is not allowed in the request target")
    return canonical_path(path), canonical_query(query) if sep else ""
