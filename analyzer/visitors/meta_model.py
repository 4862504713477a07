"""`class Meta: model = X` inside a class: DRF serializers, ModelForms, filter sets."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import Kind
from analyzer.visitors.base import FactVisitor


class MetaModelVisitor(FactVisitor):
    """The `model` named in an inner `Meta` class ties the outer class to that model."""

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (b"class Meta",)

    def __init__(self) -> None:
        super().__init__()
        self._classes: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._classes.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(self._classes) < 2 or self._classes[-1] != "Meta":
            return
        for target in node.targets:
            if isinstance(target.target, cst.Name) and target.target.value == "model":
                self.add_expression(Kind.META_MODEL, node.value, detail=self._classes[-2])
