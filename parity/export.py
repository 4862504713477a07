"""Each problem of a report as a pytest file that reproduces it (`--export-tests DIR`).

A scenario step that differed becomes a test that runs the scenario again on both sides
and asserts they agree on that step: it fails while the difference is there and passes
once it is fixed. A persistent shadow mismatch becomes a test that asks the proxy to
replay it (token from CARVE_ADMIN_TOKEN, never written to the file).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from parity.model import FAILING, Report, ScenarioResult, ShadowMismatch, StepResult

HEADER = '''"""Reproduces a difference `carve parity` found ({when}).

{what}

Run it with pytest. It talks to PARITY_MONOLITH_URL and PARITY_EXTRACTED_URL when they
are set, else to {where}. It passes once both sides agree.
"""

from parity.reproduce import reproduce

SCENARIO = {scenario!r}
STEP = {step!r}
MODULE = {module!r}
MONOLITH_URL = {left!r}
EXTRACTED_URL = {right!r}


def test_{name}() -> None:
    found = reproduce(
        SCENARIO,
        STEP,
        module=MODULE,
        monolith_url=MONOLITH_URL,
        extracted_url=EXTRACTED_URL,
        deadline={deadline!r},
    )
    assert found.agrees, found.explain()
'''

SHADOW = '''"""Reproduces a shadow mismatch the proxy recorded during `carve parity` ({when}).

#{id} on route {route}: {method} {path}
differences: {differences}

Run it with pytest while that proxy runs, with CARVE_ADMIN_TOKEN set to its admin token:
the proxy sends the recorded request to both sides again. It passes once they agree.
"""

import os

from parity.checks import ProxyAdmin

ADMIN_URL = {admin!r}
MISMATCH = {id!r}


def test_shadow_mismatch_{id}() -> None:
    token = os.environ.get("CARVE_ADMIN_TOKEN", "")
    assert token, "set CARVE_ADMIN_TOKEN to the proxy's admin token"
    now = ProxyAdmin(ADMIN_URL, token).replay(MISMATCH)
    assert now is not None, f"the proxy no longer keeps mismatch #{{MISMATCH}}"
    assert now == [], f"still different on replay: {{now}}"
'''


def slug(text: str, limit: int = 50) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit].strip("_") or "step"


def _describe(scenario: ScenarioResult, step: StepResult | None) -> str:
    lines = [f"scenario  {scenario.name}: {scenario.description}"]
    if step is None:
        lines += [f"stopped   {label}: {error}" for label, error in scenario.errors.items()]
        return "\n".join(lines)
    lines += [f"step      {step.step}  ({step.endpoint})", f"outcome   {step.outcome}"]
    lines += [f"  {d.path}: {d.left!r} -> {d.right!r}" for d in step.differences[:15]]
    lines += [f"  {note}" for note in step.notes]
    return "\n".join(line.replace('"""', "'''").replace("\\", "\\\\") for line in lines)


def _scenario_file(
    report: Report, scenario: ScenarioResult, step: StepResult | None, direct: bool
) -> str:
    name = slug(scenario.name) + ("__" + slug(step.step) if step else "")
    where = (
        f"{report.left.url} (monolith) and {report.right.url} (extracted), as recorded"
        if direct
        else "a private deployment started for the test (about a minute)"
    )
    return HEADER.format(
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.started_at)),
        what=_describe(scenario, step),
        where=where,
        scenario=scenario.name,
        step=step.step if step else None,
        module=scenario.module or None,
        left=report.left.url if direct else None,
        right=report.right.url if direct else None,
        name=name,
        deadline=float(report.settings.get("deadline", 60.0)),
    )


def _shadow_file(report: Report, mismatch: ShadowMismatch, admin_url: str) -> str:
    return SHADOW.format(
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.started_at)),
        id=mismatch.id,
        route=mismatch.route,
        method=mismatch.method,
        path=mismatch.path.replace('"""', ""),
        differences="; ".join(mismatch.differences).replace('"""', ""),
        admin=admin_url,
    )


def export_tests(
    report: Report, folder: Path, *, direct: bool, admin_url: str | None = None
) -> list[Path]:
    """Write one test file per problem into `folder`; the paths written.

    `direct`: the run used two deployments by URL (the tests may go back to them); else
    the deployment was private and the tests start their own.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = folder / f"test_parity_{name}.py"
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for scenario in report.scenarios:
        if scenario.errors:
            write(slug(scenario.name), _scenario_file(report, scenario, None, direct))
            continue
        for step in scenario.steps:
            if step.outcome in FAILING:
                name = f"{slug(scenario.name)}__{slug(step.step)}"
                write(name, _scenario_file(report, scenario, step, direct))
    if admin_url:
        for mismatch in report.persistent_shadow:
            write(f"shadow_{mismatch.id}", _shadow_file(report, mismatch, admin_url))
    return written
