"""manage.py for any carve service: a bad setting is one clear line, not a traceback."""

from __future__ import annotations

import sys

from django.core.exceptions import ImproperlyConfigured


def run_manage(argv: list[str]) -> None:
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        print(f"carve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
