"""`carve contracts`: export and check the published event schemas.

The command lives here, not in contracts/: contracts are the shared language and import
no other part, while a command takes the CLI's own output options (carve.output).
"""

from __future__ import annotations

import sys

import click

from carve.output import echo_json, json_option
from contracts import export as exporter


@click.group()
def contracts() -> None:
    """Event schemas shared by the monolith and the services."""


@contracts.command("export")
@json_option(help='Print {"written": [FILE...], "refused": [FILE...]} instead of lines.')
def export_command(as_json: bool) -> None:
    """Write contracts/schemas/*.json for newly registered event versions."""
    written, refused = exporter.export()
    if as_json:
        echo_json({"written": written, "refused": refused})
    else:
        for name in written:
            click.echo(f"wrote {name}")
        if not written and not refused:
            click.echo("schemas are up to date")
    for name in refused:
        click.echo(
            f"refused {name}: a published schema never changes; register a new version",
            err=True,
        )
    if refused:
        sys.exit(1)


@contracts.command("check")
@json_option(help='Print {"problems": [...]} (empty when code and schemas agree) instead.')
def check_command(as_json: bool) -> None:
    """Exit non-zero if the code and the published schemas disagree."""
    problems = exporter.check_drift()
    if as_json:
        echo_json({"problems": problems})
    else:
        for problem in problems:
            click.echo(problem, err=True)
        if not problems:
            click.echo("schemas match the code")
    if problems:
        sys.exit(1)
