"""Imports: absolute, relative, inside functions, and `TYPE_CHECKING` ones as a kind apart."""

from __future__ import annotations

import libcst as cst

from analyzer.facts import Binding, FileFacts, Form, Kind
from analyzer.visitors.base import FactVisitor, dotted_name, last_name


def is_type_checking(test: cst.BaseExpression) -> bool:
    """`TYPE_CHECKING` or `<anything>.TYPE_CHECKING`."""
    return last_name(test) == "TYPE_CHECKING"


class ImportVisitor(FactVisitor):
    """Every `import` and `from ... import`, and the names they bind in the file.

    Imports under `if TYPE_CHECKING:` are `type_checking` edges (they never run); the `else:`
    branch of such an `if` is ordinary code. Bindings are per file, the last one winning,
    which is how the other visitors' dotted names get resolved.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bindings: dict[str, Binding] = {}
        self._type_checking_bodies: set[cst.BaseSuite] = set()
        self._type_checking_depth = 0

    @property
    def _kind(self) -> Kind:
        return Kind.TYPE_CHECKING if self._type_checking_depth else Kind.IMPORT

    def visit_If(self, node: cst.If) -> None:
        if is_type_checking(node.test):
            self._type_checking_bodies.add(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if node in self._type_checking_bodies:
            self._type_checking_depth += 1

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        if original_node in self._type_checking_bodies:
            self._type_checking_depth -= 1

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        if node in self._type_checking_bodies:
            self._type_checking_depth += 1

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        if original_node in self._type_checking_bodies:
            self._type_checking_depth -= 1

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            path = dotted_name(alias.name)
            if path is None:
                continue
            self.add(self._kind, Form.PATH, path, node)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.bindings[alias.asname.name.value] = Binding(0, path)
            else:
                root = path.split(".", 1)[0]
                self.bindings[root] = Binding(0, root)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        level = len(node.relative)
        module = dotted_name(node.module) or ""
        if module == "__future__":
            return
        form = Form.RELATIVE if level else Form.PATH
        if isinstance(node.names, cst.ImportStar):
            self.add(self._kind, form, module, node, level=level)
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            path = f"{module}.{name}" if module else name
            self.add(self._kind, form, path, node, level=level)
            bound = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(bound, cst.Name):
                self.bindings[bound.value] = Binding(level, path)

    def contribute(self, facts: FileFacts) -> None:
        super().contribute(facts)
        facts.bindings.update(self.bindings)
