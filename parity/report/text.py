"""The Report in the terminal: a verdict first, then tables, then every problem with its diff."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.model import FAILING, Report, StepResult

STYLE = {
    "matched": "green",
    "accepted": "cyan",
    "mismatched": "bold red",
    "unsettled": "yellow",
    "missing": "red",
    "error": "bold red",
}
SHOWN_DIFFERENCES = 12


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def verdict(report: Report) -> str:
    counts = report.counts()
    steps = sum(v for k, v in counts.items() if k != "error")
    parts = [f"{counts[k]} {k}" for k in STYLE if k != "error" and counts.get(k)]
    shadow = len(report.persistent_shadow)
    drift = sum(1 for c in report.data_checks if not c.clean)
    head = "CLEAN" if report.clean else "DIFFERENCES FOUND"
    return (
        f"{head}: {len(report.scenarios)} scenarios, {steps} steps ({', '.join(parts) or 'none'}), "
        f"{counts['error']} scenario error(s), {drift} data check(s) with drift, "
        f"{shadow} persistent shadow mismatch(es)"
    )


def _header(console: Console, report: Report) -> None:
    console.rule("[bold]carve parity")
    for side in (report.left, report.right):
        state = f" ({side.state})" if side.state else ""
        tag = f"  run tag {side.tag}" if side.tag else ""
        console.print(f"  {side.label:<10} {side.url}{state}{tag}  {side.seconds}s", soft_wrap=True)


def _scenarios(console: Console, report: Report) -> None:
    table = Table(title="scenarios", title_justify="left", expand=False)
    for column in ("scenario", "outcome", "steps", *(s.label for s in (report.left, report.right))):
        table.add_column(column)
    for scenario in report.scenarios:
        tally: dict[str, int] = {}
        for step in scenario.steps:
            tally[step.outcome] = tally.get(step.outcome, 0) + 1
        steps = ", ".join(f"[{STYLE[k]}]{n} {k}[/]" for k, n in tally.items())
        outcome = scenario.outcome
        table.add_row(
            scenario.name,
            f"[{STYLE[outcome]}]{outcome}[/]",
            steps,
            *(f"{scenario.seconds.get(s.label, 0):.1f}s" for s in (report.left, report.right)),
        )
    console.print(table)


def _endpoints(console: Console, report: Report) -> None:
    table = Table(title="endpoints", title_justify="left")
    table.add_column("endpoint")
    outcomes = [k for k in STYLE if k != "error"]
    for outcome in outcomes:
        table.add_column(outcome, justify="right")
    for endpoint, tally in report.endpoints().items():
        cells = [f"[{STYLE[k]}]{tally[k]}[/]" if tally.get(k) else "" for k in outcomes]
        table.add_row(escape(endpoint), *cells)
    console.print(table)


def _step(console: Console, step: StepResult) -> None:
    colour = STYLE[step.outcome]
    console.print(
        f"[{colour}]{step.outcome.upper()}[/] {escape(step.scenario)} > {escape(step.step)}  "
        f"[dim]{escape(step.endpoint)}[/]"
    )
    for difference in step.differences[:SHOWN_DIFFERENCES]:
        if difference.missing:
            where = f"only in {'the right' if difference.missing == 'left' else 'the left'}"
            shown = _value(difference.right if difference.missing == "left" else difference.left)
            console.print(f"    {escape(difference.path)}: {where}: {escape(shown)}")
        else:
            console.print(
                f"    {escape(difference.path)}: [red]{escape(_value(difference.left))}[/] -> "
                f"[green]{escape(_value(difference.right))}[/]"
            )
    if len(step.differences) > SHOWN_DIFFERENCES:
        console.print(f"    ... and {len(step.differences) - SHOWN_DIFFERENCES} more")
    for note in step.notes:
        console.print(f"    [dim]{escape(note)}[/]")
    if step.diff_text:
        for line in step.diff_text.splitlines()[2:]:
            style = "red" if line.startswith("-") else "green" if line.startswith("+") else "dim"
            console.print(f"      [{style}]{escape(line)}[/]", highlight=False)


def _problems(console: Console, report: Report) -> None:
    for scenario in report.scenarios:
        for label, error in scenario.errors.items():
            console.print(f"[bold red]ERROR[/] {escape(scenario.name)} on {label}: {escape(error)}")
    failing = [s for s in report.steps if s.outcome in FAILING]
    for step in failing:
        _step(console, step)


def _accepted(console: Console, report: Report) -> None:
    notes: dict[str, int] = {}
    for step in report.steps:
        if step.outcome == "accepted":
            for note in step.notes:
                notes[note] = notes.get(note, 0) + 1
    if notes:
        console.print("[cyan]accepted differences[/] (same outcome, told differently):")
        for note, count in notes.items():
            console.print(f"  {count} x {escape(note)}")
    warnings = report.warnings()
    if warnings:
        console.print("[yellow]warnings[/] (not differences; worth a look):")
        for warning, count in warnings.items():
            console.print(f"  {count} x {escape(warning)}")


def _data(console: Console, report: Report) -> None:
    for check in report.data_checks:
        if check.error:
            console.print(f"[red]final data {check.label}: verify failed[/]: {escape(check.error)}")
            continue
        colour = "green" if check.clean else "red"
        word = "no drift" if check.clean else "DRIFT"
        kinds = ", ".join(
            f"{a['aggregate']} {a['total_monolith']}/{a['total_service']}" for a in check.aggregates
        )
        console.print(
            f"final data {check.label}: [{colour}]{word}[/] ({kinds}; "
            f"{check.attempts} look(s) in {check.seconds:.1f}s)"
        )
        for aggregate in check.aggregates:
            for key in aggregate["only_in_monolith"]:
                console.print(f"    {aggregate['aggregate']} {key}: only in the monolith")
            for key in aggregate["only_in_service"]:
                console.print(f"    {aggregate['aggregate']} {key}: only in the service")
            for key, fields in aggregate["different"].items():
                console.print(f"    {aggregate['aggregate']} {key}: differs in {', '.join(fields)}")


def _shadow(console: Console, report: Report) -> None:
    persistent = report.persistent_shadow
    console.print(
        f"proxy shadow mismatches: {report.shadow_note or 'none'}; "
        f"{len(report.shadow) - len(persistent)} gone on replay (replication lag), "
        f"[{'red' if persistent else 'green'}]{len(persistent)} persistent[/]"
    )
    for mismatch in persistent:
        now = "not replayed" if mismatch.replayed is None else "; ".join(mismatch.replayed)
        console.print(
            f"    #{mismatch.id} {mismatch.route}: {mismatch.method} {escape(mismatch.path)}: "
            f"{escape('; '.join(mismatch.differences))} [dim](on replay: {escape(now)})[/]"
        )


def print_text(report: Report, console: Console) -> None:
    _header(console, report)
    _scenarios(console, report)
    _endpoints(console, report)
    _problems(console, report)
    _accepted(console, report)
    _data(console, report)
    _shadow(console, report)
    colour = "bold green" if report.clean else "bold red"
    console.print(f"[{colour}]{escape(verdict(report))}[/]", soft_wrap=True)


def render_text(report: Report, *, color: bool = False, width: int = 110) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
    )
    print_text(report, console)
    return buffer.getvalue()
