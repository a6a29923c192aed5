"""Decoding a `.nam` file's bytes as the runtime's JSON parser does.

The runtime reads a file with nlohmann/json 3.12 (`input >> config` in NAM/nam_file.cpp,
non-strict parse; RUNTIME_READING.md §2):

- one UTF-8 byte-order mark at the very start is skipped; leading whitespace is fine;
- only the first JSON value is read: whatever follows it (stray text, NUL bytes, a second
  object) is ignored;
- strict JSON otherwise: no comments, no trailing commas, no NaN/Infinity literals, no
  control characters, invalid UTF-8 or lone UTF-16 surrogates inside strings; a number
  overflowing a double is refused (out_of_range.406); duplicate keys: the last one wins.
  (NaN/Infinity and overflowing numbers are decoded here as non-finite floats and refused
  by the parser with their JSON path.)

:func:`decode_document` follows that, with a warning where the runtime plays a damaged file
(a byte-order mark, trailing data). Python's parser is stricter on nesting depth, which is
refused as bad input rather than met as a RecursionError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from namcheck.models.format.errors import NamFileError, NamWarning, short

BOM = b"\xef\xbb\xbf"
_WHITESPACE = " \t\n\r"
# A surrogate code point (an undecodable byte) or a \uD800-\uDFFF escape: strings to check.
_SUSPECT = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F]")
# Integers longer than this are read as floats (huge ones become inf and are refused with
# their path) instead of meeting Python's 4300-digit int-string limit, or overflowing later.
_MAX_INT_DIGITS = 300


def _json_int(text: str) -> int | float:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


# NaN, Infinity and -Infinity (which the runtime's parser refuses) decode to floats here and
# are refused with their JSON path by the parser, like numbers beyond float64 range.
_DECODER = json.JSONDecoder(parse_int=_json_int, strict=True)


def _not_json_kind(data: bytes) -> str | None:
    """What a file that is not JSON is, where its header is one of the files most often
    named as a model by mistake (the header checked past its magic, so a text that merely
    starts with the same letters stays "not valid JSON")."""
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return f"a WAV ({data[:4].decode()}) audio file"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "an AIFF audio file"
    if data[:4] == b"fLaC" and len(data) >= 42 and data[4] & 0x7F == 0 \
            and data[5:8] == b"\x00\x00\x22":  # STREAMINFO, 34 bytes, comes first
        return "a FLAC audio file"
    if data[:5] == b"OggS\x00" and len(data) >= 27:
        return "an Ogg audio file"
    if data[:3] == b"ID3" and len(data) >= 10 and data[3] in (2, 3, 4) and data[4] != 0xFF:
        return "an MP3 audio file"
    if data[:4] == b"PK\x03\x04" and len(data) >= 30:
        return "a ZIP archive"
    if data[:3] == b"\x1f\x8b\x08" and len(data) >= 18:
        return "a gzip archive"
    return None


def decode_document(data: bytes, name: str) -> tuple[Any, list[NamWarning]]:
    """The first JSON value of `data` and the warnings about how it was found.

    Raises NamFileError (path '') for what the runtime's parser refuses, and for nesting
    deeper than Python's parser takes.
    """
    warnings: list[NamWarning] = []
    start = 0
    if data.startswith(BOM):
        start = len(BOM)
        warnings.append(NamWarning("", "the file starts with a UTF-8 byte-order mark, which "
                                   "the runtime skips"))
    text = data[start:].decode("utf-8", errors="surrogateescape")
    begin = len(text) - len(text.lstrip(_WHITESPACE))
    if begin == len(text):
        raise NamFileError(name, "", "empty file (expected a JSON object)")
    try:
        doc, end = _DECODER.raw_decode(text, begin)
    except json.JSONDecodeError as exc:
        # Python's messages end in "at" where they give a position ("Unterminated string
        # starting at"): the position follows once, in words.
        what = exc.msg.removesuffix(" at")
        kind = _not_json_kind(data)
        if kind is not None and exc.pos == begin:
            raise NamFileError(name, "", f"{kind}, not a .nam model (a JSON file)") from None
        raise NamFileError(
            name, "", f"not valid JSON: {what} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise NamFileError(name, "", "JSON nested too deeply to be a model") from None
    except MemoryError:
        raise NamFileError(name, "", "out of memory while decoding the JSON") from None
    bad = _bad_string(doc) if _SUSPECT.search(text, begin, end) else None
    if bad is not None:
        path, why = bad
        raise NamFileError(name, path, f"not valid JSON: a string holds {why} (the runtime's "
                           "parser refuses it)")
    rest = text[end:]
    if rest.strip(_WHITESPACE):
        size = len(rest.encode("utf-8", errors="surrogateescape"))
        line, col = _position(text, end)
        what = "NUL bytes" if not rest.strip(_WHITESPACE + "\0") else short(rest.strip()[:20])
        warnings.append(NamWarning("", f"{size} bytes after the first JSON value (from line "
                                   f"{line} column {col}: {what}) are ignored, as the runtime "
                                   "ignores them"))
    return doc, warnings


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _bad_string(doc: Any) -> tuple[str, str] | None:
    """(JSON path, what) of the first key or string value holding invalid UTF-8 or a lone
    UTF-16 surrogate (both decode to surrogate code points here), else None."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            why = _surrogate(node)
            if why:
                return path, why
        elif isinstance(node, dict):
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                why = _surrogate(key)
                if why:
                    return sub, why
                if isinstance(value, (str, dict, list)):
                    stack.append((value, sub))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, (str, dict, list)):
                    stack.append((value, f"{path}[{i}]"))
    return None


def _surrogate(text: str) -> str | None:
    for ch in text:
        if "\ud800" <= ch <= "\udfff":
            if "\udc80" <= ch <= "\udcff":
                return "bytes that are not UTF-8"
            return "a lone UTF-16 surrogate escape"
    return None

