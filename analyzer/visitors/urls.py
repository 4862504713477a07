"""URL includes written as strings: `include("app.urls")`, `include(("app.urls", "ns"))`."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import Form, Kind
from analyzer.visitors.base import FactVisitor, first_positional, last_name, string_value


class UrlIncludeVisitor(FactVisitor):
    """`include()` of a URLconf named by string, which no import statement shows."""

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (b"include(",)

    def visit_Call(self, node: cst.Call) -> None:
        if last_name(node.func) != "include":
            return
        target = first_positional(node)
        if isinstance(target, cst.Tuple | cst.List) and target.elements:
            target = target.elements[0].value
        path = string_value(target)
        if path and target is not None:
            self.add(Kind.URL_INCLUDE, Form.PATH, path, target, detail="include")
