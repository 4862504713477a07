"""The fast walker agrees with libcst: same lines as PositionProvider, same facts as
libcst's own batched traversal."""

from __future__ import annotations

import textwrap
from pathlib import Path

import django
import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from analyzer.extract import parse
from analyzer.facts import FileFacts
from analyzer.visitors import FactVisitor, build_visitors
from analyzer.visitors.loaders import LoaderVisitor
from analyzer.walker import LineProvider, visit_batched, visitor_methods

SAMPLE = textwrap.dedent(
    '''
    """Module docstring
    over two lines."""
    import os, \\
        sys
    # a comment
    from shop.orders.models import (
        Order,  # trailing comment
        Line,
    )

    X = (
        "parenthesised"
    )

    @receiver(post_save, sender="orders.Order")
    @other
    def handler(sender, **kwargs):
        """Doc."""
        text = f"""multi
        {sender!r} line"""
        return admin.site.register(
            [Order, Line],
        )

    class Meta:
        model = Order

    class S(Serializer):
        class Meta:
            model = Line
    if True: y = [include("shop.urls"),
                  get_model("a", "B")]
    '''
)

# What visitors point at: statements and expressions (not whitespace, operators, brackets).
CODE = (
    cst.BaseExpression,
    cst.BaseSmallStatement,
    cst.BaseCompoundStatement,
    cst.SimpleStatementLine,
)


def test_lines_match_position_provider_on_every_statement_and_expression() -> None:
    module = cst.parse_module(SAMPLE)
    wrapper = MetadataWrapper(module)
    positions = wrapper.resolve(PositionProvider)
    lines = wrapper.resolve(LineProvider)
    checked = 0
    for node, position in positions.items():
        if isinstance(node, CODE):
            assert lines[node] == position.start.line, (type(node).__name__, position)
            checked += 1
    assert checked > 60


def _facts(visit: str) -> FileFacts:
    source = SAMPLE.encode()
    module = cst.parse_module(source)
    visitors = build_visitors(source, ("get_model",), ("import_string",))
    if visit == "libcst":
        MetadataWrapper(module, unsafe_skip_copy=True).visit_batched(visitors)
    else:
        visit_batched(module, visitors)
    facts = FileFacts()
    for visitor in visitors:
        visitor.contribute(facts)
    return facts


def test_fast_walk_finds_what_libcst_traversal_finds() -> None:
    fast, reference = _facts("fast"), _facts("libcst")
    assert fast.to_dict() == reference.to_dict()
    assert len(fast.references) > 10


@pytest.mark.slow
@pytest.mark.parametrize(
    "relative", ["db/models/fields/related.py", "contrib/admin/options.py", "utils/html.py"]
)
def test_lines_match_position_provider_on_django_files(relative: str) -> None:
    source = (Path(django.__file__).parent / relative).read_text()
    wrapper = MetadataWrapper(cst.parse_module(source))
    positions = wrapper.resolve(PositionProvider)
    lines = wrapper.resolve(LineProvider)
    compared = [(node, position) for node, position in positions.items() if isinstance(node, CODE)]
    wrong = [
        (type(n).__name__, p.start.line, lines[n]) for n, p in compared if lines[n] != p.start.line
    ]
    assert wrong == []
    assert len(compared) > 1000


def test_parsing_without_validation_builds_the_same_tree_and_restores_validation() -> None:
    for relative in ("db/models/query_utils.py", "urls/resolvers.py"):
        source = (Path(django.__file__).parent / relative).read_bytes()
        assert parse(source).deep_equals(cst.parse_module(source))
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")  # validation is back once parsing is over


def test_visitor_methods_are_those_libcst_batches() -> None:
    class Shadowing(LoaderVisitor):
        visit_Call = None  # type: ignore[assignment]  # not a method any more

        def leave_Name(self, node: cst.Name) -> None:
            pass

    kinds: list[type[FactVisitor]] = [*FactVisitor.__subclasses__(), Shadowing]
    assert len(kinds) > 10
    for kind in kinds:
        if issubclass(kind, LoaderVisitor):
            visitor: FactVisitor = kind(("get_model",), ("import_string",))
        else:
            visitor = kind()
        assert visitor_methods(kind) == sorted(visitor.get_visitors()), kind.__name__
    assert "visit_Call" not in visitor_methods(Shadowing)
    assert "leave_Name" in visitor_methods(Shadowing)
