"""Parsing one file into its facts; the unit of work of the process pool."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import libcst as cst

from analyzer.cache import FactsCache
from analyzer.facts import FileFacts
from analyzer.options import ParseOptions
from analyzer.pool import ERROR, ParseJob
from analyzer.visitors import build_visitors
from analyzer.walker import visit_batched

# Deeply nested expressions (long `a + b + ...` chains) recurse; give them room.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))


def _skip_validation(self: cst.CSTNode) -> None:
    pass


@contextmanager
def _parser_output_unvalidated() -> Iterator[None]:
    """Skip libcst's per-node `_validate()` while parsing.

    Every node runs `_validate()` from `__post_init__`, which catches hand-built invalid
    trees; what the parser builds is valid by construction, and the checks are about 30% of
    the parse (libcst's own source notes it: "It might make more sense to move validation
    work into the visitor, which would allow us to avoid validating the tree when parsing a
    file"). The hook is restored afterwards; the facts are the same either way (tested).
    """
    original = cst.CSTNode.__dict__.get("__post_init__")
    if original is None:  # a libcst that validates elsewhere: leave it alone
        yield
        return
    cst.CSTNode.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        yield
    finally:
        cst.CSTNode.__post_init__ = original  # type: ignore[method-assign]


def parse(source: bytes | str) -> cst.Module:
    """libcst's parse, without the per-node validation (see `_parser_output_unvalidated`)."""
    with _parser_output_unvalidated():
        return cst.parse_module(source)


def extract_facts(source: bytes | str, options: ParseOptions | None = None) -> FileFacts:
    """Parse `source` with libcst and run every visitor over it in one walk.

    Raises libcst.ParserSyntaxError (or another exception) when the file cannot be read.
    """
    options = options or ParseOptions()
    raw = source.encode() if isinstance(source, str) else source
    module = parse(source)
    visitors = build_visitors(raw, options.model_loaders, options.path_loaders)
    visit_batched(module, visitors)
    facts = FileFacts()
    for visitor in visitors:
        visitor.contribute(facts)
    return facts


def failure_reason(error: BaseException) -> str:
    """One line saying why a file could not be analysed."""
    if isinstance(error, cst.ParserSyntaxError):
        return f"syntax error at line {error.raw_line}: {error.message}"
    if isinstance(error, UnicodeDecodeError):
        return f"not valid text in its declared encoding: {error.reason}"
    if isinstance(error, RecursionError):
        return "nested too deeply to walk"
    return f"{type(error).__name__}: {error}"


def run_job(job: ParseJob, options: ParseOptions, cache: FactsCache) -> tuple[str, dict | str]:
    """Facts (as the cache stores them) or the reason the file was skipped."""
    try:
        data = extract_facts(job.source, options).to_dict()
    except Exception as error:  # any file that libcst cannot take is reported, not fatal
        reason = failure_reason(error)
        cache.store(job.key, {ERROR: reason})
        return job.module, reason
    cache.store(job.key, data)
    return job.module, data


def run_jobs(
    jobs: list[ParseJob], options: ParseOptions, cache: FactsCache
) -> list[tuple[str, dict | str]]:
    """A batch of jobs in one worker call (fewer round trips than one job per call).

    The cyclic garbage collector is paused meanwhile: a syntax tree is freed by reference
    counting, and the collector's passes over hundreds of thousands of fresh nodes cost ~10%.
    """
    gc.disable()
    try:
        return [run_job(job, options, cache) for job in jobs]
    finally:
        gc.enable()
