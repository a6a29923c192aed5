"""namcheck's version: the one place it is written (pyproject.toml reads it from here).

A constant rather than `importlib.metadata.version("namcheck")`: importing
importlib.metadata costs about 0.1 s, which `namcheck --version` would pay.
"""

from __future__ import annotations

__version__ = "0.1.0"


def package_version() -> str:
    """namcheck's version string, e.g. '0.1.0' (PEP 440)."""
    return __version__
