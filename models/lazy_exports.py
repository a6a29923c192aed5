"""A package's exports imported on first use (PEP 562).

Importing one light submodule (the CLI's error types, `models.atomic`, `signals.wav`) runs
its package's `__init__` first; with eager re-exports that imported torch and SciPy, and
every argument error took seconds. Each package lists its exports once, as
`{name: defining module}`; `from namcheck.models import load` imports the engines then.
An export must not share its name with a submodule of the package: importing the
submodule would replace the export by the module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for the package named `package` whose attribute `name`
    is `exports[name]`'s attribute of that name, imported at first access and kept.
    Other names raise AttributeError, as for any module."""

    def attribute(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return attribute, names
