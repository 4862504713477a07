"""Request body parsers shared by every service.

DRF's JSONParser lets a RecursionError out of the json module on deeply nested input
(`[` * 100000): that would be a 500. Here any body the json module cannot read, however
it fails, is a 400 `parse_error`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
