"""Decoding `.nam` JSON text into Python values."""

from __future__ import annotations

import json
from typing import Any

from namcheck.models.format.errors import NamFileError

# Integers longer than this are read as floats (huge ones become inf and are refused with
# their path) instead of meeting Python's 4300-digit int-string limit, or overflowing later.
_MAX_INT_DIGITS = 300


def _json_int(text: str) -> int | float:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


def decode_json(text: str, name: str) -> Any:
    """Decode `.nam` JSON text: NaN/Infinity tokens and overflowing numbers become float
    inf/nan (reported with their JSON path by parse_nam); nesting too deep for the parser
    is one error line, not a RecursionError."""
    try:
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise NamFileError(
            name, "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise NamFileError(name, "", "JSON nested too deeply to be a model") from None
    except MemoryError:
        raise NamFileError(name, "", "out of memory while decoding the JSON") from None
