"""Where a finished report goes: the terminal, a file, exported tests; the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from parity.export import export_tests
from parity.model import Report
from parity.report import render
from parity.report.text import print_text, verdict

err = Console(stderr=True, highlight=False)


def emit(
    report: Report,
    fmt: str,
    out: Path | None,
    export_dir: Path | None,
    *,
    direct: bool,
    admin_url: str | None = None,
) -> None:
    """Print or write the report, export the tests, exit with the report's code."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(report, fmt), encoding="utf-8")
        colour = "green" if report.clean else "red"
        err.print(f"[{colour}]{verdict(report)}[/]\nreport written to {out}")
    elif fmt == "text":
        terminal = Console(highlight=False)
        if not terminal.is_terminal:
            terminal = Console(highlight=False, width=120)  # piped: a log, not 80 columns
        print_text(report, terminal)
    else:
        click.echo(render(report, fmt), nl=False)
    if export_dir is not None:
        written = export_tests(report, export_dir, direct=direct, admin_url=admin_url)
        err.print(f"{len(written)} test file(s) written to {export_dir}")
        if not direct and report.persistent_shadow:
            err.print(
                "shadow mismatches of a private deployment are not exported: it is gone; "
                "run the scenarios again (`carve parity stack`) to see them"
            )
    sys.exit(report.exit_code)
