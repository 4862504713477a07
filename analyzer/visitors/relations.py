"""Relation fields: `ForeignKey("app.Model")`, `ManyToManyField("Model")`, `"self"`, ..."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import Kind
from analyzer.visitors.base import FactVisitor, first_positional, keyword_arg, last_name

RELATION_FIELDS = frozenset(
    {
        "ForeignKey",
        "OneToOneField",
        "ManyToManyField",
        "ForeignObject",
        "GenericRelation",
        "ParentalKey",
        "ParentalManyToManyField",
        "TreeForeignKey",
        "TreeOneToOneField",
        "TreeManyToManyField",
    }
)


class RelationVisitor(FactVisitor):
    """Model relation fields, whose target is often a string an import graph never sees.

    The target is the `to=` keyword or the first positional argument: a label string
    (`"app_label.Model"`, `"Model"` in the same app, `"self"`), `settings.AUTH_USER_MODEL`,
    or a model name (then an import carries it too; the relation still weighs more).
    """

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (
        b"ForeignKey",
        b"OneToOneField",
        b"ManyToManyField",
        b"ForeignObject",
        b"GenericRelation",
        b"ParentalKey",
    )

    def visit_Call(self, node: cst.Call) -> None:
        if last_name(node.func) not in RELATION_FIELDS:
            return
        target = keyword_arg(node, "to") or first_positional(node)
        if target is not None:
            self.add_expression(Kind.RELATION, target, detail=last_name(node.func) or "")
