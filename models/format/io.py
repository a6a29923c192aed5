"""Reading `.nam` files (size limits first, then bytes -> text -> JSON -> NamModel) and
writing them atomically, checked by reading them back."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

from namcheck.models.atomic import OutputError, atomic_write
from namcheck.models.format.access import Reading
from namcheck.models.format.errors import NamFileError
from namcheck.models.format.jsontext import decode_document
from namcheck.models.format.limits import limits, refusal
from namcheck.models.format.model import NamModel
from namcheck.models.format.parse import parse_nam
from namcheck.models.format.rewrite import RewriteError, rewrite_text


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
        info = path.stat()
        size = info.st_size
        if stat.S_ISDIR(info.st_mode):
            raise NamFileError(name, "", "is a directory, not a .nam file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device: a read could block for ever
            raise NamFileError(name, "", "not a regular file (a FIFO, socket or device), "
                                         "not a .nam file")
        if size > limits().max_file_bytes:
            raise NamFileError(name, "", refusal("max_file_bytes", size, "file size (bytes)"))
        data = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise NamFileError(name, "", f"a broken link (to {os.readlink(path)}, which does "
                                         "not exist)") from None
        raise NamFileError(name, "", "no such file") from None
    except OSError as exc:
        raise NamFileError(name, "", f"cannot read: {exc.strerror}") from None
    return read_nam_bytes(data, name)


def read_nam_bytes(data: bytes, name: str) -> NamModel:
    """A `.nam` file's bytes, named `name` in messages (e.g. shipped to another machine)."""
    if len(data) > limits().max_file_bytes:
        raise NamFileError(name, "", refusal("max_file_bytes", len(data), "file size (bytes)"))
    doc, warnings = decode_document(data, name)
    return parse_nam(doc, source=name, reading=Reading(name, warnings))


def write_nam(model: NamModel | dict[str, Any], path: str | os.PathLike[str], *,
              original: str | os.PathLike[str] | bytes | None = None) -> Path:
    """Write a model atomically (models/atomic.py): the destination is either the old file
    or the complete new one, and a killed write leaves nothing behind.

    With `original` (the file the model was read from, or its bytes) only the values that
    differ from it are rewritten and its layout is kept: key order, indentation, number
    formatting, everything around the JSON value (:mod:`.rewrite`). Without it the document
    is written as one line of JSON.

    The bytes are read as a file is read (the same rules, warnings aside) before they are
    written, and must hold `model`'s document: namcheck never writes a file the runtime
    refuses, such as one with `"sample_rate": null` (NamFileError, nothing written). Before
    the file gets its name its bytes are read back from the written file itself and must be
    those bytes (so a concurrent writer cannot cause a false alarm).
    """
    doc = model.to_dict() if isinstance(model, NamModel) else model
    target = Path(path)
    if original is None:
        parse_nam(copy.deepcopy(doc), source=str(target))  # before serialising NaN etc.
        data = json.dumps(doc, allow_nan=False).encode("utf-8")
    else:
        old = original if isinstance(original, bytes) else Path(original).read_bytes()
        text = old.decode("utf-8", errors="surrogateescape")
        try:
            new_text = rewrite_text(text, doc)
        except (ValueError, RewriteError):  # not JSON we can edit in place: write it anew
            new_text = json.dumps(doc, allow_nan=False)
        data = new_text.encode("utf-8", errors="surrogateescape")
    again = read_nam_bytes(data, str(target))
    if again.data != doc:
        raise OutputError(f"{target}: the rewritten text does not hold the model (not written)")

    def check(handle: Any) -> None:
        if handle.read() != data:
            raise OSError("the bytes read back differ from those written")

    return atomic_write(target, lambda handle: handle.write(data), check=check)
