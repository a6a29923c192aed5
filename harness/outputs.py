"""Output paths, checked before any work: a writable folder, not a folder itself, and never
one of the command's own inputs (compared by inode after resolving links)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from namcheck.harness.errors import BadInputError


def check_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]],
                 what: str) -> Path:
    """Raise BadInputError (naming `what`, e.g. '--json') unless `path` can be written
    without touching an input. '-' (stdout) is always fine."""
    target = Path(path)
    if str(path) == "-":
        return target
    if target.is_dir():
        raise BadInputError(f"{what} {target}: is a folder, expected a file path")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise BadInputError(f"{what} {target}: {existing} is a file, not a folder")
        raise BadInputError(f"{what} {target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInputError(f"{what} {target}: folder {folder} is not writable")
    if target.exists():
        for source in inputs:
            try:
                same = os.path.samefile(target, source)
            except OSError:
                continue
            if same:
                raise BadInputError(f"{what} {target}: is an input of this command "
                                    f"({source}); namcheck never writes over its inputs")
    return target
