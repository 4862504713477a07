"""Run one scenario again on both sides and look at one step: what exported tests call.

Where: PARITY_MONOLITH_URL and PARITY_EXTRACTED_URL when set, else the URLs the original
run used, else a private deployment started for the purpose (carve.stack, flipped
between the two passes like `carve parity stack`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from rich.console import Console

from parity.model import FAILING, Report, ScenarioResult, StepResult
from parity.runner import new_tag, run_parity
from parity.scenarios import select
from parity.session import Options, Target


@dataclass
class Reproduction:
    report: Report
    scenario: str
    step: str | None

    @property
    def result(self) -> ScenarioResult | None:
        return next((s for s in self.report.scenarios if s.name == self.scenario), None)

    @property
    def steps(self) -> list[StepResult]:
        found = self.result.steps if self.result else []
        return [s for s in found if self.step is None or s.step == self.step]

    @property
    def agrees(self) -> bool:
        """Both sides got through the scenario and agree on the step (or on every step)."""
        result = self.result
        if result is None or result.errors or not self.steps:
            return False
        return all(step.outcome not in FAILING for step in self.steps)

    def explain(self) -> str:
        from parity.report.text import _step

        buffer = io.StringIO()
        console = Console(file=buffer, width=110, color_system=None, highlight=False)
        result = self.result
        if result is None:
            console.print(f"scenario {self.scenario} did not run")
        else:
            for label, error in result.errors.items():
                console.print(f"stopped on {label}: {error}")
            if not self.steps:
                console.print(f"no step named {self.step!r} in {self.scenario}: has it changed?")
            for step in self.steps:
                _step(console, step)
        return buffer.getvalue()


def reproduce(
    scenario: str,
    step: str | None = None,
    *,
    module: str | None = None,
    monolith_url: str | None = None,
    extracted_url: str | None = None,
    deadline: float = 60.0,
    staff: tuple[str, str] = ("admin", "admin"),
) -> Reproduction:
    """Run `scenario` on both sides and return what they did at `step` (None: every step)."""
    monolith_url = os.environ.get("PARITY_MONOLITH_URL") or monolith_url
    extracted_url = os.environ.get("PARITY_EXTRACTED_URL") or extracted_url
    chosen = select([scenario], [module] if module else [])
    options = Options(deadline=deadline, jobs=1, staff=staff)
    if monolith_url and extracted_url:
        report = run_parity(
            Target("monolith", monolith_url.rstrip("/"), new_tag()),
            Target("extracted", extracted_url.rstrip("/"), new_tag()),
            chosen,
            options,
        )
    else:
        from parity.flip import run_flipped
        from parity.stackrun import private_stack

        with private_stack() as deployment:
            deployment.verify = False
            report = run_flipped(deployment, chosen, options)
    return Reproduction(report, scenario, step)
