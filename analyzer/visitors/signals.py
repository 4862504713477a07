"""Signal receivers with senders: `@receiver(post_save, sender=X)`, `sig.connect(f, sender=X)`."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from analyzer.facts import Form, Kind
from analyzer.visitors.base import (
    FactVisitor,
    dotted_name,
    first_positional,
    keyword_arg,
    last_name,
)


class SignalVisitor(FactVisitor):
    """Receivers tie their module to the sender (a model name or an `"app.Model"` label) and,
    for a project's own signals, to the module defining the signal.

    `.connect(...)` counts only with a `sender=` keyword, so database or socket `connect`
    calls are not mistaken for signals.
    """

    TRIGGERS: ClassVar[tuple[bytes, ...]] = (b"receiver", b"sender")

    def visit_Call(self, node: cst.Call) -> None:
        name = last_name(node.func)
        sender = keyword_arg(node, "sender")
        if name == "receiver":
            signals = first_positional(node)
            elements = (
                [element.value for element in signals.elements]
                if isinstance(signals, cst.List | cst.Tuple)
                else [signals]
            )
            for signal in elements:
                self._signal(signal)
        elif name == "connect" and sender is not None and isinstance(node.func, cst.Attribute):
            self._signal(node.func.value)
        else:
            return
        if sender is not None:
            self.add_expression(Kind.SIGNAL, sender, detail="sender")

    def _signal(self, expr: cst.BaseExpression | None) -> None:
        name = dotted_name(expr)
        if expr is not None and name is not None:
            self.add(Kind.SIGNAL, Form.NAME, name, expr, detail="signal")
