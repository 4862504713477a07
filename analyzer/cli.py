"""`carve analyze`: the command line of the analyzer."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click

from analyzer.options import (
    DEFAULT_MODEL_LOADERS,
    DEFAULT_PATH_LOADERS,
    AnalyzeOptions,
    AnalyzerError,
    ParseOptions,
    default_jobs,
    parse_contexts,
    parse_loader,
    parse_pin,
)
from analyzer.progress import LazyProgress
from carve.output import json_format, json_option

EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2


class _Failure(click.ClickException):
    exit_code = EXIT_BAD_INPUT


def _write(path: Path | None, text: str) -> None:
    if path is None:
        click.echo(text, nl=False)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _Failure(f"{path}: cannot write ({error.strerror})")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--granularity",
    type=click.Choice(["app", "module"]),
    default="app",
    show_default=True,
    help="Cluster whole apps, or single modules (finer, noisier).",
)
@click.option(
    "--contexts",
    "contexts_text",
    default="auto",
    show_default=True,
    metavar="auto|N",
    help="How many contexts to suggest: as many as the clustering finds, or exactly N.",
)
@click.option(
    "--pin",
    "pins_text",
    multiple=True,
    metavar="MODULE=CONTEXT",
    help="Put a module or package into a named context (a what-if move). Repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "dot", "html"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@json_option(help="The same as --format json.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report here instead of stdout.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Compare with the saved decision; exit 1 on cross-context edges it does not allow.",
)
@click.option(
    "--decision",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Decision file (TOML, [tool.carve.contexts]); default: PATH's pyproject.toml.",
)
@click.option(
    "--save-decision",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the suggested contexts as a decision, today's crossings allowed.",
)
@click.option(
    "--emit-contracts",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write import-linter contracts (TOML) for the suggested contexts.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out files whose path under PATH matches (e.g. 'legacy/*'). Repeatable.",
)
@click.option("--include-tests", is_flag=True, help="Analyse tests too (left out by default).")
@click.option(
    "--include-migrations",
    is_flag=True,
    help="Analyse Django migrations too (left out by default).",
)
@click.option(
    "--loader",
    "loaders_text",
    multiple=True,
    metavar="NAME[=model]",
    help="A project loader function: NAME takes a dotted path (like get_class('app.module', "
    "'Name')); NAME=model takes an app label and a model name. Repeatable.",
)
@click.option(
    "--api-module",
    "api_modules",
    multiple=True,
    metavar="NAME",
    help="Module name other apps may use (their designed API); default: public.",
)
@click.option(
    "--no-cache", is_flag=True, help="Neither read nor write the parse and result caches."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel parsers (default: one per CPU).",
)
def analyze(
    path: Path,
    granularity: str,
    contexts_text: str,
    pins_text: tuple[str, ...],
    fmt: str,
    as_json: bool,
    out: Path | None,
    check: bool,
    decision: Path | None,
    save_decision: Path | None,
    emit_contracts: Path | None,
    exclude: tuple[str, ...],
    include_tests: bool,
    include_migrations: bool,
    loaders_text: tuple[str, ...],
    api_modules: tuple[str, ...],
    no_cache: bool,
    jobs: int | None,
) -> None:
    """Suggest bounded contexts for the Python/Django code base under PATH.

    Reads every module with libcst (imports plus Django's string references), clusters the
    weighted dependency graph, scores the result and reports it. Exit status: 0 done,
    1 --check found cross-context edges the decision does not allow, 2 bad input.
    """
    # The command runs once and exits: the cyclic garbage collector would only walk, again
    # and again, the run's facts, graph and report, which hold no cycles (analysis.analyze
    # pauses it for itself; this keeps it off for rendering and exit too).
    gc.disable()
    fmt = json_format(fmt, as_json)
    try:
        options = _options(
            path,
            granularity,
            contexts_text,
            pins_text,
            exclude,
            include_tests,
            include_migrations,
            loaders_text,
            api_modules,
            decision,
            no_cache,
            jobs,
        )
        from analyzer.pool import start_parser

        parser = start_parser(options)  # first, so its worker's libcst import overlaps the rest
        try:
            if check:
                from analyzer.decision import load_decision

                if load_decision(path, decision) is None:
                    raise AnalyzerError(
                        "--check needs a decision: add [tool.carve.contexts] to the "
                        f"pyproject.toml of {path} or pass --decision FILE (write one with "
                        "--save-decision FILE)"
                    )
            from analyzer.analysis import analyze as run
            from analyzer.report import preload

            progress = LazyProgress()
            try:
                doc = run(options, progress, meanwhile=lambda: preload(fmt), parser=parser)
            finally:
                progress.stop()
        finally:
            parser.close()
    except AnalyzerError as error:
        raise _Failure(str(error))
    from analyzer.report import render

    color = out is None and fmt == "text" and sys.stdout.isatty()
    _write(out, render(doc, fmt, color=color))
    if save_decision is not None:
        from analyzer.decision import decision_toml

        _write(save_decision, decision_toml(doc))
    if emit_contracts is not None:
        from analyzer.decision import contracts_toml

        _write(emit_contracts, contracts_toml(doc))
    if check and doc["violations"]:
        if not (out is None and fmt == "text"):  # else the report on the terminal lists them
            for item in doc["violations"]:
                sites = ", ".join(f"{site['file']}:{site['line']}" for site in item["sites"])
                click.echo(f"{item['source']} -> {item['target']}: {sites}", err=True)
        click.echo(
            f"carve analyze --check: {len(doc['violations'])} cross-context edges not allowed by "
            f"{doc['violations_against']}",
            err=True,
        )
        sys.exit(EXIT_VIOLATIONS)


def _options(
    path: Path,
    granularity: str,
    contexts_text: str,
    pins_text: tuple[str, ...],
    exclude: tuple[str, ...],
    include_tests: bool,
    include_migrations: bool,
    loaders_text: tuple[str, ...],
    api_modules: tuple[str, ...],
    decision: Path | None,
    no_cache: bool,
    jobs: int | None,
) -> AnalyzeOptions:
    loaders = [parse_loader(text) for text in loaders_text]
    parse = ParseOptions(
        model_loaders=tuple(
            sorted(DEFAULT_MODEL_LOADERS | {n for n, style in loaders if style == "model"})
        ),
        path_loaders=tuple(
            sorted(DEFAULT_PATH_LOADERS | {n for n, style in loaders if style == "path"})
        ),
    )
    return AnalyzeOptions(
        path=path,
        granularity=granularity,
        contexts=parse_contexts(contexts_text),
        pins=tuple(parse_pin(text) for text in pins_text),
        exclude=exclude,
        include_tests=include_tests,
        include_migrations=include_migrations,
        api_modules=api_modules or AnalyzeOptions.api_modules,
        parse=parse,
        decision=decision,
        use_cache=not no_cache,
        jobs=jobs or default_jobs(),
    )
