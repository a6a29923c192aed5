"""pytest plugin (entry point `namcheck`): verify `.nam` files from another project's suite.

    def test_amp(namcheck_verify):
        namcheck_verify("amp.nam", scales=[0.5])

    pytest --namcheck-models 'models/*.nam' [--namcheck-scale 0.5 ...] [--namcheck-signal W]
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from namcheck.harness.report import format_table
from namcheck.harness.verify import ModelReport, Options, Signal, verify_model
from namcheck.models import read_nam

DEFAULT_SCALES = (0.5, 2.0)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("namcheck", "verify NAM models by running them")
    group.addoption("--namcheck-models", action="append", default=[], metavar="GLOB",
                    help="verify every .nam file matching GLOB, one test each (repeatable)")
    group.addoption("--namcheck-scale", action="append", type=float, default=[], metavar="S",
                    help="scales for --namcheck-models (default 0.5 and 2)")
    group.addoption("--namcheck-signal", default=None, metavar="WAV",
                    help="NAM's standard loudness input; default the built-in signal")
    group.addoption("--namcheck-dtype", default="float32", choices=["float32", "float64"])


class VerificationFailedError(AssertionError):
    def __init__(self, report: ModelReport) -> None:
        super().__init__(format_table(report))
        self.report = report


def _run(path: str | Path, scales: Sequence[float], signal: str | None, dtype: str,
         hook: str = "reference", device: str = "cpu") -> ModelReport:
    sig = Signal.from_wav(signal) if signal else Signal.default()
    opts = Options(dtype=getattr(torch, dtype), device=device)
    report = verify_model(read_nam(path), list(scales), hook, sig, opts)
    if not report.passed:
        raise VerificationFailedError(report)
    return report


@pytest.fixture
def namcheck_verify(request: pytest.FixtureRequest) -> Callable[..., ModelReport]:
    """Call with a model path; fails the test with the check table unless all checks pass."""
    config = request.config

    def verify(path: str | Path, scales: Sequence[float] = DEFAULT_SCALES, *,
               signal: str | None = None, dtype: str | None = None, hook: str = "reference",
               device: str = "cpu") -> ModelReport:
        return _run(path, scales, signal or config.getoption("namcheck_signal"),
                    dtype or config.getoption("namcheck_dtype"), hook, device)

    return verify


class NamcheckItem(pytest.Item):
    def __init__(self, *, model_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path

    def runtest(self) -> None:
        opt = self.config.getoption
        _run(self.model_path, opt("namcheck_scale") or DEFAULT_SCALES, opt("namcheck_signal"),
             opt("namcheck_dtype"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str:
        if isinstance(excinfo.value, VerificationFailedError):
            return str(excinfo.value)
        return str(excinfo.getrepr(style="short"))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return Path(self.model_path), None, f"namcheck verify {self.model_path}"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    for pattern in config.getoption("namcheck_models"):
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            raise pytest.UsageError(f"--namcheck-models {pattern!r} matches no file")
        for path in paths:
            items.append(NamcheckItem.from_parent(session, name=f"namcheck[{path}]",
                                                  model_path=path))
