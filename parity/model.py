"""What a parity run records and concludes: plain dataclasses, each with a JSON form.

An Observation is one answer a scenario got (raw, then normalised into `compared`); a
StepResult pairs the two sides' observations of the same step; a Report holds the steps
of every scenario, the final-data checks and the proxy's shadow mismatches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["matched", "accepted", "mismatched", "unsettled", "missing", "error"]
FAILING: frozenset[str] = frozenset({"mismatched", "unsettled", "missing", "error"})


@dataclass
class Poll:
    """How an eventual state was waited for: the condition, and whether it came true."""

    condition: str
    reached: bool
    attempts: int
    seconds: float


@dataclass
class Observation:
    """One answer: the request that got it, what came back, and its normalised form."""

    step: str
    endpoint: str  # "GET /api/orders/{order}/": the route template, not the concrete path
    method: str
    path: str  # the concrete path and query that were sent
    actor: str  # who sent it: a shopper's role ("alice"), "staff" or "anonymous"
    status: int  # 0 when no answer came (the error is in `body`)
    headers: dict[str, str] = field(default_factory=dict)  # compared headers, names lower-case
    body: Any = None  # parsed JSON, else the text
    request_body: Any = None
    request_headers: dict[str, str] = field(default_factory=dict)  # never Authorization
    kind: str = "call"  # "call", or "place_order" (POST then polled to a terminal state)
    first: dict[str, Any] | None = None  # place_order: the POST's own answer {status, body}
    poll: Poll | None = None
    unordered: tuple[str, ...] = ()  # JSON paths of lists whose order the API does not promise
    compared: Any = None  # filled in by normalizers.normalize_run()
    notes: list[str] = field(default_factory=list)  # accepted differences applied
    warnings: list[str] = field(default_factory=list)  # worth a look, not a difference

    def get(self, key: str, default: Any = None) -> Any:
        """A field of the (raw) JSON body, or `default` when the body has no such field."""
        return self.body.get(key, default) if isinstance(self.body, dict) else default

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["unordered"] = list(self.unordered)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        data = dict(data)
        poll = data.pop("poll", None)
        data["unordered"] = tuple(data.get("unordered", ()))
        return cls(**data, poll=Poll(**poll) if poll else None)


@dataclass
class ScenarioRun:
    """One scenario on one side: its observations in order, and what stopped it, if anything."""

    scenario: str
    side: str
    observations: list[Observation] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Difference:
    """One place where the normalised answers differ: a JSON path and both values."""

    path: str
    left: Any
    right: Any
    missing: Literal["", "left", "right"] = ""  # the key exists on one side only

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepResult:
    scenario: str
    step: str
    endpoint: str
    outcome: Outcome
    differences: list[Difference] = field(default_factory=list)
    left: Observation | None = None
    right: Observation | None = None
    notes: list[str] = field(default_factory=list)
    diff_text: str = ""  # a unified diff of the normalised answers, for people
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "step": self.step,
            "endpoint": self.endpoint,
            "outcome": self.outcome,
            "differences": [d.to_json() for d in self.differences],
            "left": self.left.to_json() if self.left else None,
            "right": self.right.to_json() if self.right else None,
            "notes": self.notes,
            "warnings": self.warnings,
            "diff": self.diff_text,
        }


@dataclass
class ScenarioResult:
    name: str
    description: str
    steps: list[StepResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # side label -> what stopped it
    seconds: dict[str, float] = field(default_factory=dict)
    module: str = ""  # where the scenario is defined (for exported tests)

    @property
    def outcome(self) -> Outcome:
        if self.errors:
            return "error"
        worst: Outcome
        for worst in ("mismatched", "missing", "unsettled"):
            if any(step.outcome == worst for step in self.steps):
                return worst
        if any(step.outcome == "accepted" for step in self.steps):
            return "accepted"
        return "matched"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "module": self.module,
            "outcome": self.outcome,
            "errors": self.errors,
            "seconds": self.seconds,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass
class DataCheck:
    """`carve extract verify` after a pass: the service's copy against the monolith's."""

    label: str  # "after the monolith pass"
    clean: bool
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ShadowMismatch:
    """A difference the proxy saw between the monolith and a service in shadow mode.

    `replayed` is what differs when the same request is sent to both sides again after
    the run (None: not replayed). Empty means the sides agree now: the first compare
    raced replication (the service had not received the event yet).
    """

    id: int
    route: str
    method: str
    path: str
    at: float
    differences: list[str]
    replayed: list[str] | None = None

    @property
    def persistent(self) -> bool:
        return self.replayed is None or bool(self.replayed)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"persistent": self.persistent}


@dataclass
class Side:
    """One deployment as the report names it."""

    label: str
    url: str
    tag: str = ""  # the run tag its users and products were named with
    state: str = ""  # how its routes were set, when parity set them
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """Everything one `carve parity` run found; `clean` decides the exit code."""

    left: Side
    right: Side
    scenarios: list[ScenarioResult] = field(default_factory=list)
    data_checks: list[DataCheck] = field(default_factory=list)
    shadow: list[ShadowMismatch] = field(default_factory=list)
    shadow_note: str = ""  # why there are no shadow figures, when there are none
    started_at: float = 0.0
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> list[StepResult]:
        return [step for scenario in self.scenarios for step in scenario.steps]

    def counts(self) -> dict[str, int]:
        """Steps per outcome (scenarios that stopped count once, as errors)."""
        found = {name: 0 for name in ("matched", "accepted", "mismatched", "unsettled", "missing")}
        for step in self.steps:
            found[step.outcome] = found.get(step.outcome, 0) + 1
        found["error"] = sum(1 for s in self.scenarios if s.errors)
        return found

    def endpoints(self) -> dict[str, dict[str, int]]:
        """Per endpoint (method and route template): steps per outcome."""
        table: dict[str, dict[str, int]] = {}
        for step in self.steps:
            row = table.setdefault(step.endpoint, {})
            row[step.outcome] = row.get(step.outcome, 0) + 1
        return dict(sorted(table.items(), key=lambda item: item[0].split(" ", 1)[::-1]))

    def warnings(self) -> dict[str, int]:
        """Each distinct warning and how many steps raised it."""
        found: dict[str, int] = {}
        for step in self.steps:
            for warning in step.warnings:
                found[warning] = found.get(warning, 0) + 1
        return found

    @property
    def persistent_shadow(self) -> list[ShadowMismatch]:
        return [m for m in self.shadow if m.persistent]

    @property
    def clean(self) -> bool:
        return (
            all(s.outcome not in FAILING for s in self.scenarios)
            and all(check.clean for check in self.data_checks)
            and not self.persistent_shadow
        )

    @property
    def exit_code(self) -> int:
        return 0 if self.clean else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "left": self.left.to_json(),
            "right": self.right.to_json(),
            "started_at": self.started_at,
            "seconds": self.seconds,
            "settings": self.settings,
            "counts": self.counts(),
            "endpoints": self.endpoints(),
            "warnings": self.warnings(),
            "scenarios": [s.to_json() for s in self.scenarios],
            "data_checks": [c.to_json() for c in self.data_checks],
            "shadow": [m.to_json() for m in self.shadow],
            "shadow_note": self.shadow_note,
        }
