"""Turning a file's references into (target module, symbol) pairs inside the tree."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import NamedTuple

from analyzer.discovery import SourceFile
from analyzer.facts import FileFacts, Form, Kind, Reference
from analyzer.layout import Layout


class Target(NamedTuple):  # (not a frozen dataclass: made per reference, see facts.py)
    module: str
    symbol: str  # the name used inside the module ("" for the module itself)


def is_models_module(module: str) -> bool:
    return module.endswith(".models") or ".models." in module or module == "models"


# Read once: an enum member read off its class costs ~0.2 µs on Python 3.11 (a property),
# and `event` runs for every reference of the tree.
_IMPORT_KINDS = frozenset({Kind.IMPORT, Kind.TYPE_CHECKING})
_RELATIVE = Form.RELATIVE
_UNSEEN = Target("", "")  # not looked up yet (None: looked up, not in the tree)


class ClassesUnknown(Exception):
    """A question about the tree's classes, asked before every file's facts are known."""


class Resolver:
    """Resolves references against the modules in the tree; outside targets resolve to None.

    With `pending` modules (their facts still being parsed) it resolves what does not depend
    on them, and raises ClassesUnknown for what might: a model label naming an app that a
    pending module belongs to, whether a pending module defines a model class. Everything
    else depends only on the source's own facts, the module names, the layout and the classes
    of the apps without pending modules."""

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
        self._pending_apps = {layout.module_app[module] for module in pending}
        self._prefixes: dict[str, Target | None] = {}
        self._class_index: dict[str, dict[str, list[str]]] | None = None
        self._by_form: dict[Form, Callable[[str, Reference], Target | None]] = {
            Form.PATH: self._path,
            Form.RELATIVE: self._relative,
            Form.NAME: self._named,
            Form.MODEL: self._model,
            Form.AUTH_USER: self._auth_user,
            Form.TASK: self._task,
            Form.APP_PATH: self._app_path,
        }

    def _classes(self) -> dict[str, dict[str, list[str]]]:
        """App name -> lower-case class name -> modules defining it, models modules first
        (complete for the apps without pending modules)."""
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
        if target.module in self.pending:
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
        if app in self._pending_apps:
            raise ClassesUnknown
        modules = self._classes().get(app, {}).get(model.lower())
        return Target(modules[0], model) if modules else None

    def resolve(self, source: str, ref: Reference) -> Target | None:
        # a table rather than `if ref.form is Form.PATH: ...` (see _IMPORT_KINDS)
        by_form = self._by_form.get(ref.form)
        return by_form(source, ref) if by_form is not None else None

    def _path(self, source: str, ref: Reference) -> Target | None:
        return self.module_prefix(ref.target)

    def _relative(self, source: str, ref: Reference) -> Target | None:
        path = self.absolute(source, ref.level, ref.target)
        return self.module_prefix(path) if path else None

    def _named(self, source: str, ref: Reference) -> Target | None:
        return self._name(source, ref.target)

    def _model(self, source: str, ref: Reference) -> Target | None:
        return self.model(source, ref.target)

    def _auth_user(self, source: str, ref: Reference) -> Target | None:
        user = self.layout.auth_user_model
        return self.model(source, user) if user else None

    def _task(self, source: str, ref: Reference) -> Target | None:
        module = self.layout.task_names.get(ref.target)
        return Target(module, ref.target) if module else self.module_prefix(ref.target)

    def _app_path(self, source: str, ref: Reference) -> Target | None:
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

    def event(self, source: str, ref: Reference) -> Target | None:
        """For an import of `<...>.events.<app label>[.Name]` from another app: that app's
        events module (or its package), the contract of the events it publishes."""
        if ref.kind not in _IMPORT_KINDS:
            return None
        relative = ref.form is _RELATIVE
        path = self.absolute(source, ref.level, ref.target) if relative else ref.target
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
