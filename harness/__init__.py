"""namcheck.harness: the commands, one module each (`verify`, `audit`, `compare`, `stamp`,
`scale`, `render`, `plot`, `bench`, `inspect_report`), what they share (`core`: Signal,
Options, ModelReport, measure), checks and hooks, reports, the CLI and the pytest plugin.

Each measuring command's module has `run(...)`, its Python API:

    from namcheck.harness import verify, Options
    report = verify.run("amp.nam", scales=[0.5])
    report.status, [c.name for c in report.checks if c.passed is False]

Nothing is imported until used (`namcheck --version` and the pytest plugin start no torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from namcheck.harness.checks import CheckResult
    from namcheck.harness.core import ModelReport, Options, Signal, default_signal
    from namcheck.harness.hooks import scale_output, upstream_scale_output

# Public names and the module each lives in.
_NAMES = {"CheckResult": "checks", "ModelReport": "core", "Options": "core", "Signal": "core",
          "default_signal": "core", "scale_output": "hooks",
          "upstream_scale_output": "hooks"}
COMMANDS = ("audit", "compare", "stamp", "verify")

__all__ = ["CheckResult", "ModelReport", "Options", "Signal", "audit", "compare",
           "default_signal", "scale_output", "stamp", "upstream_scale_output", "verify"]


def __getattr__(name: str) -> Any:
    """The public names and command modules, imported on first use."""
    if name in COMMANDS:
        return importlib.import_module(f"namcheck.harness.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"namcheck.harness.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'namcheck.harness' has no attribute {name!r}")
