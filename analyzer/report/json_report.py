"""The JSON report: the document itself (its shape is in analyzer/README.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def render_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"
