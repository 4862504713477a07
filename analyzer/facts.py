"""What one file says about its dependencies, independent of where the file lives.

A `FileFacts` is the whole result of parsing one file. It is keyed in the cache on the file's
content hash, so it holds nothing that depends on the file's location: relative imports stay
relative and names stay names until `resolve` turns them into module edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

# The detail of an ORM write through an instance (`obj.save()`), whose model is a guess
# that resolution double-checks.
INSTANCE_DETAIL = "instance."


class Kind(StrEnum):
    """The kinds of edge between modules; each but `event` is found by its own visitor.

    `event` is read off imports: `<anything>.events.<app label>` is the event contract of that
    app, so importing it subscribes to (or publishes) that app's events.
    """

    IMPORT = "import"
    TYPE_CHECKING = "type_checking"
    CALL = "call"
    RELATION = "relation"
    LOADER = "loader"
    SIGNAL = "signal"
    META_MODEL = "meta_model"
    ADMIN = "admin"
    URL_INCLUDE = "url_include"
    CELERY_TASK = "celery_task"
    ORM_WRITE = "orm_write"
    EVENT = "event"


class Form(StrEnum):
    """How a reference names its target, which decides how it is resolved."""

    PATH = "path"  # absolute dotted path to a module or to a name inside one
    RELATIVE = "relative"  # `from ..x import y`: `level` dots, then a dotted path
    NAME = "name"  # a dotted expression in this file, resolved through its imports
    MODEL = "model"  # a Django model label: "app_label.Model", "Model" (same app) or "self"
    APP_PATH = "app_path"  # a dotted path, absolute or starting with an app label
    TASK = "task"  # a Celery task name
    AUTH_USER = "auth_user"  # settings.AUTH_USER_MODEL / get_user_model()


# Enum lookups by value are slow (`Kind("import")`); loading the cache does ~15,000 of them.
_KINDS = {kind.value: kind for kind in Kind}
_FORMS = {form.value: form for form in Form}


# The small immutable values below are named tuples rather than frozen dataclasses: a run
# makes some 14,000 references and 6,000 bindings as it loads the cache, and a frozen
# dataclass costs twice as much to make (each field set through object.__setattr__).


class Reference(NamedTuple):
    """One site in a file that points at something elsewhere."""

    kind: Kind
    form: Form
    target: str
    line: int
    level: int = 0
    detail: str = ""

    def to_list(self) -> list[Any]:
        return [self.kind.value, self.form.value, self.target, self.line, self.level, self.detail]

    @classmethod
    def from_list(cls, row: list[Any]) -> Reference:
        kind, form, target, line, level, detail = row
        return cls(_KINDS[kind], _FORMS[form], target, line, level, detail)


class Binding(NamedTuple):
    """A name bound by an import: `level` leading dots (0 = absolute) and a dotted path."""

    level: int
    path: str


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """A Celery task defined in the file: its function and the explicit `name=`, if any."""

    function: str
    name: str | None


@dataclass(slots=True)
class FileFacts:
    """Everything the visitors found in one file."""

    references: list[Reference] = field(default_factory=list)
    bindings: dict[str, Binding] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    app_configs: list[tuple[str, str | None]] = field(default_factory=list)
    settings: dict[str, str | list[str]] = field(default_factory=dict)
    tasks: list[TaskDefinition] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-ready form (the cache stores this)."""
        return {
            "r": [ref.to_list() for ref in self.references],
            "b": {name: [b.level, b.path] for name, b in self.bindings.items()},
            "c": self.classes,
            "f": self.functions,
            "a": [list(pair) for pair in self.app_configs],
            "s": self.settings,
            "t": [[t.function, t.name] for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileFacts:
        return cls(
            references=[Reference.from_list(row) for row in data["r"]],
            bindings={name: Binding(level, path) for name, (level, path) in data["b"].items()},
            classes=data["c"],
            functions=data["f"],
            app_configs=[(name, label) for name, label in data["a"]],
            settings=data["s"],
            tasks=[TaskDefinition(function, name) for function, name in data["t"]],
        )
