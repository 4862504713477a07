"""The terminal report: contexts, what is left out, metrics, heaviest crossings, cycles,
cross-context writes, violations and skipped files, each with file:line where it helps."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

TOP_PAIRS = 8
SITES_SHOWN = 3
ITEMS_SHOWN = 25  # of long lists (violations, writes); the JSON report has them all
METRICS = (
    ("modularity", "modularity Q", "higher is better"),
    ("sm", "structural modularity SM", "higher is better"),
    ("icp", "ICP: share of calls crossing", "lower is better"),
    ("ifn", "IFN: interfaces per context", "lower is better"),
    ("ned", "NED: share in odd-sized contexts", "lower is better"),
)


class _Lines:
    """Report lines gathered into one rich Text: one print instead of hundreds."""

    def __init__(self) -> None:
        self.text = Text()

    def heading(self, title: str, rest: str = "") -> None:
        self.text.append("\n" + title, style="bold")
        self.text.append(rest + "\n")

    def __call__(self, line: str) -> None:
        self.text.append(line + "\n")

    def capped(self, items: list[str]) -> None:
        for item in items[:ITEMS_SHOWN]:
            self(item)
        if len(items) > ITEMS_SHOWN:
            self(f"  ... and {len(items) - ITEMS_SHOWN} more (--format json lists them all)")


def _sites(sites: list[Mapping[str, Any]]) -> str:
    shown = ", ".join(f"{s['file']}:{s['line']}" for s in sites[:SITES_SHOWN])
    more = len(sites) - SITES_SHOWN
    return shown + (f" (+{more} more)" if more > 0 else "")


def render_text(doc: Mapping[str, Any], *, color: bool = False, width: int = 100) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        soft_wrap=True,
    )
    stats = doc.get("stats", {})
    modules = doc["modules"]
    console.print(
        f"[bold]carve analyze[/] {doc['root']}: {len(modules)} modules, "
        f"{sum(m['lines'] for m in modules):,} lines, {doc['granularity']} granularity"
        + _timing(stats)
    )
    _contexts(console, doc)
    out = _Lines()
    _outside(out, doc)
    console.print(out.text, end="")
    _metrics(console, doc)
    out = _Lines()
    _crossings(out, doc)
    _cycles(out, doc)
    _writes(out, doc)
    _violations(out, doc)
    if doc["skipped"]:
        out.heading(f"Skipped ({len(doc['skipped'])})")
        for item in doc["skipped"]:
            out(f"  {item['path']}: {item['reason']}")
    console.print(out.text, end="")
    return buffer.getvalue()


def _timing(stats: Mapping[str, Any]) -> str:
    if not stats:
        return ""
    if stats.get("result_cached"):
        return f", {stats['seconds']:.2f} s (unchanged since the last run: from the cache)"
    return f", {stats['seconds']:.1f} s ({stats['parsed']} files parsed, {stats['cached']} cached)"


def _contexts(console: Console, doc: Mapping[str, Any]) -> None:
    table = Table(
        title=f"Suggested contexts ({len(doc['contexts'])})",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    for column, justify in (
        ("context", "left"),
        ("apps", "left"),
        ("modules", "right"),
        ("lines", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in doc["contexts"]:
        name = c["name"] + (" (pinned)" if c["pinned"] else "")
        table.add_row(name, ", ".join(c["apps"]), str(len(c["modules"])), f"{c['lines']:,}")
    console.print()
    console.print(table)


def _outside(out: _Lines, doc: Mapping[str, Any]) -> None:
    outside = [a for a in doc["apps"] if a["role"] != "domain" and not a["contexts"]]
    if outside:
        out.heading("Left out of the contexts")
        out.capped([f"  {app['name']} ({app['role']}): {app['reason']}" for app in outside])


def _metrics(console: Console, doc: Mapping[str, Any]) -> None:
    metrics = doc["metrics"]
    table = Table(title="Metrics", title_justify="left", box=None, pad_edge=False)
    table.add_column("metric")
    table.add_column("suggested", justify="right")
    table.add_column("current apps", justify="right")
    table.add_column("")
    for key, label, better in METRICS:
        table.add_row(label, f"{metrics[key]:.3f}", f"{metrics['current'][key]:.3f}", better)
    console.print()
    console.print(table)


def _crossings(out: _Lines, doc: Mapping[str, Any]) -> None:
    pairs = doc["cross_context"]
    out.heading("Heaviest cross-context dependencies", f" ({len(pairs)} context pairs)")
    if not pairs:
        out("  none")
    for pair in pairs[:TOP_PAIRS]:
        kinds = ", ".join(f"{k} {n}" for k, n in pair["kinds"].items())
        out(f"  {pair['source']} -> {pair['target']}  weight {pair['weight']}  ({kinds})")
        for edge in pair["edges"][:SITES_SHOWN]:
            out(f"    {edge['kind']:<13} {edge['source']} -> {edge['target']}")
            out(f"      {_sites(edge['sites'])}")
        cost = f"{pair['api_calls']} call sites would become API calls"
        if pair["callees"]:
            names = ", ".join(c.rsplit(".", 1)[-1] for c in pair["callees"][:6])
            cost += f" ({len(pair['callees'])} functions: {names})"
        if pair["data_sites"]:
            cost += f"; {pair['data_sites']} data couplings need events or replication"
        out(f"    cost to cut: {cost}")


def _cycles(out: _Lines, doc: Mapping[str, Any]) -> None:
    out.heading("Cycles")
    if not doc["cycles"]:
        out("  none")
    for cycle in doc["cycles"][:ITEMS_SHOWN]:
        out(f"  {cycle['level']}s {' <-> '.join(cycle['members'])}; cut:")
        for cut in cycle["cuts"]:
            out(f"    {cut['source']} -> {cut['target']} (weight {cut['weight']})")
            for edge in cut["edges"][:SITES_SHOWN]:
                out(f"      {edge['kind']:<13} {_sites(edge['sites'])}")


def _writes(out: _Lines, doc: Mapping[str, Any]) -> None:
    crossing = [w for w in doc["writes"] if w["cross_context"]]
    out.heading("Models written from another context")
    if not crossing:
        out("  none")
    out.capped(
        [
            f"  {w['writer']}{'' if w['writer_in_context'] else ' (left out)'} writes {w['model']} "
            f"(owned by {w['owner']}): {_sites(w['sites'])}"
            for w in crossing
        ]
    )


def _violations(out: _Lines, doc: Mapping[str, Any]) -> None:
    found = doc["violations"]
    out.heading(
        "Cross-context edges outside the API",
        f" (against {doc['violations_against']}): {len(found) or 'none'}",
    )
    out.capped(
        [
            f"  {v['source_context']} -> {v['target_context']}: {v['source']} -> {v['target']} "
            f"({', '.join(v['kinds'])}) {_sites(v['sites'])}"
            for v in found
        ]
    )
