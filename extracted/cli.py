"""`carve extract`: generate a service's app, backfill it, verify it against the monolith."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from carve.output import echo_json, json_option
from carve.services import use_service
from extracted import scaffold

CONTEXT = click.Choice(list(scaffold.CONTEXTS))
console = Console(stderr=True)


@click.group()
def extract() -> None:
    """Move a context out of the monolith: scaffold, backfill, verify."""


@extract.command("scaffold")
@click.argument("contexts", nargs=-1, type=CONTEXT)
@click.option("--check", is_flag=True, help="Only report generated files that are stale.")
@json_option(
    help="Print {CONTEXT: {written: [...]}} (with --check: {CONTEXT: {stale: {FILE: "
    "missing|stale}}}) instead of lines."
)
def scaffold_command(contexts: tuple[str, ...], check: bool, as_json: bool) -> None:
    """(Re)generate extracted/CONTEXT/CONTEXT/ from monolith/CONTEXT/ (default: all)."""
    report: dict[str, dict[str, Any]] = {}
    for context in contexts or scaffold.CONTEXTS:
        if check:
            report[context] = {
                "stale": {
                    str(difference.path.relative_to(scaffold.REPO)): difference.problem
                    for difference in scaffold.check(context)
                }
            }
        else:
            written = scaffold.write(context)
            report[context] = {"written": [str(p.relative_to(scaffold.REPO)) for p in written]}
    stale = any(result.get("stale") for result in report.values())
    if as_json:
        echo_json(report)
    elif check:
        for result in report.values():
            for path, problem in result["stale"].items():
                click.echo(f"{path}: {problem}")
    else:
        for context, result in report.items():
            written_count = len(result["written"])
            click.echo(
                f"{context}: {written_count} file(s) written"
                if written_count
                else f"{context}: up to date"
            )
    if stale:
        click.echo("run `carve extract scaffold` to regenerate", err=True)
        sys.exit(1)


@extract.command()
@click.argument("context", type=CONTEXT)
@click.option("--restart", is_flag=True, help="Start from the beginning instead of resuming.")
@json_option(
    help="Print {AGGREGATE: {read, copied, resumed_after}} instead of lines (the progress "
    "bar stays on stderr)."
)
def backfill(context: str, restart: bool, as_json: bool) -> None:
    """Copy the monolith's current CONTEXT state into the service (idempotent, resumable).

    Reads MONOLITH_DATABASE_URL, writes the service's DATABASE_URL. Safe while events
    flow: a row is copied only where the service's version is older.
    """
    use_service(context)
    from extracted import sync

    total = sum(sync.count(aggregate, sync.MONOLITH_DB) for aggregate in sync.AGGREGATES[context])
    with Progress(
        TextColumn(f"backfill {context}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("rows", total=total)
        try:
            copied = sync.backfill(
                context, restart=restart, progress=lambda n: bar.advance(task, n)
            )
        except sync.BackfillError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json({f"{context}.{name}": asdict(done) for name, done in copied.items()})
        return
    for name, done in copied.items():
        resumed = f", resumed after {done.resumed_after}" if done.resumed_after else ""
        click.echo(f"backfill {context}.{name}: {done.copied} copied of {done.read} read{resumed}")


def _verify_elsewhere(context: str) -> list[dict[str, Any]]:
    """Each service has its own settings, and Django loads one per process."""
    result = subprocess.run(
        [sys.executable, "-m", "carve", "extract", "verify", context, "--json"],
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        raise click.ClickException(f"verifying {context} failed: {result.stderr.strip()}")
    loaded: list[dict[str, Any]] = json.loads(result.stdout)
    return loaded


@extract.command()
@click.argument("contexts", nargs=-1, type=CONTEXT)
@json_option(help="One JSON document instead of tables: a list, one item per aggregate.")
def verify(contexts: tuple[str, ...], as_json: bool) -> None:
    """Compare each service with the monolith per aggregate; exit 1 on any drift.

    Counts and a checksum per kind of aggregate, then every aggregate that is missing on
    one side or differs (and in which fields). Default: every extracted context.
    """
    chosen = contexts or scaffold.CONTEXTS
    if len(chosen) == 1:
        use_service(chosen[0])
        from extracted import sync

        report = [drift.__dict__ | {"clean": drift.clean} for drift in sync.verify(chosen[0])]
    else:
        report = [drift for context in chosen for drift in _verify_elsewhere(context)]
    if as_json:
        echo_json(report)
    else:
        _print_report(report)
    if not all(drift["clean"] for drift in report):
        sys.exit(1)


def _print_report(report: list[dict[str, Any]]) -> None:
    table = Table(title="monolith vs extracted")
    for column in ("aggregates", "monolith", "service", "checksums", "drift"):
        table.add_column(column)
    for drift in report:
        same = drift["checksum_monolith"] == drift["checksum_service"]
        problems = (
            len(drift["only_in_monolith"]) + len(drift["only_in_service"]) + len(drift["different"])
        )
        table.add_row(
            drift["aggregate"],
            str(drift["total_monolith"]),
            str(drift["total_service"]),
            "equal" if same else f"{drift['checksum_monolith']} != {drift['checksum_service']}",
            "none" if drift["clean"] else f"[red]{problems}[/red]",
        )
    Console().print(table)
    for drift in report:
        for key in drift["only_in_monolith"][:20]:
            click.echo(f"{drift['aggregate']} {key}: only in the monolith")
        for key in drift["only_in_service"][:20]:
            click.echo(f"{drift['aggregate']} {key}: only in the service")
        for key, fields in list(drift["different"].items())[:20]:
            click.echo(f"{drift['aggregate']} {key}: differs in {', '.join(fields)}")
