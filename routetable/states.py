"""Route states, the audit record of a change, and the snapshot readers hold."""

from __future__ import annotations

import enum
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

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "percent": self.percent}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteState:
        return cls(Mode(data["mode"]), int(data.get("percent", 0)))


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
            version=int(data.get("version") or 0),
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


def parse_entry(raw: Any) -> RouteState:
    """One stored state (a JSON text or a decoded object); ValueError says what is wrong."""
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        return RouteState.from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{raw!r} is not a route state ({type(exc).__name__}: {exc}); "
            'write {"mode": "monolith|shadow|canary|extracted", "percent": 0..100}'
        ) from None


def parse_entries(raw: Mapping[str, Any]) -> tuple[dict[str, RouteState], dict[str, str]]:
    """Every readable state, and for each unreadable one the reason: one bad entry never
    hides the others."""
    states: dict[str, RouteState] = {}
    problems: dict[str, str] = {}
    for route, entry in raw.items():
        try:
            states[str(route)] = parse_entry(entry)
        except ValueError as exc:
            problems[str(route)] = str(exc)
    return states, problems


def parse_history(raw: Iterable[Any], where: str) -> list[Change]:
    """The readable changes of a history; an unreadable item is logged and left out."""
    changes = []
    for position, item in enumerate(raw):
        try:
            data = json.loads(item) if isinstance(item, str | bytes) else item
            changes.append(Change.from_json(data))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "route history %s: item %d is unreadable and left out (%s: %s): %r",
                where,
                position,
                type(exc).__name__,
                exc,
                item,
            )
    return changes


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

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "version": self.version,
            "states": {route: state.to_json() for route, state in sorted(self.states.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        states, problems = parse_entries(data["states"])
        return cls(int(data["version"]), states, str(data.get("epoch") or ""), problems)
