"""One fast, source-order walk of a libcst tree: line numbers and batched visitors together.

libcst's own traversal rebuilds every node it visits and `PositionProvider` runs a full code
generation pass; on Django's 900 files those two cost about three times the parse itself. This
walk reads each node's children in the order libcst would generate them (learned once per node
type from libcst's own `_visit_and_replace_children`), counts newlines as it goes, and calls the
`visit_<Node>`/`leave_<Node>` methods of `BatchableCSTVisitor`s. The visitors stay ordinary
libcst visitors: the tests also run them through `MetadataWrapper.visit_batched`, and
`LineProvider` gives the same lines there as `PositionProvider`'s `start.line` for every
statement and expression.

One difference from libcst's order: a node's `visit_` method runs once its own tokens start,
that is after its leading comments, decorators and opening parentheses have been walked, so
that the node's line is known when the visitor asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FunctionType
from typing import Any

import libcst as cst
from libcst.metadata import BaseMetadataProvider

# Fields walked before a node's own first token, mirroring PositionProvider's syntactic start.
_BEFORE_START = frozenset({"leading_lines", "decorators", "lines_after_decorators", "lpar"})
# Per node type: (fields before its first token, fields up to its closing parentheses,
# the closing parentheses and after, whether it has a `value` string).
_Plan = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]
_PLANS: dict[type[cst.CSTNode], _Plan] = {}

Handler = Callable[[Any], object]


class _FieldOrderRecorder(cst.CSTVisitor):
    """Notes the order in which libcst visits a node's fields, without descending."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self.fields.append(attribute)


def _plan(node: cst.CSTNode) -> _Plan:
    """How to walk a node of this type, learned from libcst's own child order."""
    recorder = _FieldOrderRecorder()
    node._visit_and_replace_children(recorder)
    order = tuple(dict.fromkeys(recorder.fields))
    start = 0
    while start < len(order) and order[start] in _BEFORE_START:
        start += 1
    close = order.index("rpar") if "rpar" in order[start:] else len(order)
    plan = (
        order[:start],
        order[start:close],
        order[close:],
        isinstance(getattr(node, "value", None), str),
    )
    _PLANS[type(node)] = plan
    return plan


def is_node_type(kind: type) -> bool:
    """`issubclass(kind, CSTNode)`, remembered: `isinstance` against libcst's abstract base
    class goes through ABCMeta and was a seventh of the whole walk."""
    known = _NODE_TYPES.get(kind)
    if known is None:
        known = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return known


_NODE_TYPES: dict[type, bool] = {}


def walk(
    module: cst.Module,
    lines: dict[int, int],
    on_visit: Mapping[type[cst.CSTNode], Sequence[Handler]],
    on_leave: Mapping[type[cst.CSTNode], Sequence[Handler]],
) -> None:
    """Walk `module` in source order, calling the handlers per node type and filling `lines`
    with each node's line, keyed by `id(node)` (libcst's `__hash__` is a Python method)."""
    line = 1
    node_types = _NODE_TYPES
    # Whitespace leaves only move the line counter (nobody asks for their lines); handling them
    # inline saves a call per leaf, a good share of all nodes.
    newline_type = cst.Newline if cst.Newline not in on_visit else None
    space_type = cst.SimpleWhitespace if cst.SimpleWhitespace not in on_visit else None
    no_handlers: tuple[Handler, ...] = ()

    def children(node: cst.CSTNode, names: tuple[str, ...]) -> None:
        nonlocal line
        for name in names:
            child = getattr(node, name)
            child_type = type(child)
            if child_type is tuple or child_type is list:
                items: Sequence[Any] = child  # libcst sequences hold nodes only
            elif node_types.get(child_type) or (
                child_type not in node_types and is_node_type(child_type)
            ):
                items = (child,)
            else:
                continue
            for item in items:
                item_type = type(item)
                if item_type is space_type:
                    line += item.value.count("\n")
                elif item_type is newline_type:
                    line += 1
                else:
                    visit(item)

    def visit(node: cst.CSTNode) -> None:
        nonlocal line
        kind = type(node)
        before, body, closing, has_value = _PLANS.get(kind) or _plan(node)
        if before:
            children(node, before)
        lines[id(node)] = line
        for handler in on_visit.get(kind, no_handlers):
            handler(node)
        if body:
            children(node, body)
        # Newlines inside a token (a triple-quoted string, a backslash continuation) count
        # after the token's opening parentheses and before its closing ones.
        if kind is cst.Newline:
            line += 1
        elif has_value:
            line += node.value.count("\n")  # type: ignore[attr-defined]
        if closing:
            children(node, closing)
        for handler in on_leave.get(kind, no_handlers):
            handler(node)

    visit(module)


class _EveryType(Mapping[type[cst.CSTNode], Sequence[Handler]]):
    """A handler table that gives every node type the same handlers."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        self.handlers = handlers

    def __getitem__(self, kind: type[cst.CSTNode]) -> Sequence[Handler]:
        return self.handlers

    def __iter__(self) -> Iterator[type[cst.CSTNode]]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _LinesByNode(Mapping[cst.CSTNode, int]):
    """`walk`'s lines (keyed by id) as metadata keyed by node, for `get_metadata`."""

    def __init__(self, lines: dict[int, int]) -> None:
        self.lines = lines

    def __getitem__(self, node: cst.CSTNode) -> int:
        return self.lines[id(node)]

    def __iter__(self) -> Iterator[cst.CSTNode]:
        raise TypeError("lines are looked up by node, not listed")

    def __len__(self) -> int:
        return len(self.lines)


class LineProvider(BaseMetadataProvider[int]):
    """The line on which each node starts: `PositionProvider`'s `start.line` for every
    statement and expression (operators, brackets and blocks may differ by their leading
    whitespace)."""

    def _gen_impl(self, module: cst.Module) -> None:
        lines: dict[int, int] = {}
        nodes: list[cst.CSTNode] = []
        walk(module, lines, _EveryType([nodes.append]), {})
        self._computed.update((node, lines[id(node)]) for node in nodes)


_HANDLERS: dict[type[cst.BatchableCSTVisitor], list[tuple[bool, type[cst.CSTNode], str]]] = {}


def visitor_methods(kind: type[cst.BatchableCSTVisitor]) -> list[str]:
    """The names `get_visitors()` gives for visitors of this class: its `visit_`/`leave_`
    methods that are not libcst's no-op stubs, read off the class dictionaries.

    `get_visitors` goes through `inspect.getmembers` over some 1,600 attributes, about 2 ms a
    class: a worker paid 20 ms for it on its first file, the one file of a run after an edit.
    Each class of the MRO is read once (libcst's stubs are shared by every visitor), and the
    first class that defines a name decides whether it is a method.
    """
    names: set[str] = set()
    for klass in reversed(kind.__mro__):
        defined, methods = _own_handlers(klass)
        names = (names - defined) | methods
    return sorted(names)


_OWN: dict[type, tuple[frozenset[str], frozenset[str]]] = {}


def _own_handlers(klass: type) -> tuple[frozenset[str], frozenset[str]]:
    """The `visit_`/`leave_` names `klass` itself defines, and those of them that are methods
    other than no-op stubs."""
    found = _OWN.get(klass)
    if found is None:
        own = {n: v for n, v in vars(klass).items() if n.startswith(("visit_", "leave_"))}
        methods = {
            n
            for n, v in own.items()
            if isinstance(v, FunctionType) and not getattr(v, "_is_no_op", False)
        }
        found = _OWN[klass] = (frozenset(own), frozenset(methods))
    return found


def _handler_names(
    visitor: cst.BatchableCSTVisitor,
) -> list[tuple[bool, type[cst.CSTNode], str]]:
    """(is_visit, node class, method name) per handler, once a class."""
    cached = _HANDLERS.get(type(visitor))
    if cached is not None:
        return cached
    names = []
    for method in visitor_methods(type(visitor)):
        phase, _, node_name = method.partition("_")
        node_class = getattr(cst, node_name, None)
        if not isinstance(node_class, type) or not issubclass(node_class, cst.CSTNode):
            raise TypeError(f"{type(visitor).__name__}.{method}: only visit_/leave_<Node> work")
        names.append((phase == "visit", node_class, method))
    _HANDLERS[type(visitor)] = names
    return names


def _dispatch(
    visitors: Sequence[cst.BatchableCSTVisitor],
) -> tuple[dict[type[cst.CSTNode], list[Handler]], dict[type[cst.CSTNode], list[Handler]]]:
    on_visit: dict[type[cst.CSTNode], list[Handler]] = {}
    on_leave: dict[type[cst.CSTNode], list[Handler]] = {}
    for visitor in visitors:
        for is_visit, node_class, method in _handler_names(visitor):
            target = on_visit if is_visit else on_leave
            target.setdefault(node_class, []).append(getattr(visitor, method))
    return on_visit, on_leave


def visit_batched(module: cst.Module, visitors: Sequence[cst.BatchableCSTVisitor]) -> None:
    """Run `visitors` over `module` in one walk; each may ask `LineProvider` for lines."""
    lines: dict[int, int] = {}
    by_node = _LinesByNode(lines)
    for visitor in visitors:
        visitor.metadata = {LineProvider: by_node}
    on_visit, on_leave = _dispatch(visitors)
    walk(module, lines, on_visit, on_leave)
