"""Run the scenarios against two deployments and compare them.

A pass runs every chosen scenario against one deployment (a few at a time, each with its
own fresh accounts); each side's answers are normalised (normalizers.py), then paired
step by step (diff.py). Between and after the passes the caller may set the deployment
up (flip its routes), check its final data (`carve extract verify`) and collect the
proxy's shadow mismatches: those are hooks, so the same runner serves two deployments
(`carve parity run`) and one deployment flipped between passes (`carve parity stack`).
"""

from __future__ import annotations

import secrets
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import requests

from parity.diff import compare_runs
from parity.model import DataCheck, Report, ScenarioResult, ScenarioRun, ShadowMismatch, Side
from parity.normalizers import NORMALIZERS, STRICT, Normalizer, normalize_run
from parity.scenarios import Scenario
from parity.session import Options, PassContext, ScenarioError, Session, Target, login

Progress = Callable[[str], None]
SetUp = Callable[[Target], str]  # prepares the deployment for a pass; says how it was set
Check = Callable[[Target], DataCheck]
ShadowFetch = Callable[[float], tuple[list[ShadowMismatch], str]]


class ParityError(Exception):
    """parity could not run (a deployment unreachable, no staff login...); says what to do."""


def new_tag() -> str:
    """Names a pass's accounts and products, so passes never meet (`parity-<tag>-...`)."""
    return secrets.token_hex(4)


def preflight(target: Target, options: Options) -> None:
    """Fail early and plainly when a deployment cannot be used."""
    try:
        requests.get(f"{target.url}/readyz", timeout=min(options.timeout, 10))
    except requests.RequestException as exc:
        raise ParityError(
            f"cannot reach the {target.label} deployment at {target.url} "
            f"({exc.__class__.__name__}): is it running? `carve stack up` starts one, "
            "`carve parity stack` runs a private one"
        ) from None
    try:
        login(target.url, *options.staff, timeout=options.timeout)
    except (ScenarioError, requests.RequestException) as exc:
        raise ParityError(
            f"the {target.label} deployment refused the staff login ({exc}); the scenarios "
            "need the demo data (`carve monolith seed`) or --staff USER:PASSWORD"
        ) from None


def run_scenario(scenario: Scenario, context: PassContext) -> ScenarioRun:
    """One scenario on one deployment; an exception stops it and is kept as its error."""
    run = ScenarioRun(scenario.name, context.target.label)
    session = Session(scenario.name, context, run)
    started = time.monotonic()
    try:
        scenario.run(session)
    except ScenarioError as exc:
        run.error = str(exc)
    except Exception as exc:  # a scenario's own bug is reported, not raised
        last = run.observations[-1].step if run.observations else "none"
        where = traceback.extract_tb(exc.__traceback__)[-1]
        run.error = (
            f"{type(exc).__name__}: {exc} (after step {last!r}; "
            f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
        )
    finally:
        session.http.close()
        run.seconds = time.monotonic() - started
    return run


def run_pass(
    target: Target,
    scenarios: list[Scenario],
    options: Options,
    normalizers: Iterable[Normalizer] = (),
) -> dict[str, ScenarioRun]:
    """Every scenario against one deployment, `options.jobs` at a time, normalised."""
    context = PassContext(target, options)
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        futures = [pool.submit(run_scenario, scenario, context) for scenario in scenarios]
        runs = {s.name: f.result() for s, f in zip(scenarios, futures, strict=True)}
    chosen = list(normalizers) or (STRICT if options.strict else NORMALIZERS)
    for run in runs.values():
        normalize_run(run, target.tag, chosen, base=target.url)
    return runs


def compare(
    scenarios: list[Scenario],
    left: dict[str, ScenarioRun],
    right: dict[str, ScenarioRun],
    labels: tuple[str, str],
) -> list[ScenarioResult]:
    results = []
    for scenario in scenarios:
        a, b = left[scenario.name], right[scenario.name]
        result = ScenarioResult(
            scenario.name,
            scenario.description,
            compare_runs(a, b, labels),
            module=scenario.module,
            seconds={labels[0]: round(a.seconds, 2), labels[1]: round(b.seconds, 2)},
        )
        for label, run in zip(labels, (a, b), strict=True):
            if run.error:
                result.errors[label] = run.error
        results.append(result)
    return results


def run_parity(
    left: Target,
    right: Target,
    scenarios: list[Scenario],
    options: Options,
    *,
    set_up: SetUp | None = None,
    check: Check | None = None,
    shadow: ShadowFetch | None = None,
    progress: Progress = lambda message: None,
    normalizers: Iterable[Normalizer] = (),
) -> Report:
    """Both passes (left, then right), their final-data checks, the shadow mismatches."""
    report = Report(
        Side(left.label, left.url, left.tag),
        Side(right.label, right.url, right.tag),
        started_at=time.time(),
        settings={
            "scenarios": [s.name for s in scenarios],
            "deadline": options.deadline,
            "jobs": options.jobs,
            "strict": options.strict,
        },
    )
    started = time.monotonic()
    runs = []
    for target, side in ((left, report.left), (right, report.right)):
        if set_up is not None:
            progress(f"setting up the {target.label} deployment")
            side.state = set_up(target)
        preflight(target, options)
        progress(f"{target.label}: {len(scenarios)} scenario(s) at {target.url}")
        pass_started = time.monotonic()
        runs.append(run_pass(target, scenarios, options, normalizers))
        side.seconds = round(time.monotonic() - pass_started, 2)
        if check is not None:
            progress(f"{target.label}: checking both sides' data (carve extract verify)")
            report.data_checks.append(check(target))
    report.scenarios = compare(scenarios, runs[0], runs[1], (left.label, right.label))
    if shadow is not None:
        progress("collecting the proxy's shadow mismatches")
        report.shadow, report.shadow_note = shadow(report.started_at)
    else:
        report.shadow_note = "not collected: no proxy admin URL and token given"
    report.seconds = round(time.monotonic() - started, 2)
    return report
