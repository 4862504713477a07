"""Route states, the audit record of a change, and the snapshot readers hold."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any


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
    """One audited change: who moved which route from what to what, and when (UTC)."""

    route: str
    who: str
    at: datetime
    before: RouteState
    after: RouteState

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "who": self.who,
            "at": self.at.isoformat(),
            "from": str(self.before),
            "to": str(self.after),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            route=data["route"],
            who=data["who"],
            at=datetime.fromisoformat(data["at"]),
            before=RouteState.parse(data["from"]),
            after=RouteState.parse(data["to"]),
        )

    @classmethod
    def now(cls, route: str, who: str, before: RouteState, after: RouteState) -> Change:
        return cls(route=route, who=who, at=datetime.now(UTC), before=before, after=after)


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the whole table at one version; routes absent are monolith."""

    version: int = 0
    states: Mapping[str, RouteState] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.states, MappingProxyType):
            object.__setattr__(self, "states", MappingProxyType(dict(self.states)))

    def get(self, route: str, default: RouteState = MONOLITH) -> RouteState:
        return self.states.get(route, default)
