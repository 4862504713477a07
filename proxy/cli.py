"""`carve proxy` (run it) and `carve routes` (look at and change the route table)."""

from __future__ import annotations

import dataclasses
import getpass
import socket
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from carve.output import echo_json, json_option
from proxy.adminclient import AdminClient, AdminError
from proxy.config import ConfigError, default_config, load_config

STATE_STYLE = {"monolith": "", "shadow": "magenta", "canary": "yellow", "extracted": "green"}


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CARVE_PROXY_CONFIG",
    help="TOML or YAML config (default: everything to the monolith on :8000).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the port (SO_REUSEPORT).",
)
@click.option("--listen", help="HOST:PORT to serve on (overrides the config).")
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log one line per request, naming the routing decision.",
)
def proxy(config_path: str | None, workers: int, listen: str | None, access_log: bool) -> None:
    """Run the strangler-fig proxy (default http://127.0.0.1:8080)."""
    from proxy.server import check_port, serve_worker, supervise

    try:
        config = load_config(config_path) if config_path else default_config()
        if listen:
            host, _, port = listen.rpartition(":")
            config = dataclasses.replace(config, host=host.strip("[]") or "0.0.0.0", port=int(port))
        if config.admin_token is None and config.admin_tokens_file is None:
            click.echo(
                "admin API off: set CARVE_ADMIN_TOKEN (or CARVE_ADMIN_TOKENS_FILE) to use "
                "`carve routes` and /_carve/ui",
                err=True,
            )
        if workers == 1:
            check_port(config)
            serve_worker(config, access_log)
        else:
            sys.exit(supervise(config, workers, access_log))
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.option(
    "--url",
    envvar="CARVE_PROXY_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The proxy's address (CARVE_PROXY_URL).",
)
@click.option("--token", envvar="CARVE_ADMIN_TOKEN", help="Admin token (CARVE_ADMIN_TOKEN).")
@json_option(help="Same as --json on the subcommand (the older place for it, still accepted).")
@click.pass_context
def routes(ctx: click.Context, url: str, token: str | None, as_json: bool) -> None:
    """Show and change which side serves each route, at runtime."""
    # as_json here is for compatibility: each subcommand's own --json is true with it.
    actor = f"{getpass.getuser()}@{socket.gethostname()}"
    ctx.obj = Output(AdminClient(url, token, actor))


ROUTES_JSON = "Print the admin API's JSON answer instead of a table."


class Output:
    def __init__(self, client: AdminClient) -> None:
        self.client = client
        self.console = Console()

    def fetch(
        self,
        verb: str,
        endpoint: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            if verb == "PUT":
                return self.client.put(endpoint, params or {})
            if verb == "POST":
                return self.client.post(endpoint, params or {})
            return self.client.get(endpoint, params, headers)
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None

    def show(self, data: Any, table: Table | str, as_json: bool) -> None:
        if as_json:
            echo_json(data)
        else:
            self.console.print(table)


def _state(text: str, mode: str) -> str:
    style = STATE_STYLE.get(mode, "")
    return f"[{style}]{text}[/]" if style else text


def _routes_table(data: dict[str, Any]) -> Table:
    table = Table(title=f"routes (table v{data['version']}, store {data['store']})")
    for column in ("route", "match", "methods", "service", "state", "breaker"):
        table.add_column(column)
    for r in data["routes"]:
        methods = ",".join(r["methods"]) if r["methods"] else "all"
        table.add_row(
            r["name"],
            r["match"],
            methods,
            r["service"],
            _state(r["state"], r["mode"]),
            r["breaker"],
        )
    table.caption = f"everything else: {data['default']}"
    return table


def _history_table(changes: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("when (UTC)", "route", "from", "to", "who"):
        table.add_column(column)
    for c in changes:
        table.add_row(c["at"][:19].replace("T", " "), c["route"], c["from"], c["to"], c["who"])
    return table


@routes.command("list")
@json_option(help=ROUTES_JSON)
@click.pass_obj
def list_routes(out: Output, as_json: bool) -> None:
    """Every route and who serves it now."""
    data = out.fetch("GET", "/routes")
    out.show(data, _routes_table(data), as_json)


@routes.command()
@click.argument("route")
@json_option(help=ROUTES_JSON)
@click.pass_obj
def show(out: Output, route: str, as_json: bool) -> None:
    """One route: its match, state and recent changes."""
    data = out.fetch("GET", f"/routes/{_quote(route)}")
    methods = ",".join(data["methods"]) if data["methods"] else "all"
    rows = [
        ("match", f"{data['kind']} {data['match']}"),
        ("methods", methods),
        ("service", data["service"]),
        ("state", _state(data["state"], data["mode"])),
        ("breaker", data["breaker"]),
    ]
    out.show(data, _fields(f"route {data['name']}", rows), as_json)
    if not as_json:
        out.console.print(_history_table(data["history"], f"changes of {data['name']}"))


@routes.command("set")
@click.argument("route")
@click.argument("state", type=click.Choice(["monolith", "shadow", "extracted"]))
@json_option(help=ROUTES_JSON)
@click.pass_obj
def set_route(out: Output, route: str, state: str, as_json: bool) -> None:
    """Move ROUTE to monolith, shadow or extracted."""
    _change(out, route, state, as_json)


@routes.command()
@click.argument("route")
@click.argument("percent", type=click.IntRange(1, 100))
@json_option(help=ROUTES_JSON)
@click.pass_obj
def canary(out: Output, route: str, percent: int, as_json: bool) -> None:
    """Serve PERCENT (1-100) of users (sticky by user id or cookie) on ROUTE from the
    service; its writes go to the service. There is no canary 0: use shadow."""
    _change(out, route, f"canary {percent}", as_json)


def _change(out: Output, route: str, state: str, as_json: bool) -> None:
    """PUT the change with a change id of its own; when the answer leaves it unsure
    whether the change was applied (no answer, a 5xx), ask the proxy by that id, so a
    change is never reported lost when it was committed, nor applied twice."""
    change_id = uuid.uuid4().hex
    try:
        data = out.client.put(f"/routes/{_quote(route)}", {"state": state, "change_id": change_id})
    except AdminError as exc:
        if exc.body.get("applied") is False:  # refused, or not even sent: the proxy knows
            raise click.ClickException(f"{exc}; the change was NOT applied") from None
        if exc.body.get("applied") is True:  # recorded, but its record is unreadable
            raise click.ClickException(f"{exc}; the change WAS applied") from None
        if exc.status is not None and exc.status < 500:
            raise click.ClickException(str(exc)) from None
        data = _ask_by_change_id(out, change_id, exc)
    change = data["change"]
    out.show(
        data,
        f"{change['route']}: {change['from']} -> [bold]{change['to']}[/] "
        f"(by {change['who']}, {change['at'][:19]}Z, change {change['id'][:12]})",
        as_json,
    )


def _ask_by_change_id(out: Output, change_id: str, failure: AdminError) -> Any:
    try:
        return out.client.get(f"/changes/{change_id}")
    except AdminError as exc:
        if exc.status == 404:
            raise click.ClickException(f"{failure}; the change was NOT applied") from None
        if exc.body.get("applied") is True:
            raise click.ClickException(f"{failure}; the change WAS applied ({exc})") from None
        raise click.ClickException(
            f"{failure}; whether change {change_id} was applied is unknown ({exc}): "
            "see `carve routes history`"
        ) from None


@routes.command()
@json_option(help=ROUTES_JSON)
@click.option("--dry-run", is_flag=True, help="Only show what the restore would change.")
@click.option(
    "--force",
    is_flag=True,
    help="Write the table even when the store holds newer changes (they are undone).",
)
@click.option(
    "--seed",
    is_flag=True,
    help="Write the proxy's configured states instead of its table (an explicit re-seed).",
)
@click.pass_obj
def restore(out: Output, as_json: bool, dry_run: bool, force: bool, seed: bool) -> None:
    """Write the proxy's route table back to the store after it was wiped or replaced.

    A proxy never adopts an empty or older table on its own; this is the operator's word:
    the table the proxy serves becomes the store's new generation, at a version above
    every one seen, and every proxy adopts it. It shows the routes whose side changes;
    it writes nothing when the store already holds this table, and refuses to undo newer
    changes, or to discard the committed changes of another generation, without --force."""
    try:
        data = out.client.post("/restore", {"dry_run": dry_run, "force": force, "seed": seed})
    except AdminError as exc:
        plan = exc.body.get("plan")
        if plan is not None and not as_json:
            out.console.print(_diff_table(plan))
        raise click.ClickException(str(exc)) from None
    plan = data["plan"]
    if data["applied"]:
        restored = data["restored"]
        said = (
            f"restored {len(restored['states'])} routes to {data['store']} as generation "
            f"{restored['epoch']} at version {restored['version']} (the store {plan['store_was']})"
        )
    elif plan["noop"]:
        said = f"nothing to restore: the store {plan['store_was']}"
    else:
        said = f"dry run, nothing written: the store {plan['store_was']}"
    if as_json:
        out.show(data, said, as_json)
    else:
        if plan["diff"]:
            out.console.print(_diff_table(plan))
        out.console.print(said)


def _diff_table(plan: dict[str, Any]) -> Table:
    table = Table(title="routes whose side the restore changes")
    for column in ("route", "in the store now", "restored"):
        table.add_column(column)
    for d in plan["diff"]:
        table.add_row(d["route"], d["store"] or "(absent)", d["restored"] or "(absent)")
    return table


@routes.command()
@click.option("--route", help="Only this route's changes.")
@click.option(
    "--limit",
    type=int,
    default=50,
    show_default=True,
    help="How many of the most recent changes to show (oldest of them first).",
)
@json_option(help=ROUTES_JSON)
@click.pass_obj
def history(out: Output, route: str | None, limit: int, as_json: bool) -> None:
    """Who changed which route, when, from what to what."""
    data = out.fetch("GET", "/history", {"route": route, "limit": limit})
    out.show(data, _history_table(data["history"], "route changes"), as_json)


@routes.command()
@click.argument("method")
@click.argument("path")
@click.option("--user-token", help="A user's bearer token, to see their canary side.")
@click.option("--cookie", help="A carve_cohort cookie value, to see that client's canary side.")
@json_option(help=ROUTES_JSON)
@click.pass_obj
def explain(
    out: Output,
    method: str,
    path: str,
    user_token: str | None,
    cookie: str | None,
    as_json: bool,
) -> None:
    """Which backend would serve METHOD PATH, and why."""
    params = {"method": method, "path": path, "cookie": cookie}
    headers = {"X-Carve-Explain-Token": user_token} if user_token else None
    data = out.fetch("GET", "/explain", params, headers)
    if "rejected" in data:
        out.show(
            data, f"{method.upper()} {path}: [red]rejected with 400[/]: {data['rejected']}", as_json
        )
        return
    labels = (
        ("canonical path", "canonical"),
        ("route", "route"),
        ("matched by", "matched_by"),
        ("state", "state"),
        ("backend", "backend"),
        ("backend url", "backend_url"),
        ("why", "reason"),
        ("breaker", "breaker"),
        ("mirrored to", "shadow_to"),
        ("falls back to", "fallback"),
    )
    rows = [(label, "-" if data[key] is None else str(data[key])) for label, key in labels]
    out.show(data, _fields(f"{data['method']} {data['target']}", rows), as_json)


def _fields(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(show_header=False, title=title)
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


def _quote(route: str) -> str:
    from urllib.parse import quote

    return quote(route, safe="")


@click.command("proxy-token")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False),
    envvar="CARVE_ADMIN_TOKENS_FILE",
    required=True,
    help="The proxy's admin tokens file (CARVE_ADMIN_TOKENS_FILE, or admin_tokens_file).",
)
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="How long the token is accepted.",
)
@click.option(
    "--name",
    default=lambda: f"{getpass.getuser()}@{socket.gethostname()}",
    help="Who or what the token is for (the proxy logs it; default: user@host).",
)
def proxy_token(path: str, days: float, name: str) -> None:
    """Mint an admin token that expires, for the proxy's tokens file."""
    from pathlib import Path

    from proxy.access import TokenFileError, mint_token

    if not name.strip() or any(c.isspace() for c in name):
        raise click.BadParameter("one word, without spaces", param_hint="--name")
    try:
        token = mint_token(Path(path), days, name)
    except (OSError, TokenFileError) as exc:
        raise click.ClickException(str(exc)) from None
    assert token.not_after is not None
    until = datetime.fromtimestamp(token.not_after, UTC).strftime("%Y-%m-%d %H:%M UTC")
    click.echo(
        f"added to {path}: {name}, accepted until {until} (delete its line to revoke)", err=True
    )
    click.echo(token.secret.decode())
