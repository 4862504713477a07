"""One libcst visitor per kind of fact; `build_visitors` picks those a file can use."""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.visitors.admin import AdminVisitor
from analyzer.visitors.base import FactVisitor
from analyzer.visitors.calls import CallVisitor
from analyzer.visitors.celery import CeleryVisitor
from analyzer.visitors.definitions import DefinitionVisitor
from analyzer.visitors.imports import ImportVisitor
from analyzer.visitors.loaders import LoaderVisitor
from analyzer.visitors.meta_model import MetaModelVisitor
from analyzer.visitors.relations import RelationVisitor
from analyzer.visitors.signals import SignalVisitor
from analyzer.visitors.urls import UrlIncludeVisitor
from analyzer.visitors.writes import WriteVisitor

__all__ = ["FactVisitor", "build_visitors"]

# ImportVisitor comes first: later visitors read the bindings it contributes.
_SIMPLE_VISITORS: tuple[type[FactVisitor], ...] = (
    ImportVisitor,
    DefinitionVisitor,
    CallVisitor,
    RelationVisitor,
    SignalVisitor,
    MetaModelVisitor,
    AdminVisitor,
    UrlIncludeVisitor,
    CeleryVisitor,
    WriteVisitor,
)


def build_visitors(
    source: bytes, model_loaders: Iterable[str], path_loaders: Iterable[str]
) -> list[FactVisitor]:
    """Fresh visitors for one file, skipping those whose trigger words it does not contain."""
    visitors: list[FactVisitor] = [
        cls()
        for cls in _SIMPLE_VISITORS
        if not cls.TRIGGERS or any(t in source for t in cls.TRIGGERS)
    ]
    loaders = LoaderVisitor(model_loaders, path_loaders)
    if any(name.encode() in source for name in loaders.names):
        visitors.append(loaders)
    return visitors
