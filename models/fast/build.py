"""Compile the fast engine's C kernels once per machine and cache the shared library.

The kernels (every `*.c` beside this file, shipped with the package: `wavenet.c`, `lstm.c`,
`feedforward.c`, the timing aids in `driver.c`, and the headers they include) are built into
ONE shared library with the system C compiler (`$CC`, else `cc`) at `-O3 -march=native`
(`$NAMCHECK_MARCH` overrides native), into `$NAMCHECK_CACHE` (default `~/.cache/namcheck`)
under a name that hashes every source and header, the flags, the compiler's version and the
CPU, so a cached build is only reused where it was built for. Each source states its
interface version (`namcheck_<stem>_abi()`), checked against `ABIS` when the library is
loaded. A first build takes a few seconds; later runs load the cached file. The library is
written to a temporary name and renamed into place, so a killed build leaves nothing a later
run could load.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "wavenet.c"
FLAGS = ("-O3", "-fPIC", "-shared", "-std=gnu11", "-Wno-psabi")


def flags() -> tuple[str, ...]:
    """Compiler flags: FLAGS and `-march=$NAMCHECK_MARCH` (default native: this CPU's vector
    units; e.g. x86-64-v3 builds the AVX2 path on an AVX-512 machine, for testing)."""
    return (*FLAGS, f"-march={os.environ.get('NAMCHECK_MARCH', 'native')}")
ABI = 4  # namcheck_wavenet_abi() of the source this Python side matches
# namcheck_<stem>_abi() of every source, as the Python side that drives it expects
ABIS = {"wavenet": ABI, "lstm": 1, "feedforward": 1, "driver": 2}


def sources() -> list[Path]:
    """The kernel sources compiled into the library (sorted, for a stable build)."""
    return sorted(HERE.glob("*.c"))


def _source_hash() -> bytes:
    """Every source and header, by name and content."""
    digest = hashlib.sha256()
    for path in sorted([*HERE.glob("*.c"), *HERE.glob("*.h")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


class FastEngineUnavailableError(RuntimeError):
    """The fast engine cannot run here (no compiler, a failed build); the reason says why."""


def cache_dir() -> Path:
    root = os.environ.get("NAMCHECK_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "namcheck"


def _cpu_identity() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    keep = [line for line in text.splitlines()
            if line.startswith(("model name", "flags", "Features", "CPU part"))]
    return "\n".join(sorted(set(keep)))


def _compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise FastEngineUnavailableError("no C compiler found (set CC, or install gcc)")
    return cc


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """The compiled kernel, built on first use; FastEngineUnavailableError says why not."""
    if os.environ.get("NAMCHECK_NO_FAST"):
        raise FastEngineUnavailableError("disabled by NAMCHECK_NO_FAST")
    cc = _compiler()
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise FastEngineUnavailableError(f"C compiler {cc} does not run: {exc}") from exc
    key = hashlib.sha256(b"\0".join([_source_hash(), " ".join(flags()).encode(),
                                     version.encode(), _cpu_identity().encode(),
                                     platform.machine().encode()]))
    target = cache_dir() / f"kernels-{key.hexdigest()[:20]}.so"
    if not target.exists():
        _build(cc, target)
    lib = ctypes.CDLL(str(target))
    for stem, abi in ABIS.items():
        found = getattr(lib, f"namcheck_{stem}_abi", None)
        if found is None or found() != abi:
            raise FastEngineUnavailableError(f"{target}: built from another {stem}.c version")
    return lib


def _build(cc: str, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=target.parent)
    except OSError as exc:
        raise FastEngineUnavailableError(
            f"cache folder {target.parent}: {exc.strerror} (set NAMCHECK_CACHE)") from exc
    os.close(fd)
    try:
        done = subprocess.run([cc, *flags(), "-o", tmp, *map(str, sources())],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["(no message)"])[0]
            raise FastEngineUnavailableError(f"building the kernel with {cc} failed: {first}")
        os.replace(tmp, target)
    except (OSError, subprocess.SubprocessError) as exc:
        raise FastEngineUnavailableError(f"building the kernel with {cc} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
