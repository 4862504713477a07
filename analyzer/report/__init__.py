"""Reports: views of the JSON document as text, JSON, Graphviz DOT and a self-contained page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMATS = ("text", "json", "dot", "html")
_RENDERERS = {
    "text": "analyzer.report.text",
    "json": "analyzer.report.json_report",
    "dot": "analyzer.report.dot",
    "html": "analyzer.report.html",
}


def preload(fmt: str) -> None:
    """Import the renderer of `fmt` ahead of `render` (while the analysis waits on workers)."""
    import importlib

    importlib.import_module(_RENDERERS[fmt])


def render(doc: Mapping[str, Any], fmt: str, *, color: bool = False, width: int = 100) -> str:
    """The report in `fmt` as a string (text is plain unless `color`)."""
    if fmt == "json":
        from analyzer.report.json_report import render_json

        return render_json(doc)
    if fmt == "dot":
        from analyzer.report.dot import render_dot

        return render_dot(doc)
    if fmt == "html":
        from analyzer.report.html import render_html

        return render_html(doc)
    from analyzer.report.text import render_text

    return render_text(doc, color=color, width=width)
