"""Every `carve` command explains itself: each option has help text, defaults read plainly,
the top-level list says what each command does (in its own words), and every command is
in a README."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from carve.cli import SUBCOMMANDS, cli
from messaging.tests.conftest import events  # noqa: F401 (a fixture of the events runs)
from parity.tests.fakes import Fake, serving
from proxy.tests.conftest import TOKEN, live_proxy  # noqa: F401 (a fixture of the routes runs)

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


# Commands that print no data of their own, and why. Every other command takes `--json`
# itself (`carve routes list --json`), and prints one JSON document: JSON_RUNS runs each.
NO_JSON = {
    "proxy": "serves requests until stopped; what it prints is its log",
    "events relay": "publishes until stopped; what it prints is its log",
    "stack up": "runs the deployment until stopped; what it prints is its log",
    "demo": "a narration for a person, on a private stack",
    "monolith": "Django's manage.py: each of its commands prints what it prints",
    "stack prepare": "only acts (migrates, seeds); its exit code is its result",
    "proxy-token": "prints the one new token alone on stdout, for a script to capture as is",
}
LEAVES = [(path, command) for path, command in ALL if not isinstance(command, click.Group)]


def takes_json(command: click.Command) -> bool:
    return any(isinstance(p, click.Option) and "--json" in p.opts for p in command.params)


@pytest.mark.parametrize("path, command", LEAVES, ids=[" ".join(path) for path, _ in LEAVES])
def test_every_command_that_prints_data_takes_json_itself(
    path: list[str], command: click.Command
) -> None:
    name = " ".join(path)
    if name in NO_JSON:
        assert not takes_json(command), f"carve {name} takes --json: drop it from NO_JSON"
        return
    assert takes_json(command), f"carve {name}: no --json of its own (and not in NO_JSON)"
    assert name in JSON_RUNS or name in JSON_RUN_ELSEWHERE, f"no test runs carve {name} --json"


ROUTES_ENV = "routes"  # a live proxy (fakes behind it), CARVE_PROXY_URL and the token set
EVENTS_ENV = "events"  # the test database and a private namespace on this run's broker
CODE_ENV = "code"  # a code base of two modules to analyze, its path the last argument
PARITY_ENV = "parity"  # two fake deployments, --monolith-url and --extracted-url given


@dataclass(frozen=True)
class JsonRun:
    """`carve ARGS --json`, where the command needs `env`: its JSON must parse and hold
    `expect` (a key of the documented shape, or the whole answer), exit code `code`."""

    args: tuple[str, ...]
    expect: Callable[[Any], bool]
    env: str = ""
    code: int = 0
    first: tuple[str, ...] = ()  # a command to run before, in the same env


JSON_RUNS: dict[str, JsonRun] = {
    "routes list": JsonRun(("routes", "list"), lambda d: "routes" in d, ROUTES_ENV),
    "routes show": JsonRun(
        ("routes", "show", "payments"), lambda d: d["name"] == "payments", ROUTES_ENV
    ),
    "routes set": JsonRun(
        ("routes", "set", "payments", "shadow"), lambda d: d["change"]["to"] == "shadow", ROUTES_ENV
    ),
    "routes canary": JsonRun(
        ("routes", "canary", "payments", "10"),
        lambda d: d["change"]["to"] == "canary 10",
        ROUTES_ENV,
    ),
    "routes history": JsonRun(("routes", "history"), lambda d: d["history"] == [], ROUTES_ENV),
    "routes restore": JsonRun(
        ("routes", "restore", "--force"),  # the store is healthy: restoring it is a no-op
        lambda d: d["applied"] is False and d["plan"]["noop"] is True,
        ROUTES_ENV,
        first=("routes", "set", "payments", "shadow"),  # the proxy holds a table from then on
    ),
    "routes explain": JsonRun(
        ("routes", "explain", "GET", "/api/payments/"),
        lambda d: d["backend"] == "monolith",
        ROUTES_ENV,
    ),
    "events stats": JsonRun(("events", "stats"), lambda d: d["backlog"] == 0, EVENTS_ENV),
    "events declare": JsonRun(
        ("events", "declare"), lambda d: d["queue"].endswith("monolith"), EVENTS_ENV
    ),
    "events dlq list": JsonRun(("events", "dlq", "list"), lambda d: d == [], EVENTS_ENV),
    "events dlq replay": JsonRun(
        ("events", "dlq", "replay", "--all"), lambda d: d == {"replayed": 0}, EVENTS_ENV
    ),
    "extract scaffold": JsonRun(
        ("extract", "scaffold", "--check"),
        lambda d: d == {context: {"stale": {}} for context in ("payments", "inventory")},
    ),
    "contracts export": JsonRun(
        ("contracts", "export"), lambda d: d == {"written": [], "refused": []}
    ),
    "contracts check": JsonRun(("contracts", "check"), lambda d: d == {"problems": []}),
    "parity list": JsonRun(
        ("parity", "list"), lambda d: {"name", "description"} == set(d[0]) and len(d) > 5
    ),
    "parity run": JsonRun(
        ("parity", "run", "--module", "parity.tests.fake_scenarios", "-s", "fake_charges"),
        lambda d: d["clean"] is True,
        PARITY_ENV,
    ),
    "analyze": JsonRun(
        ("analyze", "--no-cache"), lambda d: d["schema"] == "carve.analyze/1", CODE_ENV
    ),
}
# Run with --json by the tests that set up what they need anyway (a broker stream, two
# databases, a whole deployment).
JSON_RUN_ELSEWHERE = {
    "events tail": "messaging/tests/test_cli.py::test_tail_follows_the_stream_with_filters",
    "extract verify": "tests/integration/test_backfill.py",
    "extract backfill": "tests/integration/test_backfill.py",
    # Not run with --json by any test (a deployment of its own, ~2 min): its report goes
    # through the same json_format and emit() as `parity run`'s.
    "parity stack": "test_json_and_another_format_is_a_usage_error only",
}


def environment(
    kind: str, request: pytest.FixtureRequest, stack: contextlib.ExitStack
) -> tuple[dict[str, str], list[str]]:
    """What a run of kind `kind` needs (from the asking test's fixtures, or held open by
    `stack`): the environment and the arguments to add."""
    if kind == ROUTES_ENV:
        live = request.getfixturevalue("live_proxy")
        return {"CARVE_PROXY_URL": live.url, "CARVE_ADMIN_TOKEN": TOKEN}, []
    if kind == EVENTS_ENV:
        request.getfixturevalue("events")
    if kind == CODE_ENV:
        root = request.getfixturevalue("tmp_path")
        for module, source in {
            "orders/models": "from shop.users import api",
            "users/api": "",
        }.items():
            (root / "shop" / module).parent.mkdir(parents=True, exist_ok=True)
            (root / "shop" / f"{module}.py").write_text(source + "\n")
        return {}, [str(root)]
    if kind == PARITY_ENV:
        monolith = stack.enter_context(serving(Fake("captured")))
        extracted = stack.enter_context(serving(Fake("captured")))
        return {}, ["--monolith-url", monolith.url, "--extracted-url", extracted.url]
    return {}, []


def json_run(name: str) -> Any:
    """The test database is set up by a mark, not by asking for the fixture later."""
    needs_db = JSON_RUNS[name].env == EVENTS_ENV
    return pytest.param(name, marks=[pytest.mark.django_db(transaction=True)] if needs_db else [])


@pytest.mark.parametrize("name", [json_run(name) for name in sorted(JSON_RUNS)])
def test_json_on_the_subcommand_prints_one_json_document(
    name: str, request: pytest.FixtureRequest
) -> None:
    run = JSON_RUNS[name]
    with contextlib.ExitStack() as stack:
        env, more = environment(run.env, request, stack)
        if run.first:
            assert CliRunner().invoke(cli, run.first, env=env).exit_code == 0
        result = CliRunner().invoke(cli, [*run.args, *more, "--json"], env=env)
    assert result.exit_code == run.code, result.output
    assert run.expect(json.loads(result.stdout)), result.stdout


def test_routes_still_takes_json_before_the_subcommand(request: pytest.FixtureRequest) -> None:
    with contextlib.ExitStack() as stack:
        env, _ = environment(ROUTES_ENV, request, stack)
        result = CliRunner().invoke(cli, ["routes", "--json", "history"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["history"] == []


@pytest.mark.parametrize("path", [["analyze", "."], ["parity", "stack"]], ids=" ".join)
def test_json_and_another_format_is_a_usage_error(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--format", "html", "--json"])
    assert result.exit_code == 2
    assert "--json means --format json; it cannot go with --format html" in result.output
