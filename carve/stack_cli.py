"""`carve stack up`: every service, worker, relay and the proxy, in one terminal."""

from __future__ import annotations

import os
from pathlib import Path

import click

from carve.stack import SERVICES, Ports, Stack, StackConfig, StackError, admin_token
from servicekit.signals import stop_on_signals


@click.group()
def stack() -> None:
    """Run the example deployment (monolith, payments, inventory, proxy) locally."""


def database_urls() -> dict[str, str]:
    """Real mode: MONOLITH_DATABASE_URL, PAYMENTS_DATABASE_URL, INVENTORY_DATABASE_URL."""
    found = {name: os.environ.get(f"{name.upper()}_DATABASE_URL", "") for name in SERVICES}
    return {name: url for name, url in found.items() if url}


@stack.command()
@click.option("--seed/--no-seed", default=True, show_default=True, help="Create the demo data.")
def prepare(seed: bool) -> None:
    """Only the set-up: migrate every database, admins, queues, demo data (then exit)."""
    var_dir = Path(os.environ.get("CARVE_VAR_DIR", "var")).resolve()
    config = StackConfig(var_dir=var_dir, database_urls=database_urls())
    try:
        Stack(config).prepare(seed=seed)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("prepared: " + ", ".join(f"{name} migrated" for name in SERVICES))


@stack.command()
@click.option("--seed/--no-seed", default=True, show_default=True, help="Create the demo data.")
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=None,
    help="Ports BASE..BASE+2 for the services and BASE+80 for the proxy "
    "(default 8000, 8001, 8002, 8080).",
)
def up(seed: bool, base_port: int | None) -> None:
    """Start everything (embedded mode unless DATABASE_URLs say otherwise); Ctrl-C stops it."""
    var_dir = Path(os.environ.get("CARVE_VAR_DIR", "var")).resolve()
    ports = (
        Ports()
        if base_port is None
        else Ports(base_port, base_port + 1, base_port + 2, base_port + 80)
    )
    config = StackConfig(
        var_dir=var_dir,
        ports=ports,
        admin_token=admin_token(var_dir),
        database_urls=database_urls(),
    )
    running = Stack(config)
    stop = stop_on_signals()
    try:
        running.claim()  # before anything: a second stack must not touch the first one's var/
        click.echo("preparing: migrations, admin users, queues, demo data ...")
        running.prepare(seed=seed)
        running.start()
        running.wait_ready()
    except StackError as exc:
        running.stop()
        raise click.ClickException(str(exc)) from None
    urls = running.urls()
    click.echo("")
    click.echo(f"  through the proxy   {urls['proxy']}/api/        (what clients use)")
    click.echo(f"  proxy dashboard     {urls['proxy']}/_carve/ui   token: {config.admin_token}")
    click.echo(
        f"  monolith            {urls['monolith']}/api/docs/  admin {urls['monolith']}/admin/"
    )
    click.echo(
        f"  payments service    {urls['payments']}/api/docs/  admin {urls['payments']}/admin/"
    )
    click.echo(
        f"  inventory service   {urls['inventory']}/api/docs/  admin {urls['inventory']}/admin/"
    )
    click.echo("  admin login (every service): admin / admin; demo users user0001.. / carve-demo")
    click.echo(f"  routes: CARVE_ADMIN_TOKEN={config.admin_token} carve routes list")
    click.echo("  Ctrl-C stops everything.")
    click.echo("")
    while not stop.is_set():
        dead = [name for name, process in running.processes.items() if process.poll() is not None]
        if dead:
            click.echo(f"stopped unexpectedly: {', '.join(dead)}; stopping the rest", err=True)
            break
        stop.wait(0.5)
    click.echo("stopping ...")
    running.stop()
