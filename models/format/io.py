"""Reading `.nam` files (size limits first, then bytes -> text -> JSON -> NamModel) and
writing them atomically, checked by reading them back."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from namcheck.models.atomic import atomic_write
from namcheck.models.format.errors import NamFileError
from namcheck.models.format.jsontext import decode_json
from namcheck.models.format.limits import limits, refusal
from namcheck.models.format.model import NamModel
from namcheck.models.format.parse import parse_nam


def read_nam(source: str | os.PathLike[str] | dict[str, Any] | NamModel) -> NamModel:
    """Read and validate a `.nam` file (or an already-decoded dict).

    The file size is checked against the limits before it is read (models/format/limits.py)."""
    if isinstance(source, NamModel):
        return source
    if isinstance(source, dict):
        try:
            return parse_nam(copy.deepcopy(source))
        except RecursionError:
            raise NamFileError("<dict>", "", "nested too deeply to be a model") from None
    path = Path(source)
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise NamFileError(name, "", "is a directory, not a .nam file")
        if size > limits().max_file_bytes:
            raise NamFileError(name, "", refusal("max_file_bytes", size, "file size (bytes)"))
        data = path.read_bytes()
    except FileNotFoundError:
        raise NamFileError(name, "", "no such file") from None
    except OSError as exc:
        raise NamFileError(name, "", f"cannot read: {exc.strerror}") from None
    return read_nam_bytes(data, name)


def read_nam_bytes(data: bytes, name: str) -> NamModel:
    """A `.nam` file's bytes, named `name` in messages (e.g. shipped to another machine)."""
    if len(data) > limits().max_file_bytes:
        raise NamFileError(name, "", refusal("max_file_bytes", len(data), "file size (bytes)"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NamFileError(name, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise NamFileError(name, "", "empty file (expected a JSON object)")
    return parse_nam(decode_json(text, name), source=name)


def write_nam(model: NamModel | dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Validate and write atomically (models/atomic.py): the destination is either the old
    file or the complete new one, and a killed write leaves nothing behind.

    Before the file gets its name, its bytes are read back from the written file itself and
    must decode to the same document (so a concurrent writer cannot cause a false alarm).
    """
    doc = model.to_dict() if isinstance(model, NamModel) else model
    target = Path(path)
    parse_nam(doc, source=str(target))  # never write a file the reader would refuse
    data = json.dumps(doc, allow_nan=False).encode("utf-8")

    def check(handle: Any) -> None:
        if json.loads(handle.read()) != doc:
            raise OSError("the bytes read back differ from those written")

    return atomic_write(target, lambda handle: handle.write(data), check=check)
