"""Export each registered event schema to contracts/schemas/<type>.v<N>.json.

Published schemas are immutable: exporting refuses to change an existing file and says
to register a new version instead. `check_drift()` is what the test suite runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.events import Event
from contracts.registry import EVENT_CLASSES, schema_filename

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def schema_of(cls: type[Event]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="serialization")
    schema["$id"] = f"carve:{cls.TYPE}:v{cls.VERSION}"
    schema["x-aggregate"] = cls.AGGREGATE
    return schema


def render(cls: type[Event]) -> str:
    return json.dumps(schema_of(cls), indent=2, sort_keys=True) + "\n"


def check_drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Problems between the code and the committed schemas; empty when they agree."""
    problems = []
    expected = {schema_filename(cls): render(cls) for cls in EVENT_CLASSES}
    for name, text in expected.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: not exported yet (run `carve contracts export`)")
        elif path.read_text() != text:
            problems.append(
                f"{name}: the code's schema differs from the published one; a published "
                "schema never changes: add a new version (e.g. ...V2) instead"
            )
    for path in sorted(directory.glob("*.json")):
        if path.name not in expected:
            problems.append(f"{path.name}: published but no longer registered (append-only)")
    return problems


def export(directory: Path = SCHEMA_DIR) -> tuple[list[str], list[str]]:
    """Write schemas not exported yet. Returns (written, refused)."""
    directory.mkdir(parents=True, exist_ok=True)
    written, refused = [], []
    for cls in EVENT_CLASSES:
        path = directory / schema_filename(cls)
        text = render(cls)
        if path.exists():
            if path.read_text() != text:
                refused.append(path.name)
            continue
        path.write_text(text)
        written.append(path.name)
    return written, refused
