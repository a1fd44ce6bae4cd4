"""JSON from untrusted input (journals, logs, recordings, scenario and baseline files): whatever cannot be read
is a ``ValueError``, never a ``RecursionError`` traceback from input nested past the parser's limit."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional


def json_value(text: str) -> Any:
    """``json.loads`` for untrusted input: whatever it cannot read, nesting past the parser's recursion limit
    included, is a ``ValueError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_object(text: str) -> Optional[Dict[str, Any]]:
    """A line that is one JSON object, else None."""
    if not text.startswith("{"):
        return None
    try:
        obj = json_value(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None
