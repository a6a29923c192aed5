"""pytest plugin (entry point `namcheck`): `.nam` files as test items, and a fixture.

Collection: `pytest --namcheck models/` collects every `.nam` below the given paths; the
ini option `namcheck_models` (glob lines, relative to the rootdir) or `--namcheck-models
GLOB` adds files wherever they are. Each file gives one item per scale, with node IDs like
`models/amp.nam::verify[s=0.5]`, selectable by node ID and `-k`. A failure shows the check
table. A model with nothing to check (an LSTM has no head_scale) is skipped with the
reason, never passed. Models where the closed form is known not to hold are marked with
ini lines `namcheck_xfail = GLOB: reason` (strict xfail).

Fixture: `def test_amp(namcheck_verify): namcheck_verify("amp.nam", scales=[0.5])`.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from namcheck.harness.report import format_table
from namcheck.harness.verify import (
    ModelReport,
    Options,
    Signal,
    verify_model,
)
from namcheck.models import read_nam

DEFAULT_SCALES = (0.5, 2.0)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line and ini options."""
    group = parser.getgroup("namcheck", "verify NAM models by running them")
    group.addoption("--namcheck", action="store_true",
                    help="collect every .nam file below the given paths as tests")
    group.addoption("--namcheck-models", action="append", default=[], metavar="GLOB",
                    help="also collect the .nam files matching GLOB (repeatable)")
    group.addoption("--namcheck-scale", action="append", type=float, default=[], metavar="S",
                    help="scales to verify (repeatable; default 0.5 and 2)")
    group.addoption("--namcheck-signal", default=None, metavar="WAV",
                    help="signal (default: NAM's standard input from an installed "
                    "neural-amp-modeler, else the built-in one)")
    group.addoption("--namcheck-builtin-signal", action="store_true",
                    help="use the built-in generated signal even where NAM's standard "
                    "input is installed (stored loudness is then not compared)")
    group.addoption("--namcheck-dtype", default="float32", choices=["float32", "float64"])
    group.addoption("--namcheck-engine", default="auto", choices=["auto", "fast", "reference"],
                    help="forward engine (default auto: the fast C engine where it covers "
                    "the model, else the reference)")
    group.addoption("--namcheck-no-gain", action="store_true",
                    help="skip the gain heuristic (faster)")
    group.addoption("--namcheck-fail-above-db", type=float, default=None, metavar="X",
                    help="level checks fail only above X dB")
    parser.addini("namcheck_models", "globs of .nam files to verify (relative to the rootdir)",
                  type="linelist", default=[])
    parser.addini("namcheck_xfail", "'GLOB: reason' lines: models expected to fail",
                  type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    """Expand `namcheck_models` / --namcheck-models globs into files to collect."""
    globs = list(config.getoption("namcheck_models")) + [
        str(config.rootpath / g) for g in config.getini("namcheck_models")]
    files = []
    for pattern in globs:
        found = sorted(glob.glob(pattern, recursive=True))
        if not found:
            raise pytest.UsageError(f"namcheck: {pattern!r} matches no .nam file")
        files.extend(found)
    config.stash[_FILES] = {str(Path(f).resolve()) for f in files}
    if files:  # collected beside the given paths (or the testpaths)
        config.args[:] = [*config.args, *files]


_FILES = pytest.StashKey[set]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A `.nam` file becomes a NamFile (with --namcheck, or when listed)."""
    config = parent.config
    if file_path.suffix != ".nam":
        return None
    if config.getoption("namcheck") or str(file_path.resolve()) in config.stash[_FILES]:
        return NamFile.from_parent(parent, path=file_path)
    return None


class VerificationFailedError(AssertionError):
    """A verification that failed; its message is the check table."""

    def __init__(self, report: ModelReport) -> None:
        super().__init__(format_table(report))
        self.report = report


def _options(config: pytest.Config, dtype: str | None = None) -> Options:
    return Options(dtype=getattr(torch, dtype or config.getoption("namcheck_dtype")),
                   with_gain=not config.getoption("namcheck_no_gain"),
                   fail_above_db=config.getoption("namcheck_fail_above_db"),
                   engine=config.getoption("namcheck_engine"))


def _signal(path: str | None, builtin: bool = False) -> Signal:
    return Signal.choose(path, builtin=builtin)


class NamFile(pytest.File):
    """One `.nam` file: an item per scale."""

    def collect(self) -> Iterator[pytest.Item]:
        scales = self.config.getoption("namcheck_scale") or DEFAULT_SCALES
        reason = _xfail_reason(self.config, self.path)
        for scale in scales:
            item = NamItem.from_parent(self, name=f"verify[s={scale:g}]", scale=scale)
            if reason is not None:
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
            yield item


def _xfail_reason(config: pytest.Config, path: Path) -> str | None:
    rel = str(path.relative_to(config.rootpath)) if path.is_relative_to(config.rootpath) \
        else str(path)
    for line in config.getini("namcheck_xfail"):
        pattern, _, reason = line.partition(":")
        if fnmatch.fnmatch(rel, pattern.strip()) or fnmatch.fnmatch(str(path), pattern.strip()):
            return reason.strip() or "expected to fail (namcheck_xfail)"
    return None


class NamItem(pytest.Item):
    """One model verified at one scale."""

    def __init__(self, *, scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def runtest(self) -> None:
        config = self.config
        signal = _signal(config.getoption("namcheck_signal"),
                         config.getoption("namcheck_builtin_signal"))
        report = verify_model(read_nam(self.path), [self.scale], "reference", signal,
                              _options(config))
        if report.status in ("failed", "error"):
            raise VerificationFailedError(report)
        if report.status == "not_verified":
            # reported at the model file, not at this plugin's line
            raise pytest.skip.Exception("namcheck: not verified: "
                                        + "; ".join(report.unverified),
                                        _use_item_location=True)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str:
        if isinstance(excinfo.value, VerificationFailedError):
            return str(excinfo.value)
        return f"{type(excinfo.value).__name__}: {excinfo.value}"  # e.g. a bad file: one line

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"namcheck {self.nodeid}"


@pytest.fixture
def namcheck_verify(request: pytest.FixtureRequest) -> Callable[..., ModelReport]:
    """Call with a model path; fails the test with the check table unless all checks pass."""
    config = request.config

    def verify(path: str | Path, scales: Sequence[float] = DEFAULT_SCALES, *,
               signal: str | None = None, dtype: str | None = None, hook: str = "reference",
               device: str = "cpu") -> ModelReport:
        opts = _options(config, dtype)
        opts.device = device
        report = verify_model(read_nam(path), list(scales), hook,
                              _signal(signal or config.getoption("namcheck_signal"),
                                      config.getoption("namcheck_builtin_signal")), opts)
        if report.status != "passed":
            raise VerificationFailedError(report)
        return report

    return verify
