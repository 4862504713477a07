"""Call sites of imported names: what would become API calls if a boundary ran between."""

from __future__ import annotations

import libcst as cst

from analyzer.facts import FileFacts, Form, Kind
from analyzer.visitors.base import FactVisitor, dotted_name


class CallVisitor(FactVisitor):
    """Every call of a dotted name whose root an import binds (`inventory.stock_reserve(...)`).

    Calls of local names, `self.x()` and the like are dropped once the file's imports are
    known; calls resolved to modules outside the tree are dropped later.
    """

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted_name(node.func)
        if name is not None:
            self.add(Kind.CALL, Form.NAME, name, node)

    def contribute(self, facts: FileFacts) -> None:
        bound = facts.bindings
        facts.references.extend(
            ref for ref in self.references if ref.target.split(".", 1)[0] in bound
        )
