"""`carve demo`: a migration in a few minutes, on a private stack (see carve/demo.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from carve.stack import Ports


@click.command()
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=18000,
    show_default=True,
    help="Ports BASE..BASE+2 for the services, BASE+80 for the proxy.",
)
@click.option(
    "--hold",
    type=click.FloatRange(2, 600),
    default=10,
    show_default=True,
    help="Seconds of traffic in each route state.",
)
def demo(base_port: int, hold: float) -> None:
    """Walk through a migration: analyze, shadow, canary, extract, flip back, check nothing
    was lost. Runs its own stack under var/demo; exits 0 only if everything held."""
    var_dir = Path(os.environ.get("CARVE_VAR_DIR", "var")).resolve() / "demo"
    if var_dir.exists():
        import shutil

        shutil.rmtree(var_dir)  # every demo starts from a fresh deployment
    from carve.demo import run

    ports = Ports(base_port, base_port + 1, base_port + 2, base_port + 80)
    sys.exit(run(var_dir, ports, hold))
