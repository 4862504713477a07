"""One run of the analyzer, from a folder to the JSON document.

Files are read and hashed; a finished result for exactly these contents and options comes from
the result cache. Otherwise each file's facts come from the facts cache or are parsed in a
process pool, while the main process loads the cached ones and resolves every module whose
edges cannot depend on the files being parsed (graph.HeadStart); then the rest of the graph is
built, clustered and scored.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from analyzer.cache import FORMAT_VERSION, FactsCache, Memo, ResultCache, cache_root, content_key
from analyzer.decision import Decision, load_decision
from analyzer.discovery import Skipped, SourceFile, discover
from analyzer.facts import FileFacts
from analyzer.options import AnalyzeOptions
from analyzer.pool import ERROR, NoProgress, ParseJob, Parser, Progress, start_parser

if TYPE_CHECKING:
    from analyzer.graph import HeadStart

EARLY_NETWORKX = 20  # files to parse; fewer rarely change the graph's shape (see Memo)
POLL_EVERY = 64  # cached facts loaded between two looks for a worker ready for its batch


def count_lines(content: bytes) -> int:
    return content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)


def _result_key(
    options: AnalyzeOptions,
    decision: Decision | None,
    files: dict[str, SourceFile],
    keys: dict[str, str],
    skipped: list[Skipped],
) -> str:
    """Everything a report depends on: options, decision, every file's name and content."""
    material = [
        FORMAT_VERSION,
        options.path.name,
        options.result_fingerprint(),
        decision.fingerprint() if decision else None,
        [(module, files[module].display, key) for module, key in sorted(keys.items())],
        sorted((s.path, s.reason) for s in skipped),
    ]
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def analyze(
    options: AnalyzeOptions,
    progress: Progress | None = None,
    meanwhile: Callable[[], object] = lambda: None,
    parser: Parser | None = None,
) -> dict[str, Any]:
    """Analyse `options.path` and return the JSON document (see document.py).

    `meanwhile` is called while workers parse, when this process would only wait: the CLI
    imports the report's renderer there. `parser` is one already started for this run
    (`start_parser(options)`, see pool.py), else one starts now; it is closed either way."""
    started = time.perf_counter()
    progress = progress or NoProgress()
    parser = parser or start_parser(options)
    # The cyclic garbage collector is paused for the run: it allocates a few hundred thousand
    # objects (facts, edges, sites), none of which form cycles, and the collector's passes
    # over them cost about 35 ms on Django after a one-file edit, a tenth of the run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _analyze(options, progress, parser, started, meanwhile)
    finally:
        parser.close()
        if collecting:
            gc.enable()


def _analyze(
    options: AnalyzeOptions,
    progress: Progress,
    parser: Parser,
    started: float,
    meanwhile: Callable[[], object],
) -> dict[str, Any]:
    files, skipped = discover(
        options.path,
        include_tests=options.include_tests,
        include_migrations=options.include_migrations,
        exclude=options.exclude,
    )
    decision = load_decision(options.path, options.decision)
    root = cache_root() if options.use_cache else None
    facts_cache, results = FactsCache(root), ResultCache(root)
    salt = options.parse.fingerprint()
    by_module = {f.module: f for f in files}
    contents: dict[str, bytes] = {}
    for f in files:
        try:
            contents[f.module] = f.path.read_bytes()
        except OSError as error:
            skipped.append(Skipped(f.display, f"cannot be read: {error.strerror}"))
    keys = {module: content_key(content, salt) for module, content in contents.items()}
    lines = {module: count_lines(content) for module, content in contents.items()}
    result_key = _result_key(options, decision, by_module, keys, skipped)
    cached = results.load(result_key)
    if cached is not None:
        cached["stats"].update(
            parsed=0,
            cached=len(keys),
            result_cached=True,
            seconds=round(time.perf_counter() - started, 3),
        )
        return cached
    progress.start(len(keys))
    facts, parsed, head_start = _collect_facts(
        by_module, contents, keys, facts_cache, parser, skipped, progress, meanwhile, options
    )
    doc = _finish(by_module, facts, lines, skipped, decision, options, Memo(root), head_start)
    doc["stats"] = {
        "files": len(files),
        "parsed": parsed,
        "cached": len(keys) - parsed,
        "result_cached": False,
        "seconds": round(time.perf_counter() - started, 3),
    }
    results.store(result_key, doc)
    return doc


def _collect_facts(
    files: dict[str, SourceFile],
    contents: dict[str, bytes],
    keys: dict[str, str],
    cache: FactsCache,
    parser: Parser,
    skipped: list[Skipped],
    progress: Progress,
    meanwhile: Callable[[], object],
    options: AnalyzeOptions,
) -> tuple[dict[str, FileFacts], int, HeadStart | None]:
    """Every file's facts (empty for a skipped file), how many files were parsed, and what of
    the graph was built while they were (see graph.HeadStart)."""

    missing = {m for m, k in keys.items() if not cache.has(k)}
    parser.parse([ParseJob(m, contents[m], keys[m]) for m in sorted(missing)])
    facts: dict[str, FileFacts] = {}
    if len(missing) > EARLY_NETWORKX:
        # a big change will likely need the clustering: its import runs while workers parse
        import networkx  # noqa: F401
    unreadable: list[ParseJob] = []  # listed in the cache but gone or damaged since
    for count, (module, key) in enumerate(keys.items()):
        if count % POLL_EVERY == 0:
            parser.poll()
        if module in missing:
            continue
        data = cache.load(key)
        if data is None:
            unreadable.append(ParseJob(module, contents[module], key))
            continue
        progress.advance(1)
        if ERROR in data:
            skipped.append(Skipped(files[module].display, data[ERROR]))
            facts[module] = FileFacts()
            continue
        try:
            facts[module] = FileFacts.from_dict(data)
        except (KeyError, TypeError, ValueError):
            unreadable.append(ParseJob(module, contents[module], key))
    parser.parse(unreadable)
    head_start = None
    if parser.busy:  # this process would only wait: do what does not need the parsed files
        _import_finish()
        parser.poll()
        meanwhile()
        parser.poll()
        from analyzer.graph import HeadStart

        readable = {m: f for m, f in files.items() if m in keys}
        pending = frozenset(missing.union(job.module for job in unreadable))
        head_start = HeadStart.build(readable, facts, pending, options.api_modules, parser.poll)
    for module, result in parser.results(progress):
        if isinstance(result, str):
            skipped.append(Skipped(files[module].display, result))
            facts[module] = FileFacts()
        else:
            facts[module] = FileFacts.from_dict(result)
    # Stopped now rather than at the end: while a forked worker lives, every page this process
    # writes to is copied first, which made building the graph and document 50% slower.
    parser.close()
    return facts, len(missing) + len(unreadable), head_start


def _import_finish() -> None:
    import analyzer.cluster
    import analyzer.document
    import analyzer.graph
    import analyzer.layout  # noqa: F401


def _finish(
    files: dict[str, SourceFile],
    facts: dict[str, FileFacts],
    lines: dict[str, int],
    skipped: list[Skipped],
    decision: Decision | None,
    options: AnalyzeOptions,
    memo: Memo,
    head_start: HeadStart | None = None,
) -> dict[str, Any]:
    from analyzer.cluster import suggest
    from analyzer.document import build_document
    from analyzer.graph import build_graph
    from analyzer.layout import find_layout, mark_support
    from analyzer.resolve import is_models_module

    readable = {m: f for m, f in files.items() if m in facts}
    if head_start is not None and head_start.holds(facts):
        layout, ready = head_start.layout, head_start.edges
    else:
        layout, ready = find_layout(readable, facts), {}
    graph = build_graph(readable, facts, lines, layout, options.api_modules, ready)
    app_edges = {
        (layout.module_app[e.source], layout.module_app[e.target], e.kind)
        for e in graph.edges.values()
    }
    model_apps = {
        layout.module_app[m] for m, f in facts.items() if is_models_module(m) and f.classes
    }
    mark_support(layout, ((a, b, kind) for a, b, kind in app_edges if a != b), model_apps)
    suggestion = suggest(
        graph,
        granularity=options.granularity,
        contexts=options.contexts,
        pins=options.pins,
        memo=memo,
    )
    return build_document(graph, suggestion, options, skipped, decision, memo)
