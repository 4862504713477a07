"""The services of the example deployment, by name: where their settings live.

CLI commands that read or write a service's own database (events, extract) pick the
service with --service and load its settings before Django starts.
"""

from __future__ import annotations

import os

import click

SETTINGS_MODULES: dict[str, str] = {
    "monolith": "monolith.config.settings.base",
    "payments": "extracted.payments.config.settings",
    "inventory": "extracted.inventory.config.settings",
}


def use_service(name: str) -> None:
    """Configure Django for service `name` (an explicit DJANGO_SETTINGS_MODULE wins)."""
    if name not in SETTINGS_MODULES:
        known = ", ".join(sorted(SETTINGS_MODULES))
        raise click.BadParameter(
            f"unknown service {name!r}; use one of {known}", param_hint="--service"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULES[name])
    # One shell can hold every service's database: PAYMENTS_DATABASE_URL etc. name the
    # database of the service a command works on (each service itself reads DATABASE_URL).
    own = os.environ.get(f"{name.upper()}_DATABASE_URL")
    if own:
        os.environ["DATABASE_URL"] = own
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from None
    _require_migrated(name)


def _require_migrated(name: str) -> None:
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor
    from django.db.utils import Error as DatabaseError

    connection = connections[DEFAULT_DB_ALIAS]
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise click.ClickException(f"the {name} database is unreachable: {exc}") from None
    if pending:
        raise click.ClickException(
            f"the {name} database has {len(pending)} unapplied migration(s); "
            f"run `carve {name} migrate` (or `make migrate`) first"
        )


def service_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--service",
        envvar="CARVE_SERVICE",
        default="monolith",
        show_default=True,
        show_envvar=True,
        help="Which service's database and queue to use.",
    )(function)


HELP_ASKED = "carve.help_asked"


class ServiceGroup(click.Group):
    """A group whose callback sets up a service (Django, its database): it notes whether
    help was asked for anywhere on the line, because the callback runs before the
    subcommand sees `--help`, and `carve events tail --help` needs no database."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[HELP_ASKED] = any(arg in ctx.help_option_names for arg in args)
        return super().parse_args(ctx, args)


def help_asked(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(HELP_ASKED))
