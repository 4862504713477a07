import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from carve.cli import cli

CARVE = str(Path(sys.executable).with_name("carve"))


def test_carve_help_lists_the_subcommands_that_exist():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "monolith" in result.output
    assert "Commands" in result.output


def test_an_unknown_subcommand_is_a_clear_error():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.output


def test_the_installed_console_command_runs_manage_py_commands():
    result = subprocess.run(
        [CARVE, "monolith", "check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
