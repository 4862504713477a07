"""The `carve` command: one entry point, each part plugs in its own subcommand.

Subcommands are imported lazily so `carve --help` stays fast and a part's heavy
dependencies (libcst, aiohttp, Django) load only when that part runs.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# name -> "module:attribute" of a click command; append as parts land.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # The text is the command's own first sentence (a test checks they agree): listing the
    # commands imports none of them.
    "analyze": (
        "analyzer.cli:analyze",
        "Suggest bounded contexts for the Python/Django code base under PATH.",
    ),
    "proxy": ("proxy.cli:proxy", "Run the strangler-fig proxy (default http://127.0.0.1:8080)."),
    "routes": ("proxy.cli:routes", "Show and change which side serves each route, at runtime."),
    "proxy-token": (
        "proxy.cli:proxy_token",
        "Mint an admin token that expires, for the proxy's tokens file.",
    ),
    "contracts": (
        "carve.contracts_cli:contracts",
        "Event schemas shared by the monolith and the services.",
    ),
    "events": (
        "messaging.cli:events",
        "The event flow of one service (outbox, broker, inbox, dead letters).",
    ),
    "extract": (
        "extracted.cli:extract",
        "Move a context out of the monolith: scaffold, backfill, verify.",
    ),
    "parity": (
        "parity.cli:parity",
        "Compare the all-monolith deployment with the extracted one, scenario by scenario.",
    ),
    "demo": (
        "carve.demo_cli:demo",
        "Walk through a migration: analyze, shadow, canary, extract, flip back, check nothing "
        "was lost.",
    ),
    "stack": (
        "carve.stack_cli:stack",
        "Run the example deployment (monolith, payments, inventory, proxy) locally.",
    ),
    "monolith": (
        "carve.monolith_cli:monolith",
        "Run a manage.py command of the example monolith (migrate, seed, createsuperuser...).",
    ),
}


def _available(target: str) -> bool:
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (target, _) in SUBCOMMANDS.items() if _available(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        module_name, attribute = entry[0].split(":", 1)
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the registry so listing commands imports nothing heavy.
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="carve")
def cli() -> None:
    """carve: take a Django monolith apart into services without breaking it."""


def main() -> None:
    cli(prog_name="carve")


if __name__ == "__main__":
    main()
