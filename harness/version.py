"""namcheck's installed version (imports nothing heavy: `namcheck --version` reads it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """namcheck's installed version string ('0+unknown' when run from a source tree)."""
    try:
        return version("namcheck")
    except PackageNotFoundError:
        return "0+unknown"
