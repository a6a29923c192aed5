"""How the runtime reads one JSON value: nlohmann/json's lookups and conversions.

NeuralAmpModelerCore reads every key through nlohmann/json 3.12, and what it accepts is
decided by how each key is looked up and converted (RUNTIME_READING.md §3):

- an ``int`` target takes any JSON number, truncated toward zero (3.9 reads as 3), and a
  boolean (true reads as 1); null, strings, arrays and objects are refused;
- a ``float`` target takes numbers and booleans; a ``double`` target takes numbers only;
- a ``bool`` target takes only true/false; a ``string`` target only strings;
- ``value(key, default)`` gives the default when the key is absent but refuses a null;
  ``find`` counts a null as present; a key read without a check (``at()``, or ``[]`` on a
  const object, undefined behaviour when missing) must be there.

A :class:`Node` is one JSON value with its path; its methods are those lookups and
conversions, raising :class:`NamFileError` (path and message) where the runtime throws or
has undefined behaviour, and recording a :class:`NamWarning` where it plays a value it
reads differently from how it is written (a truncated number, a boolean read as a number).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from namcheck.models.format.errors import NamFileError, NamWarning, join, short

T = TypeVar("T")

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # C++ int on every platform NAM builds for


def type_name(value: Any) -> str:
    """The JSON type of a decoded value, as nlohmann's messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def describe(value: Any) -> str:
    """A decoded value in a message: `null`, `true`, `string 'x'`, `number 3.5`, ..."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return f"{type_name(value)} {short(value)}"


@dataclass
class Reading:
    """The reading of one file: its name (for messages) and the warnings so far."""

    source: str
    warnings: list[NamWarning] = field(default_factory=list)

    def fail(self, path: str, message: str) -> NoReturn:
        raise NamFileError(self.source, path, message)

    def warn(self, path: str, message: str) -> None:
        warning = NamWarning(path, message)
        if warning not in self.warnings:  # a key read twice (e.g. by the A2 detector)
            self.warnings.append(warning)


@dataclass(frozen=True)
class Node:
    """A JSON value at `path` of the file being read."""

    value: Any
    path: str
    reading: Reading

    # ---------------------------------------------------------------- lookups
    def child(self, key: str | int) -> Node:
        """The member `key` (or element `key`), with its path."""
        sub = f"[{key}]" if isinstance(key, int) else key
        container = self.value
        value = container[key] if isinstance(key, int) else container.get(key)
        return Node(value, join(self.path, sub), self.reading)

    def has(self, key: str) -> bool:
        """`find(key) != end()`: present, even as null (a non-object has no keys)."""
        return isinstance(self.value, dict) and key in self.value

    def has_value(self, key: str) -> bool:
        """Present and not null (the runtime's `find(...) && !is_null()`)."""
        return self.has(key) and self.value[key] is not None

    def member(self, key: str) -> Node:
        """`copy[key]` on a non-const copy: a missing key reads as null (and then fails
        its conversion with a clean message)."""
        self.require_object()
        return self.child(key)

    def at(self, key: str) -> Node:
        """`at(key)` or a const `[key]`: the key must be there."""
        self.require_object()
        if key not in self.value:
            self.fail_at(join(self.path, key), "required key is missing")
        return self.child(key)

    def value_or(self, key: str, default: T, read: Callable[[Node], T]) -> T:
        """`value(key, default)`: the default when absent; a present null is refused."""
        self.require_object()
        if key not in self.value:
            return default
        node = self.child(key)
        if node.value is None:
            node.fail("null is not accepted here (the runtime refuses it; leave the key out "
                      "for its default)")
        return read(node)

    def require_object(self) -> None:
        if not isinstance(self.value, dict):
            self.fail(f"expected an object, got {describe(self.value)}")

    # ---------------------------------------------------------------- conversions
    def to_int(self) -> int:
        """An ``int`` target: numbers truncate toward zero, booleans read as 0/1."""
        v = self.value
        if isinstance(v, bool):
            self.warn(f"{str(v).lower()} is read as the number {int(v)}")
            return int(v)
        if isinstance(v, int):
            if not INT_MIN <= v <= INT_MAX:
                self.fail(f"{short(v)} is beyond the runtime's integer range")
            return v
        if isinstance(v, float):
            if not math.isfinite(v) or not INT_MIN <= math.trunc(v) <= INT_MAX:
                self.fail(f"{short(v)} is beyond the runtime's integer range")
            n = math.trunc(v)
            if n != v:
                self.warn(f"{v!r} is read as {n} (the runtime truncates it to an integer)")
            return n
        self.fail(f"expected a number, got {describe(v)}")

    def to_positive_int(self) -> int:
        """An ``int`` target that must be at least 1 (a size, count or kernel)."""
        n = self.to_int()
        if n < 1:
            self.fail(f"expected a positive integer, got {short(self.value)}")
        return n

    def to_float(self) -> float:
        """A ``float`` target: numbers, and booleans read as 0/1."""
        v = self.value
        if isinstance(v, bool):
            self.warn(f"{str(v).lower()} is read as the number {float(v):g}")
            return float(v)
        if isinstance(v, (int, float)):
            return float(v)
        self.fail(f"expected a number, got {describe(v)}")

    def to_double(self) -> float:
        """A ``double`` target: numbers only (a boolean is refused)."""
        v = self.value
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        self.fail(f"expected a number, got {describe(v)}")

    def to_bool(self) -> bool:
        """A ``bool`` target: true or false only."""
        if isinstance(self.value, bool):
            return self.value
        self.fail(f"expected true or false, got {describe(self.value)}")

    def to_str(self) -> str:
        if isinstance(self.value, str):
            return self.value
        self.fail(f"expected a string, got {describe(self.value)}")

    def items(self) -> list[Node]:
        """The elements of an array (anything else is refused)."""
        if not isinstance(self.value, list):
            self.fail(f"expected a list, got {describe(self.value)}")
        return [self.child(i) for i in range(len(self.value))]

    def to_ints(self, positive: bool = True) -> list[int]:
        """``get<std::vector<int>>()``: an array of int targets."""
        return [n.to_positive_int() if positive else n.to_int() for n in self.items()]

    # ---------------------------------------------------------------- reporting
    def fail(self, message: str) -> NoReturn:
        self.reading.fail(self.path, message)

    def fail_at(self, path: str, message: str) -> NoReturn:
        self.reading.fail(path, message)

    def warn(self, message: str) -> None:
        self.reading.warn(self.path, message)
