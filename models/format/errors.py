"""What the format reports: a refused file (:class:`NamFileError`), a played file with
something to say (:class:`NamWarning`), and the JSON paths both name.

Every message is one line, ``FILE: JSON.PATH: message``; paths are written the way a
reader finds the value in the file (``config.layers[1].head.kernel_size``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn


class NamFileError(ValueError):
    """A `.nam` file that the runtime would refuse (or that is not a `.nam` at all).

    `source` names the file, `path` the JSON path of the offending value ('' for the file
    as a whole), `message` what is wrong with it.
    """

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source, self.path, self.message = source, path, message
        shown = compact_path(path)
        super().__init__(f"{source}: {shown}: {message}" if path else f"{source}: {message}")


@dataclass(frozen=True)
class NamWarning:
    """Content the runtime plays but that deserves a word (e.g. head_scale in config differs
    from weights[-1]); `path` is its JSON path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# A rule's way to refuse: fail(relative JSON path, message) raises NamFileError.
Fail = Callable[[str, str], NoReturn]


def join(prefix: str, key: str) -> str:
    """`prefix.key` (or `key` at the top level); `key` may start with '[' for an index."""
    if not prefix:
        return key
    return f"{prefix}{key}" if key.startswith("[") else f"{prefix}.{key}"


def short(value: Any) -> str:
    """`value` as JSON writes it (null, true, "text"; the words the file itself uses, not
    Python's None, True, 'text'), cut to one short line, for values quoted in messages. An
    integer too long for Python's int-to-text limit is described by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4000:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        value = [*value[:8], "..."]
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")  # bytes that were not UTF-8 in the file: escaped instead
    except UnicodeEncodeError:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def compact_path(path: str, runs: int = 3) -> str:
    """A JSON path with long runs of one repeated group of keys shortened, so an error in a
    deeply nested model stays one readable line: `(config.condition_dsp)x17.config.head`."""
    parts = path.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        for period in (1, 2, 3):
            unit = parts[i : i + period]
            count = 1
            while parts[i + count * period : i + (count + 1) * period] == unit:
                count += 1
            if len(unit) == period and count >= runs:
                out.append(f"({'.'.join(unit)})x{count}")
                i += count * period
                break
        else:
            out.append(parts[i])
            i += 1
    return ".".join(out)
