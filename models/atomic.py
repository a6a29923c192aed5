"""Atomic file output: the destination holds either its old content or the complete new
content, and a write killed at any point leaves nothing behind.

On Linux the content is written into an *unnamed* file (``O_TMPFILE``) in the destination's
folder, checked, fsynced, and only then given a name: ``linkat(AT_EMPTY_PATH)`` straight to
the destination when it does not exist yet, else to a hidden temporary name that is renamed
over the destination at once (a window of two system calls, not of the whole write).
Where unnamed files are not available (another OS, a filesystem without ``O_TMPFILE``,
no right to link them) a named temporary file is used and removed on every error; only a
kill in the middle of that fallback can leave a ``.NAME.*.tmp`` behind.

Every failure (disk full, read-only folder, ...) raises :class:`OutputError`, one line
naming the file; the destination is untouched.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000


class OutputError(OSError):
    """An output file could not be written (one line: the path and the reason)."""


def _libc_linkat() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.linkat
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_LINKAT = _libc_linkat() if hasattr(os, "O_TMPFILE") else None


def _name_unnamed(fd: int, dest: Path) -> None:
    """Give the unnamed file `fd` the name `dest` (raises OSError, errno set)."""
    if _LINKAT is not None:
        if _LINKAT(fd, b"", _AT_FDCWD, os.fsencode(dest), _AT_EMPTY_PATH) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOENT, errno.EPERM, errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), str(dest))
    os.link(f"/proc/self/fd/{fd}", dest)


def _hidden_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None], *,
                 check: Callable[[BinaryIO], None] | None = None) -> Path:
    """Write a file atomically through `write(handle)`; `check(handle)` (optional) reads the
    written bytes back from the same handle (position 0) before the file gets its name, so a
    concurrent writer of the same path can never make it fail. Returns the path.

    A symbolic link is written through: the file it names gets the new content, the link
    stays. Raises OutputError where it cannot write, or where the file is an existing one
    that is read-only (no write permission bit, or none for this user): that file is left
    as it is."""
    target = Path(path)
    if target.is_symlink():  # write the file it names, as `>` does; a rename would replace
        target = Path(os.path.realpath(target))  # the link with a file of its own
    folder = target.parent if str(target.parent) else Path(".")
    mode = 0o644
    try:
        if target.exists():
            mode = target.stat().st_mode & 0o777
    except OSError:
        pass
    else:
        # a rename in a writable folder would replace it all the same (and root may write
        # anything): a file's own mode is its owner's word that it is not to change
        if target.exists() and (not mode & 0o222 or not os.access(target, os.W_OK)):
            raise OutputError(f"{target}: read-only; left as it is (make it writable to "
                              "let namcheck replace it)")
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, mode) if _LINKAT is not None else -1
    except OSError:
        fd = -1
    try:
        if fd >= 0:
            _write_unnamed(fd, target, mode, write, check)
        else:
            _write_named(folder, target, mode, write, check)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return target


def _fill(handle: BinaryIO, mode: int, write: Callable[[BinaryIO], None],
          check: Callable[[BinaryIO], None] | None) -> None:
    write(handle)
    handle.flush()
    if check is not None:
        handle.seek(0)
        check(handle)
    os.fchmod(handle.fileno(), mode)
    os.fsync(handle.fileno())


def _write_unnamed(fd: int, target: Path, mode: int, write: Callable[[BinaryIO], None],
                   check: Callable[[BinaryIO], None] | None) -> None:
    with os.fdopen(fd, "w+b") as handle:
        _fill(handle, mode, write, check)
        try:
            _name_unnamed(handle.fileno(), target)  # fresh destination: named in one step
            return
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOENT, errno.EINVAL):
                raise
            # This system cannot name unnamed files: copy into a named temporary file.
            handle.seek(0)
            _write_named(target.parent, target, mode,
                         lambda out: shutil.copyfileobj(handle, out), None)
            return
        tmp = _hidden_name(target)
        _name_unnamed(handle.fileno(), tmp)
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _write_named(folder: Path, target: Path, mode: int, write: Callable[[BinaryIO], None],
                 check: Callable[[BinaryIO], None] | None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w+b") as handle:
            _fill(handle, mode, write, check)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
