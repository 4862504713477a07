"""Output options of every `carve` command: `--json` on the command that prints.

`--json` goes on the subcommand (`carve routes list --json`); a group may take it too
(`carve routes --json list`, the older form), and then it holds for every command below
it. Each command's JSON is one document (`events tail`: one per line) whose shape
README.md documents; it is printed alone on stdout (progress and notes go to stderr).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

F = TypeVar("F", bound=Callable[..., Any])

_ASKED = "carve.output.json"  # in ctx.meta, which a group shares with its subcommands


def _note(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_ASKED] = True
    return value or bool(ctx.meta.get(_ASKED))


JSON_HELP = "Print one JSON document instead of text (its shape: README.md)."


def json_option(help: str = JSON_HELP) -> Callable[[F], F]:
    """`--json` on a command (its `as_json` parameter), true as well when a group above
    the command was given `--json`."""
    return click.option("--json", "as_json", is_flag=True, callback=_note, help=help)


def echo_json(data: Any) -> None:
    """The one way a command prints its JSON: indented, keys in the command's order."""
    click.echo(json.dumps(data, indent=2))


def json_format(fmt: str, as_json: bool, param: str = "fmt") -> str:
    """For a command that also has `--format`: `--json` is `--format json`; both, naming
    different formats, is a usage error rather than a guess."""
    if not as_json:
        return fmt
    ctx = click.get_current_context()
    if fmt != "json" and ctx.get_parameter_source(param) is not ParameterSource.DEFAULT:
        raise click.UsageError(f"--json means --format json; it cannot go with --format {fmt}")
    return "json"
