"""What a run of `carve analyze` is asked to do, and the defaults the docs describe."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analyzer.facts import Kind

# Loader functions known without configuration (see visitors/loaders.py).
DEFAULT_MODEL_LOADERS = frozenset({"get_model"})
DEFAULT_PATH_LOADERS = frozenset({"import_string", "import_module", "get_class", "get_classes"})

# How much one site of each kind couples two modules (see README: "Edge weights").
KIND_WEIGHTS: dict[Kind, float] = {
    Kind.IMPORT: 1.0,
    Kind.TYPE_CHECKING: 0.25,
    Kind.CALL: 0.5,
    Kind.RELATION: 3.0,
    Kind.LOADER: 1.0,
    Kind.SIGNAL: 2.0,
    Kind.META_MODEL: 1.0,
    Kind.ADMIN: 1.0,
    Kind.URL_INCLUDE: 0.5,
    Kind.CELERY_TASK: 1.0,
    Kind.ORM_WRITE: 3.0,
    Kind.EVENT: 0.5,
}
# Edges into another app's designed API module weigh this much of their usual weight.
API_WEIGHT = 0.25
DEFAULT_API_MODULES = ("public",)
CLUSTER_SEED = 42


def default_jobs() -> int:
    return os.cpu_count() or 1


class AnalyzerError(Exception):
    """Bad input a person can fix: shown as one line, never as a traceback."""


@dataclass(frozen=True)
class ParseOptions:
    """Everything that changes what a file's facts are (part of the cache key)."""

    model_loaders: tuple[str, ...] = tuple(sorted(DEFAULT_MODEL_LOADERS))
    path_loaders: tuple[str, ...] = tuple(sorted(DEFAULT_PATH_LOADERS))

    def fingerprint(self) -> bytes:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=16).digest()


@dataclass(frozen=True)
class AnalyzeOptions:
    """A whole run; see `carve analyze --help` for each option."""

    path: Path
    granularity: str = "app"
    contexts: int | None = None  # None: as many as the clustering finds
    pins: tuple[tuple[str, str], ...] = ()
    exclude: tuple[str, ...] = ()
    include_tests: bool = False
    include_migrations: bool = False
    api_modules: tuple[str, ...] = DEFAULT_API_MODULES
    parse: ParseOptions = field(default_factory=ParseOptions)
    decision: Path | None = None
    use_cache: bool = True
    jobs: int = field(default_factory=lambda: default_jobs())

    def result_fingerprint(self) -> dict[str, object]:
        """The options a report depends on (the result cache key includes them)."""
        return {
            "granularity": self.granularity,
            "contexts": self.contexts,
            "pins": sorted(self.pins),
            "exclude": sorted(self.exclude),
            "tests": self.include_tests,
            "migrations": self.include_migrations,
            "api": sorted(self.api_modules),
            "parse": self.parse.fingerprint().hex(),
        }


def is_api_module(module: str, api_modules: Iterable[str]) -> bool:
    """Whether `module` is a designed API module (`public.py` by default)."""
    return module.rsplit(".", 1)[-1] in api_modules


def parse_pin(text: str) -> tuple[str, str]:
    """`MODULE=CONTEXT` -> (module, context), or an AnalyzerError saying what is wrong."""
    module, sep, context = text.partition("=")
    module, context = module.strip(), context.strip()
    if not sep or not module or not context:
        raise AnalyzerError(
            f"--pin {text!r}: write MODULE=CONTEXT, e.g. myproject.billing=payments"
        )
    if not all(part.isidentifier() for part in module.split(".")):
        raise AnalyzerError(f"--pin {text!r}: {module!r} is not a dotted module name")
    return module, context


def parse_loader(text: str) -> tuple[str, str]:
    """`NAME` or `NAME=path|model` -> (name, style)."""
    name, sep, style = text.partition("=")
    style = style.strip() or "path"
    if not name.strip().isidentifier() or style not in ("path", "model"):
        raise AnalyzerError(
            f"--loader {text!r}: write NAME (its first argument is a dotted path, e.g. get_class) "
            "or NAME=model (it takes an app label and a model name)"
        )
    return name.strip(), style


def parse_contexts(text: str) -> int | None:
    if text == "auto":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise AnalyzerError(f"--contexts {text!r}: use 'auto' or a positive number")
