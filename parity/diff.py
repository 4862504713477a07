"""Comparing the two sides of a scenario step by step, after normalisation.

Steps are paired by name (a scenario names each request it makes). A step only one
side reached is `missing`; a poll that never saw its condition is `unsettled`; equal
normalised answers are `matched`, or `accepted` when they are equal only thanks to an
accepted-difference rule (normalizers.refused_for_stock); anything else is `mismatched`,
with each differing JSON path and a unified diff for people.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from parity.model import Difference, Observation, Outcome, ScenarioRun, StepResult

MISSING = object()


def differences(left: Any, right: Any, path: str = "$") -> list[Difference]:
    """Every JSON path where `right` differs from `left` (dict keys sorted, lists by index)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: list[Difference] = []
        for key in sorted(left.keys() | right.keys(), key=str):
            child = f"{path}.{key}"
            if key not in right:
                found.append(Difference(child, left[key], None, missing="right"))
            elif key not in left:
                found.append(Difference(child, None, right[key], missing="left"))
            else:
                found.extend(differences(left[key], right[key], child))
        return found
    if isinstance(left, list) and isinstance(right, list):
        found = []
        for index in range(max(len(left), len(right))):
            child = f"{path}[{index}]"
            if index >= len(right):
                found.append(Difference(child, left[index], None, missing="right"))
            elif index >= len(left):
                found.append(Difference(child, None, right[index], missing="left"))
            else:
                found.extend(differences(left[index], right[index], child))
        return found
    if type(left) is not type(right) or left != right:
        return [Difference(path, left, right)]
    return []


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def unified(left: Any, right: Any, left_label: str, right_label: str) -> str:
    """A unified diff of two JSON values (whole, so the context shows where it is)."""
    lines = difflib.unified_diff(
        pretty(left).splitlines(),
        pretty(right).splitlines(),
        fromfile=left_label,
        tofile=right_label,
        lineterm="",
        n=3,
    )
    return "\n".join(lines)


def _unsettled(observation: Observation | None) -> bool:
    return observation is not None and observation.poll is not None and not observation.poll.reached


def compare_step(
    scenario: str,
    left: Observation | None,
    right: Observation | None,
    labels: tuple[str, str] = ("monolith", "extracted"),
) -> StepResult:
    """One step of a scenario: both sides' observations (either may be None) compared."""
    some = left or right
    assert some is not None, "a step needs an observation on at least one side"
    notes = [f"{labels[0]}: {n}" for n in (left.notes if left else [])]
    notes += [f"{labels[1]}: {n}" for n in (right.notes if right else [])]
    for label, observation in zip(labels, (left, right), strict=True):
        if _unsettled(observation):
            assert observation is not None and observation.poll is not None
            notes.append(
                f"{label}: never saw {observation.poll.condition!r} "
                f"({observation.poll.attempts} tries in {observation.poll.seconds:.1f} s)"
            )
    result = StepResult(scenario, some.step, some.endpoint, "matched", [], left, right, notes)
    result.warnings = [
        f"{label}: {w}"
        for label, o in zip(labels, (left, right), strict=True)
        for w in (o.warnings if o else [])
    ]
    if left is None or right is None:
        result.outcome = "missing"
        absent = labels[0] if left is None else labels[1]
        result.notes.append(f"{absent} never got to this step")
        return result
    result.differences = differences(left.compared, right.compared)
    if result.differences:
        result.diff_text = unified(left.compared, right.compared, labels[0], labels[1])
    outcome: Outcome = "matched"
    if _unsettled(left) or _unsettled(right):
        outcome = "unsettled"
    elif result.differences:
        outcome = "mismatched"
    elif left.notes != right.notes:
        outcome = "accepted"
    result.outcome = outcome
    return result


def compare_runs(
    left: ScenarioRun, right: ScenarioRun, labels: tuple[str, str] = ("monolith", "extracted")
) -> list[StepResult]:
    """Pair the observations of one scenario by step name, in the order they were made."""
    rights = {o.step: o for o in right.observations}
    lefts = {o.step: o for o in left.observations}
    results = [
        compare_step(left.scenario, o, rights.get(o.step), labels) for o in left.observations
    ]
    results += [
        compare_step(left.scenario, None, o, labels)
        for o in right.observations
        if o.step not in lefts
    ]
    return results
