"""Route states, the audit record of a change, and the snapshot readers hold."""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

log = logging.getLogger("carve.routetable")


class Mode(enum.StrEnum):
    """Who serves a route. See DESIGN.md, "The migration model"."""

    MONOLITH = "monolith"
    SHADOW = "shadow"
    CANARY = "canary"
    EXTRACTED = "extracted"


@dataclass(frozen=True, slots=True)
class RouteState:
    """A route's mode; `percent` is the canary cohort size (0..100), 0 for other modes."""

    mode: Mode = Mode.MONOLITH
    percent: int = 0

    def __post_init__(self) -> None:
        if self.mode is Mode.CANARY:
            if not 0 <= self.percent <= 100:
                raise ValueError(f"canary percent must be 0..100, got {self.percent}")
        elif self.percent:
            raise ValueError(f"only a canary takes a percent, not {self.mode.value}")

    @classmethod
    def parse(cls, text: str) -> RouteState:
        """Read `monolith`, `shadow`, `extracted`, `canary 25` or `canary:25`."""
        parts = text.replace(":", " ").split()
        if not parts:
            raise ValueError("empty route state")
        try:
            mode = Mode(parts[0].lower())
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            raise ValueError(f"unknown route state {parts[0]!r}; use one of {choices}") from None
        if mode is Mode.CANARY:
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError("a canary needs a whole percent, e.g. 'canary 10'")
            return cls(mode, int(parts[1]))
        if len(parts) != 1:
            raise ValueError(f"{mode.value} takes no argument")
        return cls(mode)

    def __str__(self) -> str:
        return f"canary {self.percent}" if self.mode is Mode.CANARY else self.mode.value

    def settable(self) -> RouteState:
        """This state if a table may hold it (the API's rule and the store's, one rule):
        ValueError for `canary 0`, which would serve no reads from the service but send it
        every write."""
        if self.mode is Mode.CANARY and self.percent == 0:
            raise ValueError(
                "canary 0 would serve no reads from the service but send it every write: "
                "use shadow (writes stay on the monolith) or canary 1..100"
            )
        return self

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "percent": self.percent}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteState:
        """A stored state, checked as strictly as the API checks one: `mode` one of the
        modes, `percent` a whole number (not a float, a bool or a text), no `canary 0`;
        ValueError says what is wrong."""
        mode, percent = data["mode"], data.get("percent", 0)
        if not isinstance(mode, str):
            raise ValueError(f"mode must be a text, not {type(mode).__name__}")
        if type(percent) is not int:
            raise ValueError(f"percent must be a whole number, not {percent!r}")
        return cls(Mode(mode), percent).settable()


MONOLITH = RouteState()


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change: who moved which route from what to what, and when (UTC).

    `id` is the writer's change id (a retry with the same id is not applied twice) and
    `version` the table version the change produced; both are empty/0 on old records.
    `before` is None when the route's previous entry in the store was unreadable.
    """

    route: str
    who: str
    at: datetime
    before: RouteState | None
    after: RouteState
    id: str = ""
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "who": self.who,
            "at": self.at.isoformat(),
            "from": str(self.before) if self.before is not None else BAD_ENTRY,
            "to": str(self.after),
            "id": self.id,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        before = data["from"]
        return cls(
            route=str(data["route"]),
            who=str(data["who"]),
            at=datetime.fromisoformat(data["at"]),
            before=None if before == BAD_ENTRY else RouteState.parse(before),
            after=RouteState.parse(data["to"]),
            id=str(data.get("id") or ""),
            version=_version(data.get("version") or 0),
        )

    @classmethod
    def now(
        cls,
        route: str,
        who: str,
        before: RouteState | None,
        after: RouteState,
        *,
        id: str = "",
        version: int = 0,
    ) -> Change:
        return cls(route, who, datetime.now(UTC), before, after, id=id, version=version)


BAD_ENTRY = "(unreadable entry)"
UNKNOWN_ROUTE = "was not written by carve"  # in the problem of a route added by hand

MAX_ENTRY_BYTES = 64 * 1024  # a state or a change record is under 1 KiB
MAX_DEPTH = 32  # a state is 1 level deep, a change record 1


class Unreadable(ValueError):
    """A stored item cannot be decoded or is not what it must be; the message says why."""


def text_of(raw: Any, where: str) -> str:
    """A stored text (a key, a field, a route name): bytes are decoded here, in the one
    parse step; bytes that are not UTF-8 are one Unreadable naming `where`."""
    if isinstance(raw, bytes | bytearray):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise Unreadable(f"{where} is not UTF-8 text: {_shown(bytes(raw))}") from None
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")  # a file read with surrogateescape: its undecodable bytes
        except UnicodeEncodeError:
            raise Unreadable(f"{where} is not UTF-8 text: {shown_name(raw)!r}") from None
        return raw
    raise Unreadable(f"{where} is not a text: {_shown(raw)}")


def shown_name(raw: Any) -> str:
    """A stored name as a text whatever its bytes (undecodable bytes escaped), to name it."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if isinstance(raw, bytes | bytearray):
        return bytes(raw).decode("utf-8", "backslashreplace")
    return str(raw)


def depth_of(text: str) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings do not
    count), computed without recursion: a guard before json.loads."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def decode_json(
    raw: Any,
    *,
    max_bytes: int = MAX_ENTRY_BYTES,
    max_depth: int | None = MAX_DEPTH,
    constants: bool = False,
    utf8: bool = True,
) -> Any:
    """One stored JSON item (a text, bytes or an already decoded object), size and depth
    capped first: whatever its bytes (a huge number, deep nesting, invalid UTF-8), every
    failure is one Unreadable, never an OverflowError or a RecursionError (with no
    `max_depth`, json.loads' own RecursionError is that failure). `constants`
    lets Infinity/NaN through (a document whose bad entries are checked one by one);
    `utf8=False` lets undecodable bytes (surrogateescape) through to the items they
    belong to (such a document is checked item by item)."""
    try:
        if isinstance(raw, bytes | bytearray):
            raw = bytes(raw).decode("utf-8")
        elif isinstance(raw, str) and utf8:
            text_of(raw, "the item")
        if not isinstance(raw, str):
            raw = json.dumps(raw)  # decoded by a driver: checked the same way
        if len(raw) > max_bytes:
            raise Unreadable(f"{len(raw)} characters, more than {max_bytes}")
        # counting brackets is C-speed; the scan only runs when they could nest too deep
        if (
            max_depth is not None
            and raw.count("[") + raw.count("{") > max_depth
            and depth_of(raw) > max_depth
        ):
            raise Unreadable(f"nested more than {max_depth} levels deep")
        if constants:
            return json.loads(raw)
        return json.loads(raw, parse_constant=_no_constant)
    except Unreadable:
        raise
    except Exception as exc:  # any decode failure is one bad item
        raise Unreadable(f"{type(exc).__name__}: {exc}") from None


def _shown(raw: Any) -> str:
    """A stored item as it is stored (JSON for a decoded one: a file store's entry), capped."""
    if isinstance(raw, str | bytes | bytearray):
        text = repr(raw)
    else:
        try:
            text = json.dumps(raw)
        except (TypeError, ValueError):
            text = repr(raw)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"


def _decode_object(raw: Any) -> Mapping[str, Any]:
    data = decode_json(raw)
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object, got {type(data).__name__}")
    return data


def parse_entry(raw: Any) -> RouteState:
    """One stored state (a JSON text or a decoded object); Unreadable (a ValueError) says
    what is wrong and how to fix it, whatever the entry holds."""
    try:
        return RouteState.from_json(_decode_object(raw))
    except Exception as exc:  # any failure is one bad entry
        raise Unreadable(
            f"{_shown(raw)} is not a route state ({type(exc).__name__}: {exc}); "
            'write {"mode": "monolith|shadow|canary|extracted", "percent": 0..100}'
        ) from None


def parse_change(raw: Any, where: str) -> Change:
    """One stored change record; Unreadable names `where` (the key or table) and why."""
    try:
        return Change.from_json(_decode_object(raw))
    except Exception as exc:  # any failure is one bad record
        raise Unreadable(
            f"a change record in {where} is unreadable ({type(exc).__name__}: {exc}): {_shown(raw)}"
        ) from None


def parse_entries(raw: Mapping[str, Any]) -> tuple[dict[str, RouteState], dict[str, str]]:
    """Every readable state, and for each unreadable one the reason: one bad entry never
    hides the others."""
    states: dict[str, RouteState] = {}
    problems: dict[str, str] = {}
    for route, entry in raw.items():
        try:
            states[str(route)] = parse_entry(entry)
        except Unreadable as exc:
            problems[str(route)] = str(exc)
    return states, problems


def parse_history(raw: Iterable[Any], where: str) -> tuple[list[Change], list[str]]:
    """The readable changes of a history, and a message for each unreadable item (which
    is left out and logged): one bad item never hides the others."""
    changes: list[Change] = []
    problems: list[str] = []
    for position, item in enumerate(raw):
        try:
            changes.append(parse_change(item, where))
        except Unreadable as exc:
            message = f"item {position}: {exc}; left out"
            problems.append(message)
            log.warning("route history: %s", message)
    return changes, problems


def _version(raw: Any) -> int:
    version = parse_count(raw)
    if version is None:
        raise ValueError(f"version {_shown(raw)} is not a whole number >= 0")
    return version


def parse_count(raw: Any) -> int | None:
    """A stored count or version: ASCII digits only (int() takes '²' and '١'), else None."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if type(raw) is int:
        return raw if raw >= 0 else None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return None


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the whole table at one version; routes absent are monolith.

    `epoch` names the store's generation (set when it is first written or restored), so
    a wiped or replaced store is told apart from the one a reader held. `problems` maps
    each entry the store held but could not be read to the reason (its state is absent).
    """

    version: int = 0
    states: Mapping[str, RouteState] = field(default_factory=lambda: MappingProxyType({}))
    epoch: str = ""
    problems: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("states", "problems"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    def get(self, route: str, default: RouteState = MONOLITH) -> RouteState:
        return self.states.get(route, default)

    @property
    def empty(self) -> bool:
        """Nothing was ever written (or everything was wiped)."""
        return self.version == 0 and not self.states and not self.problems

    def digest(self) -> str:
        """A hash of the content (the states, and which entries are unreadable; routes
        added by hand left out): two tables at one generation and version must have the
        same one, else one of them was written over a rolled-back store."""
        bad = sorted(r for r, why in self.problems.items() if UNKNOWN_ROUTE not in why)
        content = {"states": {r: str(s) for r, s in sorted(self.states.items())}, "bad": bad}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "version": self.version,
            "states": {route: state.to_json() for route, state in sorted(self.states.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        """A kept snapshot, checked: Unreadable says what is wrong with it."""
        if not isinstance(data, Mapping):
            raise Unreadable(f"expected an object, got {type(data).__name__}")
        version, epoch, raw_states = data.get("version"), data.get("epoch", ""), data.get("states")
        if parse_count(version) is None or type(version) is not int:
            raise Unreadable(f"version {_shown(version)} is not a whole number >= 0")
        if not isinstance(epoch, str):
            raise Unreadable(f"epoch {_shown(epoch)} is not a text")
        if not isinstance(raw_states, Mapping):
            raise Unreadable(f"states {_shown(raw_states)} is not an object")
        states, problems = parse_entries(raw_states)
        if problems:
            raise Unreadable("; ".join(f"route {r!r}: {why}" for r, why in problems.items()))
        return cls(version, states, epoch)
