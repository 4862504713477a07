"""The Report as one JSON document (what `--format json` prints; the HTML page embeds it)."""

from __future__ import annotations

import json

from parity.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
