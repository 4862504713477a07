"""Celery tasks sent by name (`send_task("app.tasks.x")`, `signature("...")`) and task
definitions (`@shared_task`, `@app.task(name=...)`), which say where a name points."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import FileFacts, Form, Kind, TaskDefinition
from analyzer.visitors.base import (
    FactVisitor,
    first_positional,
    keyword_arg,
    last_name,
    string_value,
)

SENDERS = frozenset({"send_task", "signature", "Signature"})
TASK_DECORATORS = frozenset({"shared_task", "task"})


class CeleryVisitor(FactVisitor):
    """A task sent by name couples the sender to the task's module without any import."""

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (b"send_task", b"ignature", b"task")

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[TaskDefinition] = []

    def visit_Call(self, node: cst.Call) -> None:
        if last_name(node.func) not in SENDERS:
            return
        target = first_positional(node)
        name = string_value(target)
        if name and target is not None:
            self.add(Kind.CELERY_TASK, Form.TASK, name, target, detail=name)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            expr = decorator.decorator
            call = expr if isinstance(expr, cst.Call) else None
            if last_name(call.func if call else expr) in TASK_DECORATORS:
                explicit = string_value(keyword_arg(call, "name")) if call else None
                self.tasks.append(TaskDefinition(node.name.value, explicit))

    def contribute(self, facts: FileFacts) -> None:
        super().contribute(facts)
        facts.tasks.extend(self.tasks)
