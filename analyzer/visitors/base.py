"""What every visitor shares: line lookup, reference collection, small expression readers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import libcst as cst

from analyzer.facts import FileFacts, Form, Kind, Reference
from analyzer.walker import LineProvider


class FactVisitor(cst.BatchableCSTVisitor):
    """A batched visitor that collects `Reference`s and adds them to a file's facts.

    A reference remembers its node and gets its line when the walk leaves the module, so a
    visitor may point at any node (an argument, a child statement) whatever the walk order.

    `TRIGGERS` lists byte strings of which at least one must occur in a file for the visitor
    to be worth running (empty: always run); it is a cheap pre-filter, never a correctness
    condition.
    """

    METADATA_DEPENDENCIES = (LineProvider,)
    TRIGGERS: ClassVar[tuple[bytes, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self._found: list[tuple[Kind, Form, str, cst.CSTNode, int, str]] = []
        self.references: list[Reference] = []

    def leave_Module(self, original_node: cst.Module) -> None:
        self.references = [
            Reference(kind, form, target, self.get_metadata(LineProvider, node), level, detail)
            for kind, form, target, node, level, detail in self._found
        ]

    def add(
        self,
        kind: Kind,
        form: Form,
        target: str,
        node: cst.CSTNode,
        *,
        level: int = 0,
        detail: str = "",
    ) -> None:
        self._found.append((kind, form, target, node, level, detail))

    def add_expression(self, kind: Kind, expr: cst.BaseExpression, *, detail: str = "") -> None:
        """Record a reference written as a model label string or as a dotted name."""
        label = string_value(expr)
        if label is not None:
            self.add(kind, Form.MODEL, label, expr, detail=detail)
            return
        name = dotted_name(expr)
        if name == "settings.AUTH_USER_MODEL":
            self.add(kind, Form.AUTH_USER, "", expr, detail=detail)
        elif name is not None:
            self.add(kind, Form.NAME, name, expr, detail=detail)

    def contribute(self, facts: FileFacts) -> None:
        """Add what this visitor found to `facts` (after the walk)."""
        facts.references.extend(self.references)


def dotted_name(node: cst.CSTNode | None) -> str | None:
    """`a.b.c` for a Name or a chain of Attributes on a Name; None for anything else."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def last_name(node: cst.BaseExpression) -> str | None:
    """The final identifier of a Name or Attribute (`register` in `admin.site.register`)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def string_value(node: cst.CSTNode | None) -> str | None:
    """The value of a plain (non-f, non-bytes) string literal, implicit concatenation included."""
    if isinstance(node, cst.SimpleString):
        if "b" in node.prefix.lower():
            return None
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left, right = string_value(node.left), string_value(node.right)
        return None if left is None or right is None else left + right
    return None


def string_list(node: cst.BaseExpression) -> list[str]:
    """The string elements of a list or tuple literal, or of a sum of them."""
    if isinstance(node, cst.List | cst.Tuple):
        values = (string_value(element.value) for element in node.elements)
        return [value for value in values if value is not None]
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return string_list(node.left) + string_list(node.right)
    return []


def positional_args(call: cst.Call) -> Iterator[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is None and not arg.star:
            yield arg.value


def first_positional(call: cst.Call) -> cst.BaseExpression | None:
    return next(positional_args(call), None)


def keyword_arg(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None
