"""Crafted observations and runs, as a scenario would have recorded them."""

from __future__ import annotations

from typing import Any

from parity.model import Observation, Poll, ScenarioRun
from parity.normalizers import NORMALIZERS, Normalizer, normalize_run


def observe(
    step: str,
    body: Any,
    *,
    status: int = 200,
    endpoint: str = "GET /api/thing/",
    kind: str = "call",
    headers: dict[str, str] | None = None,
    poll: Poll | None = None,
    unordered: tuple[str, ...] = (),
) -> Observation:
    method, template = endpoint.split(" ", 1)
    return Observation(
        step=step,
        endpoint=endpoint,
        method=method,
        path=template,
        actor="alice",
        status=status,
        headers=dict(headers or {"content-type": "application/json"}),
        body=body,
        kind=kind,
        poll=poll,
        unordered=unordered,
    )


def run_of(
    side: str,
    *observations: Observation,
    tag: str = "",
    base: str = "",
    normalizers: list[Normalizer] = NORMALIZERS,
    scenario: str = "crafted",
) -> ScenarioRun:
    """A scenario run made of these observations, normalised as the runner does."""
    run = ScenarioRun(scenario, side, list(observations))
    normalize_run(run, tag, normalizers, base=base)
    return run
