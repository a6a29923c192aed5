"""Layout-preserving rewrites of a `.nam` file's text.

Given a file's text and the document it should hold after an edit (a stamped loudness, a
scaled head_scale and last weight, a metadata object added), :func:`rewrite_text` changes
only the values that differ and keeps everything else byte for byte: key order,
indentation, line ends, number formatting, a byte-order mark, whatever follows the JSON
value. A `git diff` of a stamped file shows only the metadata lines that changed.

Values are located by scanning the text along the paths that change (other values are
skipped with Python's JSON scanner, in C). A changed scalar is replaced in place; a key
the document gains is added at the end of its object in the style of its siblings (or of
the file's indentation when the object is empty); a key it loses is removed with its
separator; a list whose length changes is written anew. New numbers are written as the
shortest text that reads back to the same float (`repr`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

_WS = " \t\n\r"
_SCANNER = json.JSONDecoder(strict=True)
Path = tuple[str | int, ...]


class RewriteError(ValueError):
    """The text cannot be rewritten in place (not the JSON the document came from)."""


@dataclass(frozen=True)
class _Change:
    path: Path
    kind: str  # "set", "add" or "remove"
    value: Any = None


def rewrite_text(text: str, new: Any) -> str:
    """`text` (a JSON document, optionally preceded by a BOM and followed by anything)
    changed so that its first JSON value decodes to `new`; everything else is kept."""
    start = _skip(text, 1 if text.startswith("\ufeff") else 0)
    old, end = _SCANNER.raw_decode(text, start)
    changes: list[_Change] = []
    _diff(old, new, (), changes)
    if not changes:
        return text
    style = _Style.of(text[start:end])
    # Apply from the end of the text backwards, so earlier offsets stay valid.
    edits = [_locate(text, start, old, change, style) for change in changes]
    edits.sort(key=lambda e: e[0], reverse=True)
    out = text
    for begin, finish, replacement in edits:
        out = out[:begin] + replacement + out[finish:]
    return out


# --------------------------------------------------------------------------- diff
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b  # 48000 and 48000.0 are the same number: keep the file's text
    return type(a) is type(b) and a == b


def _diff(old: Any, new: Any, path: Path, out: list[_Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            if key not in new:
                out.append(_Change((*path, key), "remove"))
            else:
                _diff(value, new[key], (*path, key), out)
        added = [(key, value) for key, value in new.items() if key not in old]
        if added:  # one change per object, so the new keys keep their order
            out.append(_Change(path, "add", added))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, (*path, i), out)
    elif isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        if old != new:
            out.append(_Change(path, "set", new))
    elif not _same(old, new):
        out.append(_Change(path, "set", new))


# --------------------------------------------------------------------------- style
@dataclass(frozen=True)
class _Style:
    """How the file writes JSON: newline, indentation unit, separators."""

    newline: str
    indent: str  # one level ('' for a one-line file)
    item_sep: str  # between members on one line (", " or ",")
    key_sep: str  # between a key and its value (": " or ":")

    @classmethod
    def of(cls, text: str) -> _Style:
        newline = "\r\n" if "\r\n" in text else "\n"
        indent = ""
        first_break = text.find("\n")
        if first_break >= 0:
            line = text[first_break + 1:]
            indent = line[:len(line) - len(line.lstrip(" \t"))]
        key_sep = ": " if '": ' in text[:4096] or '":' not in text[:4096] else ":"
        item_sep = ", " if ", " in text[:4096] or "," not in text[:4096] else ","
        return cls(newline, indent, item_sep, key_sep)

    def dump(self, value: Any, level_indent: str) -> str:
        """`value` in this style, its nested lines indented from `level_indent`."""
        if isinstance(value, dict):
            if not value:
                return "{}"
            if not self.indent:
                return "{" + self.item_sep.join(
                    _key(k) + self.key_sep + self.dump(v, "") for k, v in value.items()) + "}"
            inner = level_indent + self.indent
            body = ("," + self.newline).join(
                inner + _key(k) + self.key_sep + self.dump(v, inner) for k, v in value.items())
            return "{" + self.newline + body + self.newline + level_indent + "}"
        if isinstance(value, list):
            if not value:
                return "[]"
            if not self.indent or all(not isinstance(v, (dict, list)) for v in value):
                return "[" + self.item_sep.join(self.dump(v, level_indent) for v in value) + "]"
            inner = level_indent + self.indent
            body = ("," + self.newline).join(inner + self.dump(v, inner) for v in value)
            return "[" + self.newline + body + self.newline + level_indent + "]"
        return _scalar(value)


def _key(key: str) -> str:
    return json.dumps(key)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RewriteError(f"{value} is not a JSON number")
        return repr(value)
    return json.dumps(value)


# --------------------------------------------------------------------------- scanning
def _skip(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _value_end(text: str, i: int) -> int:
    return _SCANNER.raw_decode(text, i)[1]


def _members(text: str, i: int) -> tuple[list[tuple[str, int, int, int]], int]:
    """The members of the object at `i` ('{'): (key, key start, value start, value end),
    and the index of its closing '}'."""
    assert text[i] == "{"
    members = []
    j = _skip(text, i + 1)
    if text[j] == "}":
        return members, j
    while True:
        key, after_key = _SCANNER.raw_decode(text, j)
        colon = _skip(text, after_key)
        value_start = _skip(text, colon + 1)
        value_end = _value_end(text, value_start)
        members.append((key, j, value_start, value_end))
        k = _skip(text, value_end)
        if text[k] == "}":
            return members, k
        j = _skip(text, k + 1)


def _element(text: str, i: int, index: int, length: int) -> tuple[int, int]:
    """(start, end) of element `index` of the array at `i` ('[') of `length` elements."""
    assert text[i] == "["
    if index == length - 1 and length > 1:
        end_bracket = _value_end(text, i) - 1
        last_end = end_bracket
        while text[last_end - 1] in _WS:
            last_end -= 1
        start = text.rfind(",", i, last_end) + 1
        start = _skip(text, start)
        if _value_end(text, start) == last_end:  # a scalar: no commas inside it
            return start, last_end
    j = _skip(text, i + 1)
    for _ in range(index):
        j = _skip(text, _skip(text, _value_end(text, j)) + 1)
    return j, _value_end(text, j)


def _line_indent(text: str, i: int) -> str:
    line_start = text.rfind("\n", 0, i) + 1
    line = text[line_start:i]
    return line[:len(line) - len(line.lstrip(" \t"))]


def _locate(text: str, root: int, doc: Any, change: _Change, style: _Style
            ) -> tuple[int, int, str]:
    """(begin, end, replacement) in `text` for one change (`doc`: the text's value)."""
    if change.kind == "set" and not change.path:  # the whole document
        return root, _value_end(text, root), style.dump(change.value, "")
    # "add" names the object itself; "set" and "remove" name a member of their parent.
    parents = change.path if change.kind == "add" else change.path[:-1]
    i, node = root, doc
    for key in parents:
        i, node = _child(text, i, node, key)
    if change.kind == "set":
        start, end = _child_span(text, i, node, change.path[-1])
        return start, end, style.dump(change.value, _line_indent(text, start))
    members, close = _members(text, i)
    if change.kind == "add":
        return _add_members(text, i, members, close, change.value, style)
    return _remove_member(text, members, close, str(change.path[-1]))


def _child(text: str, i: int, node: Any, key: str | int) -> tuple[int, Any]:
    start, _ = _child_span(text, i, node, key)
    return start, node[key]


def _child_span(text: str, i: int, node: Any, key: Any) -> tuple[int, int]:
    if isinstance(node, dict):
        members, _ = _members(text, i)
        # duplicate keys: the last one is the value the document holds
        found = [m for m in members if m[0] == key]
        if not found:
            raise RewriteError(f"key {key!r} not found")
        _, _, start, end = found[-1]
        return start, end
    if isinstance(node, list):
        index = key if key >= 0 else len(node) + key
        return _element(text, i, index, len(node))
    raise RewriteError(f"cannot index a {type(node).__name__} with {key!r}")


def _add_members(text: str, i: int, members: list[tuple[str, int, int, int]], close: int,
                 pairs: list[tuple[str, Any]], style: _Style) -> tuple[int, int, str]:
    """New members after the last one of the object at `i`, separated as its members are
    (or, in an empty object, as the file indents)."""
    if not members:
        if not style.indent:
            body = style.item_sep.join(_key(k) + style.key_sep + style.dump(v, "")
                                       for k, v in pairs)
            return i + 1, close, body
        outer = _line_indent(text, i)
        inner = outer + style.indent
        body = ("," + style.newline).join(inner + _key(k) + style.key_sep + style.dump(v, inner)
                                          for k, v in pairs)
        return i + 1, close, style.newline + body + style.newline + outer
    last_value_end = members[-1][3]
    if len(members) > 1:  # the whitespace between the last two members
        sep = text[members[-2][3]:members[-1][1]]
        sep = sep[sep.index(",") + 1:]
    else:  # the whitespace before the only member
        sep = text[i + 1:members[0][1]] or ("" if style.item_sep == "," else " ")
    indent = _line_indent(text, members[-1][1]) if "\n" in sep else ""
    body = "".join("," + sep + _key(k) + style.key_sep + style.dump(v, indent)
                   for k, v in pairs)
    return last_value_end, last_value_end, body


def _remove_member(text: str, members: list[tuple[str, int, int, int]], close: int,
                   key: str) -> tuple[int, int, str]:
    index = max(n for n, m in enumerate(members) if m[0] == key)
    _, key_start, _, value_end = members[index]
    if index > 0:  # from the end of the previous value: its comma and our pair
        return members[index - 1][3], value_end, ""
    if len(members) > 1:  # the first member: up to the next key
        return key_start, members[1][1], ""
    return key_start, value_end, ""
