"""ORM writes: `X.objects.create(...)`, `X.objects.filter(...).update(...)`, `obj.save()`.

Which model a write touches is read from the code around it, within one function: a manager
chain names its model (`Order.objects...`); an instance is typed by its parameter annotation
(`order: Order`) or by what it was assigned from (`order = Order(...)`,
`order = Order.objects.get(...)`). Anything less certain is left out.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import INSTANCE_DETAIL, Form, Kind
from analyzer.visitors.base import FactVisitor, dotted_name

QUERYSET_WRITES = frozenset(
    {
        "create",
        "get_or_create",
        "update_or_create",
        "bulk_create",
        "bulk_update",
        "update",
        "delete",
    }
)
INSTANCE_WRITES = frozenset({"save", "delete"})
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
# Manager methods that return one instance, so `x = Model.objects.get(...)` types `x`.
INSTANCE_GETTERS = frozenset({"get", "create", "first", "last", "earliest", "latest"})


def _capitalised(name: str | None) -> bool:
    return name is not None and name.rsplit(".", 1)[-1][:1].isupper()


def manager_model(expr: cst.BaseExpression) -> str | None:
    """The model in `Model.objects.a(...).b(...)`, or None."""
    while True:
        if isinstance(expr, cst.Call):
            expr = expr.func
        elif isinstance(expr, cst.Attribute):
            if expr.attr.value in MANAGERS:
                model = dotted_name(expr.value)
                return model if _capitalised(model) else None
            expr = expr.value
        else:
            return None


class WriteVisitor(FactVisitor):
    """Which models this file writes, so cross-context writes can be named."""

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (b"objects", b"_manager", b"save(", b"delete(")

    def __init__(self) -> None:
        super().__init__()
        self._scopes: list[dict[str, str]] = [{}]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope: dict[str, str] = {}
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            annotation = dotted_name(param.annotation.annotation) if param.annotation else None
            if annotation is not None and _capitalised(annotation):
                scope[param.name.value] = annotation
        self._scopes.append(scope)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        variable = node.targets[0].target.value
        model = self._instance_model(node.value)
        if model is not None:
            self._scopes[-1][variable] = model
        else:
            self._scopes[-1].pop(variable, None)

    def _instance_model(self, value: cst.BaseExpression) -> str | None:
        if not isinstance(value, cst.Call):
            return None
        if isinstance(value.func, cst.Attribute) and value.func.attr.value in INSTANCE_GETTERS:
            return manager_model(value.func.value)
        name = dotted_name(value.func)
        return name if _capitalised(name) else None

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Attribute):
            return
        method = node.func.attr.value
        receiver = node.func.value
        if method in QUERYSET_WRITES:
            model = manager_model(receiver)
            if model is not None:
                self.add(Kind.ORM_WRITE, Form.NAME, model, node, detail=method)
                return
        if method in INSTANCE_WRITES:
            model = self._receiver_model(receiver)
            if model is not None:
                self.add(Kind.ORM_WRITE, Form.NAME, model, node, detail=INSTANCE_DETAIL + method)

    def _receiver_model(self, receiver: cst.BaseExpression) -> str | None:
        if isinstance(receiver, cst.Name):
            return self._scopes[-1].get(receiver.value)
        if isinstance(receiver, cst.Call):
            name = dotted_name(receiver.func)
            return name if _capitalised(name) else None
        return None
