"""Turning a file's references into (target module, symbol) pairs inside the tree."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

from analyzer.discovery import SourceFile
from analyzer.facts import FileFacts, Form, Kind, Reference
from analyzer.layout import Layout


class Target(NamedTuple):  # (not a frozen dataclass: made per reference, see facts.py)
    module: str
    symbol: str  # the name used inside the module ("" for the module itself)


def is_models_module(module: str) -> bool:
    return module.endswith(".models") or ".models." in module or module == "models"


_UNSEEN = Target("", "")  # not looked up yet (None: looked up, not in the tree)


class ClassesUnknown(Exception):
    """A question about the tree's classes, asked before every file's facts are known."""


class Resolver:
    """Resolves references against the modules in the tree; outside targets resolve to None.

    With `pending` modules (their facts still being parsed) it resolves what does not depend
    on them, and raises ClassesUnknown for what might: a model label, whether a target is a
    model class. Everything else depends only on the source's own facts, the module names
    and the layout."""

    def __init__(
        self,
        files: Mapping[str, SourceFile],
        facts: Mapping[str, FileFacts],
        layout: Layout,
        *,
        pending: Collection[str] = (),
    ) -> None:
        self.files = files
        self.facts = facts
        self.layout = layout
        self.pending = pending
        self._prefixes: dict[str, Target | None] = {}
        self._class_index: dict[str, dict[str, list[str]]] | None = None

    def _classes(self) -> dict[str, dict[str, list[str]]]:
        """App name -> lower-case class name -> modules defining it, models modules first."""
        if self.pending:
            raise ClassesUnknown
        if self._class_index is None:
            index: dict[str, dict[str, list[str]]] = {}
            facts = self.facts
            for module in sorted(facts, key=lambda name: (not is_models_module(name), name)):
                app = self.layout.module_app[module]
                for cls in facts[module].classes:
                    index.setdefault(app, {}).setdefault(cls.lower(), []).append(module)
            self._class_index = index
        return self._class_index

    def is_model_class(self, target: Target) -> bool:
        """Whether `target` names a class defined in a models module."""
        if not is_models_module(target.module):
            return False
        if self.pending:
            raise ClassesUnknown
        return target.symbol in self.facts[target.module].classes

    def module_prefix(self, path: str) -> Target | None:
        """The longest module that `path` starts with, and the rest of it."""
        found = self._prefixes.get(path, _UNSEEN)
        if found is not _UNSEEN:
            return found
        found = None
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.files:
                found = Target(candidate, ".".join(parts[end:]))
                break
        self._prefixes[path] = found
        return found

    def absolute(self, source: str, level: int, path: str) -> str | None:
        """The absolute dotted path of a relative import in module `source`."""
        if level == 0:
            return path
        package = source if self.files[source].is_package else source.rpartition(".")[0]
        for _ in range(level - 1):
            if not package:
                return None
            package = package.rpartition(".")[0]
        if not package:
            return path or None
        return f"{package}.{path}" if path else package

    def model(self, source: str, label: str) -> Target | None:
        """A model label (`app_label.Model`, or `Model` in `source`'s app) to its module."""
        if label == "self":
            return None
        app_label, _, model = label.rpartition(".")
        app = self.layout.labels.get(app_label) if app_label else self.layout.module_app[source]
        if app is None:
            return None
        modules = self._classes().get(app, {}).get(model.lower())
        return Target(modules[0], model) if modules else None

    def resolve(self, source: str, ref: Reference) -> Target | None:
        form = ref.form
        if form is Form.PATH:
            return self.module_prefix(ref.target)
        if form is Form.RELATIVE:
            path = self.absolute(source, ref.level, ref.target)
            return self.module_prefix(path) if path else None
        if form is Form.NAME:
            return self._name(source, ref.target)
        if form is Form.MODEL:
            return self.model(source, ref.target)
        if form is Form.AUTH_USER:
            user = self.layout.auth_user_model
            return self.model(source, user) if user else None
        if form is Form.TASK:
            module = self.layout.task_names.get(ref.target)
            return Target(module, ref.target) if module else self.module_prefix(ref.target)
        if form is Form.APP_PATH:
            found = self.module_prefix(ref.target)
            if found is None:
                label, _, rest = ref.target.partition(".")
                app = self.layout.labels.get(label)
                if app is not None:
                    package = self.layout.apps[app].package
                    found = self.module_prefix(f"{package}.{rest}" if rest else package)
            if found is not None and not found.symbol and ref.detail.isidentifier():
                return Target(found.module, ref.detail)
            return found
        return None

    def event(self, source: str, ref: Reference) -> Target | None:
        """For an import of `<...>.events.<app label>[.Name]` from another app: that app's
        events module (or its package), the contract of the events it publishes."""
        if ref.kind not in (Kind.IMPORT, Kind.TYPE_CHECKING):
            return None
        path = (
            self.absolute(source, ref.level, ref.target)
            if ref.form is Form.RELATIVE
            else ref.target
        )
        if not path or "events" not in path:  # nearly every import: no need to split it
            return None
        parts = path.split(".")
        if "events" not in parts[:-1]:
            return None
        at = parts.index("events") + 1
        app_name = self.layout.labels.get(parts[at])
        if app_name is None or app_name == self.layout.module_app[source]:
            return None
        package = self.layout.apps[app_name].package
        module = f"{package}.events" if f"{package}.events" in self.files else package
        if module not in self.files:
            return None
        return Target(module, ".".join(parts[at + 1 :]))

    def _name(self, source: str, dotted: str) -> Target | None:
        root, _, rest = dotted.partition(".")
        facts = self.facts[source]
        binding = facts.bindings.get(root)
        if binding is not None:
            base = self.absolute(source, binding.level, binding.path)
            if base is None:
                return None
            return self.module_prefix(f"{base}.{rest}" if rest else base)
        if root in facts.classes or root in facts.functions:
            return Target(source, dotted)
        return None
