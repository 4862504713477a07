"""The Report as one self-contained HTML page: no script, style or font from elsewhere.

The page is rendered here (so it reads without JavaScript); a few lines of script only
filter it (problems only, free text). The JSON report is embedded for tools.
"""

from __future__ import annotations

import json
import re
from html import escape
from importlib import resources
from typing import Any

from parity.model import (
    FAILING,
    Observation,
    Report,
    ScenarioResult,
    ShadowMismatch,
    StepResult,
)
from parity.report.text import verdict

OUTCOMES = ("matched", "accepted", "mismatched", "unsettled", "missing")


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        header = line.startswith(("---", "+++"))
        kind = "" if header else "del" if line.startswith("-") else "add" if line[:1] == "+" else ""
        lines.append(f'<span class="{kind}">{_e(line)}</span>' if kind else _e(line))
    return "<pre class=diff>" + "\n".join(lines) + "</pre>"


def _answer(label: str, observation: Observation | None) -> str:
    if observation is None:
        return f"<div><b>{_e(label)}</b>: never got to this step</div>"
    poll = ""
    if observation.poll is not None:
        p = observation.poll
        state = "reached" if p.reached else "NOT reached"
        poll = (
            f"<div>polled for {_e(p.condition)}: {state} "
            f"after {p.attempts} tries, {p.seconds:.1f}s</div>"
        )
    first = ""
    if observation.first is not None and observation.first.get("body") != observation.body:
        first = f"<div>first answer (then polled)</div><pre>{_e(_json(observation.first))}</pre>"
    request = _json(observation.request_body) if observation.request_body is not None else ""
    return (
        f"<div><b>{_e(label)}</b>: {_e(observation.method)} {_e(observation.path)} as "
        f"{_e(observation.actor)} &rarr; {observation.status}{poll}"
        + (f"<div>request</div><pre>{_e(request)}</pre>" if request else "")
        + first
        + f"<div>answer</div><pre>{_e(_json(observation.body))}</pre>"
        + f"<div>compared as</div><pre>{_e(_json(observation.compared))}</pre></div>"
    )


def _cell(value: Any, absent: bool) -> str:
    return "<td><i>absent</i></td>" if absent else f"<td>{_e(_json(value))}</td>"


def _step(step: StepResult, labels: tuple[str, str]) -> str:
    rows = "".join(
        f"<tr><td>{_e(d.path)}</td>{_cell(d.left, d.missing == 'left')}"
        f"{_cell(d.right, d.missing == 'right')}</tr>"
        for d in step.differences
    )
    table = (
        f"<table class=differences><tr><th>path</th><th>{_e(labels[0])}</th>"
        f"<th>{_e(labels[1])}</th></tr>{rows}</table>"
        if rows
        else ""
    )
    notes = "".join(f"<div class=note>{_e(n)}</div>" for n in step.notes)
    warnings = "".join(f"<div class=warning>{_e(w)}</div>" for w in step.warnings)
    search = f"{step.scenario} {step.step} {step.endpoint} {step.outcome}".lower()
    is_open = " open" if step.outcome in FAILING else ""
    return (
        f'<details class="step"{is_open} data-outcome="{step.outcome}" data-search="{_e(search)}">'
        f'<summary><span class="o-{step.outcome}">{step.outcome}</span>'
        f"<span>{_e(step.step)}</span><span class=endpoint>{_e(step.endpoint)}</span></summary>"
        f'<div class="inner">{notes}{warnings}{table}'
        + (_diff(step.diff_text) if step.diff_text else "")
        + f'<div class="raw">{_answer(labels[0], step.left)}{_answer(labels[1], step.right)}</div>'
        "</div></details>"
    )


def _scenario(scenario: ScenarioResult, labels: tuple[str, str]) -> str:
    errors = "".join(
        f"<div class=error>stopped on {_e(label)}: {_e(error)}</div>"
        for label, error in scenario.errors.items()
    )
    steps = "".join(_step(step, labels) for step in scenario.steps)
    name, outcome = _e(scenario.name), scenario.outcome
    return (
        f'<section class="scenario" id="scenario-{name}" data-outcome="{outcome}">'
        f'<h3>{name} <span class="o-{outcome}">{outcome}</span></h3>'
        f"<p class=desc>{_e(scenario.description)}</p>{errors}{steps}</section>"
    )


def _endpoints(report: Report) -> str:
    head = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    rows = "".join(
        f"<tr><td class=endpoint>{_e(endpoint)}</td>"
        + "".join(
            f'<td class="num o-{o}">{tally[o]}</td>' if tally.get(o) else "<td></td>"
            for o in OUTCOMES
        )
        + "</tr>"
        for endpoint, tally in report.endpoints().items()
    )
    return f"<table id=endpoints><tr><th>endpoint</th>{head}</tr>{rows}</table>"


def _keys(aggregate: dict[str, Any]) -> list[str]:
    return [*aggregate["only_in_monolith"], *aggregate["only_in_service"], *aggregate["different"]]


def _data(report: Report) -> str:
    if not report.data_checks:
        return "<p class=desc>not checked (no database access given: --verify)</p>"
    parts = []
    for check in report.data_checks:
        if check.error:
            parts.append(f"<p class=error>{_e(check.label)}: verify failed: {_e(check.error)}</p>")
            continue
        word = (
            '<span class="o-matched">no drift</span>'
            if check.clean
            else '<span class="o-mismatched">drift</span>'
        )
        rows = "".join(
            f"<tr><td>{_e(a['aggregate'])}</td><td class=num>{a['total_monolith']}</td>"
            f"<td class=num>{a['total_service']}</td><td>{'clean' if a['clean'] else 'DRIFT'}</td>"
            f"<td>{_e(', '.join(_keys(a)))}</td></tr>"
            for a in check.aggregates
        )
        parts.append(
            f"<h3>{_e(check.label)}: {word}</h3><table><tr><th>aggregate</th><th>monolith</th>"
            f"<th>service</th><th>state</th><th>differing keys</th></tr>{rows}</table>"
        )
    return "".join(parts)


def _shadow_row(m: ShadowMismatch) -> str:
    replayed = "not replayed" if m.replayed is None else _e("; ".join(m.replayed)) or "none"
    kind, word = ("o-mismatched", "persistent") if m.persistent else ("o-matched", "gone (lag)")
    return (
        f'<tr class="{"persistent" if m.persistent else "lag"}"><td>#{m.id}</td>'
        f"<td>{_e(m.route)}</td><td class=endpoint>{_e(m.method)} {_e(m.path)}</td>"
        f"<td>{_e('; '.join(m.differences))}</td><td>{replayed}</td>"
        f'<td class="{kind}">{word}</td></tr>'
    )


def _shadow(report: Report) -> str:
    rows = "".join(_shadow_row(m) for m in report.shadow)
    table = (
        "<table id=shadow><tr><th>id</th><th>route</th><th>request</th><th>differences</th>"
        f"<th>on replay</th><th></th></tr>{rows}</table>"
        if rows
        else ""
    )
    return f"<p class=desc>{_e(report.shadow_note)}</p>{table}"


def _notes(report: Report) -> str:
    seen: dict[str, int] = {}
    for step in report.steps:
        if step.outcome == "accepted":
            for note in step.notes:
                seen[note] = seen.get(note, 0) + 1
    items = "".join(f"<li class=note>{n} &times; {_e(note)}</li>" for note, n in seen.items())
    items += "".join(
        f"<li class=warning>{n} &times; {_e(w)}</li>" for w, n in report.warnings().items()
    )
    return f"<ul>{items}</ul>" if items else "<p class=desc>none</p>"


def render_html(report: Report) -> str:
    labels = (report.left.label, report.right.label)
    counts = report.counts()
    chips = "".join(
        f'<span class="chip o-{name}" data-count="{name}">{counts.get(name, 0)} {name}</span>'
        for name in (*OUTCOMES, "error")
    )
    sides = "<br>".join(
        f"{_e(s.label)}: {_e(s.url)} {f'({_e(s.state)})' if s.state else ''} run tag {_e(s.tag)}"
        for s in (report.left, report.right)
    )
    klass = "clean" if report.clean else "dirty"
    problems = any(s.outcome in FAILING for s in report.steps)
    body = (
        f"<header><h1>carve parity: {_e(labels[0])} vs {_e(labels[1])}</h1>"
        f'<div id="verdict" class="verdict {klass}">{_e(verdict(report))}</div>'
        f'<p class="sides">{sides}</p><div id="counts">{chips}</div></header><main>'
        '<div class="bar"><label><input type="checkbox" id="only-problems"'
        f"{' checked' if problems else ''}> problems only</label>"
        '<input type="search" id="filter" placeholder="filter: scenario, step, endpoint">'
        '<span id="shown" class="desc"></span></div>'
        "<h2>Scenarios</h2>"
        + "".join(_scenario(s, labels) for s in report.scenarios)
        + f"<h2>Endpoints</h2>{_endpoints(report)}"
        + f"<h2>Accepted differences and warnings</h2>{_notes(report)}"
        + f"<h2>Final data (carve extract verify)</h2>{_data(report)}"
        + f"<h2>Proxy shadow mismatches</h2>{_shadow(report)}</main>"
    )
    data = json.dumps(report.to_json(), ensure_ascii=False, default=str).replace("</", "<\\/")
    page = resources.files("parity.report").joinpath("page.html").read_text(encoding="utf-8")
    title = f"carve parity: {'clean' if report.clean else 'differences found'}"
    parts = {"TITLE": _e(title), "BODY": body, "DATA": data}
    return re.sub(r"__(TITLE|BODY|DATA)__", lambda m: parts[m.group(1)], page)
