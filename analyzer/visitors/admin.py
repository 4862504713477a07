"""Admin registrations: `admin.site.register(X, XAdmin)` and `@admin.register(X, Y)`."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import Kind
from analyzer.visitors.base import FactVisitor, dotted_name, positional_args


class AdminVisitor(FactVisitor):
    """Models registered with an admin site.

    `<...>site.register(models, admin_class)` registers its first argument (a model or a
    list of them); the decorator form `admin.register(*models)` registers every positional
    argument. A `register` on anything else (`atexit.register`, template libraries) is not
    admin.
    """

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (b"register",)

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Attribute) or node.func.attr.value != "register":
            return
        receiver = dotted_name(node.func.value) or ""
        args = list(positional_args(node))
        if receiver == "admin":
            models = args
        elif receiver.split(".")[-1].endswith("site") and args:
            first = args[0]
            models = (
                [element.value for element in first.elements]
                if isinstance(first, cst.List | cst.Tuple)
                else [first]
            )
        else:
            return
        for model in models:
            self.add_expression(Kind.ADMIN, model, detail="register")
