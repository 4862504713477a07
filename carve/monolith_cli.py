"""`carve monolith ...`: manage.py of the example monolith, reachable from any directory."""

from __future__ import annotations

import os

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,  # `carve monolith seed --help` is Django's help of seed
    options_metavar="",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="COMMAND [ARGS]...")
@click.pass_context
def monolith(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run a manage.py command of the example monolith (migrate, seed, createsuperuser...).

    `carve monolith help` lists every command, `carve monolith help seed` (or `carve
    monolith seed --help`) shows one; e.g. `carve monolith seed --users 50`.
    """
    if list(args) in (["--help"], ["-h"]):  # about this command, not Django's list
        click.echo(ctx.get_help())
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monolith.config.settings.base")
    from servicekit.manage import run_manage

    run_manage(["carve monolith", *args])
