"""The Report, three ways: in the terminal (rich), as JSON, as one self-contained HTML page."""

from __future__ import annotations

from parity.model import Report

FORMATS = ("text", "json", "html")


def render(report: Report, fmt: str, *, color: bool = False, width: int = 110) -> str:
    """The report as a document of format `fmt` (text without colour unless asked)."""
    if fmt == "json":
        from parity.report.json_report import render_json

        return render_json(report)
    if fmt == "html":
        from parity.report.html import render_html

        return render_html(report)
    if fmt == "text":
        from parity.report.text import render_text

        return render_text(report, color=color, width=width)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
