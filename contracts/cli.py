"""`carve contracts`: export and check the published event schemas."""

from __future__ import annotations

import sys

import click

from contracts import export as exporter


@click.group()
def contracts() -> None:
    """Event schemas shared by the monolith and the services."""


@contracts.command("export")
def export_command() -> None:
    """Write contracts/schemas/*.json for newly registered event versions."""
    written, refused = exporter.export()
    for name in written:
        click.echo(f"wrote {name}")
    for name in refused:
        click.echo(
            f"refused {name}: a published schema never changes; register a new version",
            err=True,
        )
    if not written and not refused:
        click.echo("schemas are up to date")
    if refused:
        sys.exit(1)


@contracts.command("check")
def check_command() -> None:
    """Exit non-zero if the code and the published schemas disagree."""
    problems = exporter.check_drift()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo("schemas match the code")
