"""Dynamic loaders: `apps.get_model(...)`, `get_user_model()`, `import_string(...)`, and any
project loader configured by name, such as Oscar's `get_class('catalogue.models', 'Product')`."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from analyzer.facts import Form, Kind
from analyzer.visitors.base import FactVisitor, last_name, positional_args, string_value


class LoaderVisitor(FactVisitor):
    """Calls of loader functions, matched on the called name's last part.

    A model loader takes `("app_label", "Model")` or `("app_label.Model")`; a path loader takes a
    dotted path, absolute or starting with an app label (`'catalogue.models'`), and optionally a
    name inside it. Arguments that are not string literals are ignored.
    """

    def __init__(self, model_loaders: Iterable[str], path_loaders: Iterable[str]) -> None:
        super().__init__()
        self.model_loaders = frozenset(model_loaders)
        self.path_loaders = frozenset(path_loaders)
        self.names = self.model_loaders | self.path_loaders | {"get_user_model"}

    def visit_Call(self, node: cst.Call) -> None:
        name = last_name(node.func)
        if name is None:
            return
        if name == "get_user_model" and not node.args:
            self.add(Kind.LOADER, Form.AUTH_USER, "", node, detail=name)
            return
        strings = [string_value(arg) for arg in positional_args(node)]
        if name in self.model_loaders:
            if len(strings) >= 2 and strings[0] and strings[1]:
                self.add(Kind.LOADER, Form.MODEL, f"{strings[0]}.{strings[1]}", node, detail=name)
            elif len(strings) == 1 and strings[0] and "." in strings[0]:
                self.add(Kind.LOADER, Form.MODEL, strings[0], node, detail=name)
        elif name in self.path_loaders and strings and strings[0]:
            path = strings[0]
            if path.startswith("."):
                return
            inner = strings[1] if len(strings) > 1 and strings[1] else ""
            self.add(Kind.LOADER, Form.APP_PATH, path, node, detail=inner)
