"""Comparing two answers to the same request: status, the headers that matter, JSON bodies.

JSON bodies are compared as values (key order and whitespace do not matter). Each
difference is named by a JSON path with array indices generalised (`$.results[*].id`),
so ignore rules and learned noise apply to every element. Ignore rules are patterns on
those paths where `*` matches anything and every other character, brackets included,
is literal (`$.created_at`, `*.updated_at`, `$.results[*].etag`); `header:NAME` ignores
a compared header.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDict

_NOT_JSON = object()


@dataclass(frozen=True, slots=True)
class Answer:
    """What one side answered; `body` is None when it was over the compare cap."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None


def differences(
    a: Answer, b: Answer, *, headers: Iterable[str], ignore: Iterable[str] = ()
) -> list[str]:
    """Every way `b` differs from `a`, minus what the ignore patterns cover."""
    rules = tuple(ignore)
    found: list[str] = []
    if a.status != b.status:
        found.append(f"status {a.status} != {b.status}")
    a_headers, b_headers = CIMultiDict(a.headers), CIMultiDict(b.headers)
    for name in headers:
        left, right = _header(a_headers, name), _header(b_headers, name)
        if left != right and not _ignored(f"header:{name}", rules):
            found.append(f"header {name}: {left!r} != {right!r}")
    if a.body is None or b.body is None:
        return found
    left_json, right_json = _json(a.body), _json(b.body)
    if left_json is _NOT_JSON or right_json is _NOT_JSON:
        if a.body != b.body and not _ignored("$", rules):
            found.append("body $ (not JSON) differs")
        return found
    found.extend(f"body {p}" for p in json_diff(left_json, right_json) if not _ignored(p, rules))
    return found


def json_diff(a: Any, b: Any, path: str = "$") -> list[str]:
    """The generalised JSON paths at which two values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(a.keys() | b.keys()):
            child = f"{path}.{key}"
            if key not in a or key not in b:
                out.append(child)
            else:
                out.extend(json_diff(a[key], b[key], child))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}[length]"]
        out = []
        for x, y in zip(a, b, strict=True):
            out.extend(json_diff(x, y, f"{path}[*]"))
        return sorted(set(out))
    if type(a) is not type(b) or a != b:
        return [path]
    return []


def _ignored(path: str, rules: tuple[str, ...]) -> bool:
    return any(_pattern(rule).fullmatch(path) for rule in rules)


@functools.lru_cache(maxsize=1024)
def _pattern(rule: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in rule.split("*")))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None and name.lower() == "content-type":
        return value.split(";", 1)[0].strip().lower()  # charset spelling is noise
    return value


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return _NOT_JSON


class NoiseBaseline:
    """Learns, per route, which fields differ between two answers of the SAME side (A/A):
    timestamps, request ids, random tokens. Those are then ignored in the A/B compare."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.seen: dict[str, int] = {}
        self.noisy: dict[str, set[str]] = {}

    def learning(self, route: str) -> bool:
        return self.seen.get(route, 0) < self.samples

    def learn(self, route: str, a: Answer, again: Answer, headers: Iterable[str]) -> None:
        self.seen[route] = self.seen.get(route, 0) + 1
        noise = self.noisy.setdefault(route, set())
        for difference in differences(a, again, headers=headers):
            kind, _, rest = difference.partition(" ")
            if kind == "body":
                noise.add(rest.split(" ", 1)[0])
            elif kind == "header":
                noise.add("header:" + rest.split(":", 1)[0])

    def rules(self, route: str) -> tuple[str, ...]:
        return tuple(sorted(self.noisy.get(route, ())))
