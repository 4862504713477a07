"""Top-level definitions, Django `AppConfig`s and the settings that locate a project's apps."""

from __future__ import annotations

import libcst as cst

from analyzer.facts import FileFacts
from analyzer.visitors.base import FactVisitor, last_name, string_list, string_value

# The settings that tell which packages are apps and which are project glue.
STRING_SETTINGS = frozenset(
    {"ROOT_URLCONF", "WSGI_APPLICATION", "ASGI_APPLICATION", "AUTH_USER_MODEL"}
)
LIST_SETTINGS = frozenset({"INSTALLED_APPS"})


class DefinitionVisitor(FactVisitor):
    """Names defined at module level, `AppConfig` name/label, and app-locating settings.

    Module level means outside any class or function (inside a module-level `if` or `try`
    still counts, as settings files often branch).
    """

    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []
        self.functions: list[str] = []
        self.app_configs: list[tuple[str, str | None]] = []
        self.settings: dict[str, str | list[str]] = {}
        self._scopes: list[dict[str, str] | None] = []  # per class/def: AppConfig fields or None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self._scopes:
            self.classes.append(node.name.value)
        bases = (last_name(base.value) or "" for base in node.bases)
        is_config = any(base.endswith("Config") for base in bases)
        self._scopes.append({} if is_config else None)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        fields = self._scopes.pop()
        if fields and "name" in fields:
            self.app_configs.append((fields["name"], fields.get("label")))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self._scopes:
            self.functions.append(node.name.value)
        self._scopes.append(None)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        name = node.targets[0].target.value
        if not self._scopes:
            self._setting(name, node.value, extend=False)
        elif self._scopes[-1] is not None and name in ("name", "label"):
            value = string_value(node.value)
            if value is not None:
                config = self._scopes[-1]
                config[name] = value

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        target, operator = node.target, node.operator
        if (
            not self._scopes
            and isinstance(target, cst.Name)
            and isinstance(operator, cst.AddAssign)
        ):
            self._setting(target.value, node.value, extend=True)

    def _setting(self, name: str, value: cst.BaseExpression, *, extend: bool) -> None:
        if name in STRING_SETTINGS:
            text = string_value(value)
            if text is not None:
                self.settings[name] = text
        elif name in LIST_SETTINGS:
            previous = self.settings.get(name, []) if extend else []
            assert isinstance(previous, list)
            self.settings[name] = previous + string_list(value)

    def contribute(self, facts: FileFacts) -> None:
        facts.classes.extend(self.classes)
        facts.functions.extend(self.functions)
        facts.app_configs.extend(self.app_configs)
        facts.settings.update(self.settings)
