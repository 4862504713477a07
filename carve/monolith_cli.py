"""`carve monolith ...`: manage.py of the example monolith, reachable from any directory."""

from __future__ import annotations

import os

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def monolith(args: tuple[str, ...]) -> None:
    """Run a manage.py command of the monolith, e.g. `carve monolith seed --users 50`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monolith.config.settings.base")
    from servicekit.manage import run_manage

    run_manage(["carve monolith", *args])
