"""Every `carve` command explains itself: each option has help text, defaults read plainly,
the top-level list says what each command does (in its own words), and every command is
in a README."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from carve.cli import SUBCOMMANDS, cli

REPO = Path(__file__).resolve().parent.parent
READMES = [REPO / "README.md", *sorted(REPO.glob("*/README.md"))]


def commands() -> Iterator[tuple[list[str], click.Command]]:
    def walk(command: click.Command, path: list[str], ctx: click.Context) -> Iterator:
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                yield from walk(sub, [*path, name], click.Context(sub, parent=ctx, info_name=name))

    yield from walk(cli, [], click.Context(cli, info_name="carve"))


ALL = list(commands())
IDS = [" ".join(path) or "carve" for path, _ in ALL]


@pytest.mark.parametrize("path, command", ALL, ids=IDS)
def test_every_option_has_help_and_a_plain_default(path: list[str], command: click.Command) -> None:
    undocumented = [
        "/".join(param.opts)
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and not param.help
    ]
    assert not undocumented, f"carve {' '.join(path)}: options without help: {undocumented}"
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="carve", terminal_width=100)
    assert result.exit_code == 0, result.output
    assert f"Usage: carve {' '.join(path)}".rstrip() in result.output
    assert "[default: (" not in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_the_top_level_list_says_what_the_command_itself_says(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert SUBCOMMANDS[name][1] == command.get_short_help_str(limit=120)


def test_carve_monolith_help_is_ours_and_points_at_djangos_list() -> None:
    result = CliRunner().invoke(cli, ["monolith", "--help"], prog_name="carve")
    assert result.exit_code == 0
    assert "Usage: carve monolith COMMAND [ARGS]..." in result.output
    assert "carve monolith help" in result.output
    assert "[django]" not in result.output  # not Django's list of every command


@pytest.mark.parametrize(
    "path",
    [path for path, command in ALL if path and not isinstance(command, click.Group)],
    ids=lambda path: " ".join(path),
)
def test_every_command_is_in_a_readme(path: list[str]) -> None:
    pattern = re.compile(r"carve (--?[\w-]+ \S+ )?" + re.escape(" ".join(path)) + r"\b")
    assert any(pattern.search(readme.read_text()) for readme in READMES), (
        f"`carve {' '.join(path)}` is in no README"
    )
