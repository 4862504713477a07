"""`carve parity`: list the scenarios, run them against two deployments, or against a
private deployment flipped between the two passes.

Exit codes: 0 both sides agree, 1 differences found, 2 parity could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from carve.output import echo_json, json_format, json_option
from parity.output import emit
from parity.report import FORMATS
from parity.runner import ParityError
from parity.scenarios import Scenario, UnknownScenario, load, select
from parity.session import Options

err = Console(stderr=True, highlight=False)


class CouldNotRun(click.ClickException):
    exit_code = 2


def _staff(value: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise click.BadParameter("give it as USER:PASSWORD", param_hint="--staff")
    return user, password


def _scenarios(patterns: tuple[str, ...], modules: tuple[str, ...]) -> list[Scenario]:
    try:
        return select(patterns, modules)
    except UnknownScenario as exc:
        raise click.UsageError(f"{exc} (see `carve parity list`)") from None
    except ImportError as exc:
        raise click.UsageError(f"cannot import a scenario module: {exc}") from None


def common(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options `run` and `stack` share."""
    options = [
        click.option(
            "--scenario",
            "-s",
            "scenario_names",
            multiple=True,
            metavar="NAME",
            help="A scenario, or a pattern (order_*); repeat or comma-separate. Default: all.",
        ),
        click.option(
            "--module",
            "modules",
            multiple=True,
            metavar="MODULE",
            help="Import MODULE for scenarios of your own (importable Python module name).",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="The report's format (on the terminal, or in --out).",
        ),
        json_option(help="The same as --format json."),
        click.option(
            "--out",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the report to this file (the terminal gets the verdict).",
        ),
        click.option(
            "--export-tests",
            type=click.Path(file_okay=False, path_type=Path),
            metavar="DIR",
            help="Write a pytest file per difference into DIR, each reproducing it.",
        ),
        click.option(
            "--deadline",
            type=click.FloatRange(1, 3600),
            default=60.0,
            show_default=True,
            help="Seconds an eventual state (a saga, a refund, replication) may take.",
        ),
        click.option(
            "--jobs",
            type=click.IntRange(1, 32),
            default=4,
            show_default=True,
            help="Scenarios run at the same time against a deployment.",
        ),
        click.option(
            "--staff",
            default="admin:admin",
            show_default=True,
            metavar="USER:PASSWORD",
            help="A staff account (the scenarios set stock levels and add products).",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="No accepted differences: a 409 for stock vs a saga-cancelled order differs.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _options(deadline: float, jobs: int, staff: str, strict: bool) -> Options:
    return Options(deadline=deadline, jobs=jobs, staff=_staff(staff), strict=strict)


def _progress(message: str) -> None:
    err.print(f"[dim]parity: {message}[/]")


@click.group()
def parity() -> None:
    """Compare the all-monolith deployment with the extracted one, scenario by scenario.

    Each scenario (register, browse, order, pay, cancel, race...) runs against both; the
    answers are normalised (ids, timestamps, hosts) and compared step by step, eventual
    states are polled to a deadline, both sides' data is checked, and the proxy's shadow
    mismatches are added. Exit 0: no difference; 1: differences; 2: could not run.
    """


@parity.command("list")
@click.option("--module", "modules", multiple=True, metavar="MODULE", help="Also list these.")
@json_option(help='Print [{"name": ..., "description": ...}, ...] instead of a table.')
def list_command(modules: tuple[str, ...], as_json: bool) -> None:
    """List the scenarios (name and what they check)."""
    try:
        scenarios = load(modules)
    except ImportError as exc:
        raise click.UsageError(f"cannot import a scenario module: {exc}") from None
    if as_json:
        echo_json([{"name": s.name, "description": s.description} for s in scenarios])
        return
    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("scenario")
    table.add_column("what it checks")
    for scenario in scenarios:
        table.add_row(scenario.name, scenario.description)
    Console(highlight=False).print(table)


def shadow_of(admin: Any) -> Callable[[float], Any]:
    from parity.checks import collect_shadow

    return lambda since: collect_shadow(admin, since)


@parity.command()
@click.option(
    "--monolith-url",
    required=True,
    envvar="PARITY_MONOLITH_URL",
    metavar="URL",
    help="The deployment with everything on the monolith (its proxy's URL).",
)
@click.option(
    "--extracted-url",
    required=True,
    envvar="PARITY_EXTRACTED_URL",
    metavar="URL",
    help="The deployment with payments and inventory extracted (its proxy's URL).",
)
@click.option(
    "--admin-url",
    metavar="URL",
    help="A proxy whose shadow mismatches to add (default: --monolith-url).",
)
@click.option(
    "--admin-token",
    envvar="CARVE_ADMIN_TOKEN",
    metavar="TOKEN",
    help="That proxy's admin token (default: $CARVE_ADMIN_TOKEN); without it, no shadow figures.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="After each pass run `carve extract verify` in this shell's environment "
    "(*_DATABASE_URL of that deployment) until both sides' data agree or the deadline.",
)
@common
def run(
    monolith_url: str,
    extracted_url: str,
    admin_url: str | None,
    admin_token: str | None,
    verify: bool,
    scenario_names: tuple[str, ...],
    modules: tuple[str, ...],
    fmt: str,
    as_json: bool,
    out: Path | None,
    export_tests: Path | None,
    deadline: float,
    jobs: int,
    staff: str,
    strict: bool,
) -> None:
    """Run the scenarios against two running deployments and compare them.

    Both URLs are the address a client uses (the proxy). The two deployments should
    start from the same demo data; parity makes its own accounts and sets the stock it
    needs, so it may run again and again.
    """
    from parity.checks import ProxyAdmin, verify_data
    from parity.runner import new_tag, preflight, run_parity
    from parity.session import Target

    fmt = json_format(fmt, as_json)
    chosen = _scenarios(scenario_names, modules)
    options = _options(deadline, jobs, staff, strict)
    left = Target("monolith", monolith_url.rstrip("/"), new_tag())
    right = Target("extracted", extracted_url.rstrip("/"), new_tag())
    admin = None
    admin_url = (admin_url or monolith_url).rstrip("/")
    try:
        for target in (left, right):
            preflight(target, options)
        if admin_token:
            admin = ProxyAdmin(admin_url, admin_token)
            admin.routes()  # fails now, plainly, on a wrong URL or token
        report = run_parity(
            left,
            right,
            chosen,
            options,
            check=(
                (lambda t: verify_data(f"after the {t.label} pass", None, max(deadline, 30.0)))
                if verify
                else None
            ),
            shadow=shadow_of(admin) if admin else None,
            progress=_progress,
        )
    except ParityError as exc:
        raise CouldNotRun(str(exc)) from None
    if admin is None:
        report.shadow_note = "not collected: give the proxy's admin token (--admin-token)"
    emit(report, fmt, out, export_tests, direct=True, admin_url=admin_url if admin else None)


@parity.command()
@click.option(
    "--baseline",
    type=click.Choice(["shadow", "monolith"]),
    default="shadow",
    show_default=True,
    help="Route state of the first pass (shadow: the proxy compares reads too).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Keep the deployment's var/ folder (databases, logs) in DIR.",
)
@common
def stack(
    baseline: str,
    keep: Path | None,
    scenario_names: tuple[str, ...],
    modules: tuple[str, ...],
    fmt: str,
    as_json: bool,
    out: Path | None,
    export_tests: Path | None,
    deadline: float,
    jobs: int,
    staff: str,
    strict: bool,
) -> None:
    """Start a private deployment, run the scenarios twice, compare; then stop it.

    One deployment (monolith, payments, inventory with workers and relays, the proxy) on
    free ports in embedded mode: the first pass with the payments and inventory routes in
    BASELINE, the second with both extracted, handed over in between; `carve extract
    verify` after each pass; the proxy's shadow mismatches added. About two minutes.
    """
    from parity.flip import run_flipped
    from parity.stackrun import private_stack

    fmt = json_format(fmt, as_json)
    chosen = _scenarios(scenario_names, modules)
    options = _options(deadline, jobs, staff, strict)
    try:
        with private_stack(keep, progress=_progress) as deployment:
            deployment.states["monolith"] = baseline
            report = run_flipped(deployment, chosen, options, progress=_progress)
    except ParityError as exc:
        raise CouldNotRun(str(exc)) from None
    emit(report, fmt, out, export_tests, direct=False)
