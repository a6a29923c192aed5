"""pytest plugin (entry point `namcheck`): `.nam` files as test items, and a fixture.

Collection: `pytest --namcheck models/` collects every `.nam` below the given paths; the
ini option `namcheck_models` (glob lines, relative to the rootdir) or `--namcheck-models
GLOB` adds files wherever they are. Each file gives one item per scale, with node IDs like
`models/amp.nam::verify[s=0.5]`, selectable by node ID and `-k`. A failure shows the check
table. A model with nothing to check (an LSTM has no head_scale) is skipped with the
reason, never passed. Models where the closed form is known not to hold are marked with
ini lines `namcheck_xfail = GLOB: reason` (strict xfail).

Fixture: `def test_amp(namcheck_verify): namcheck_verify("amp.nam", scales=[0.5])` behaves
as an item: a failure fails the test with the check table, a model with nothing to verify
skips it with the reason (never a pass), a bad input (a missing file, a folder, a bad
signal) fails it with one line naming the file and the problem. pytest's short summary
(`-r`) starts with the reason (`namcheck: failed: ...`) in both ways.

The options come from the table the CLI uses (harness/options.py). Installed, this module
is loaded by every pytest run: it imports neither torch nor the harness until a namcheck
item runs or the fixture is used.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from namcheck.harness import options as O

if TYPE_CHECKING:
    from namcheck.harness.core import ModelReport, Options, Signal


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line and ini options."""
    group = parser.getgroup("namcheck", "verify NAM models by running them")
    group.addoption("--namcheck", action="store_true",
                    help="collect every .nam file below the given paths as tests")
    group.addoption("--namcheck-models", action="append", default=[], metavar="GLOB",
                    help="also collect the .nam files matching GLOB (repeatable)")
    for option in O.PLUGIN_OPTIONS:
        option.add_to(group, prefix="namcheck-")
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
    _check_options(config)


def _check_options(config: pytest.Config) -> None:
    """The values the CLI refuses are a usage error here too (exit 4, one line), before
    anything is collected: never a skipped (green) or failed item per model. Only the
    given options are checked, with the CLI's own checks (harness/options.py)."""
    from namcheck.harness.errors import BAD_INPUT_ERRORS

    try:
        for s in config.getoption("namcheck_scale") or []:
            O.scale("--namcheck-scale", s)
        gate = config.getoption("namcheck_fail_above_db")
        if gate is not None:
            O.finite("--namcheck-fail-above-db", gate, 0.0)
        signal = config.getoption("namcheck_signal")
        if signal is not None and config.getoption("namcheck_builtin_signal"):
            raise O.bad("--namcheck-signal and --namcheck-builtin-signal: give one of them")
        if signal is not None and not Path(signal).is_file():
            raise O.bad(f"--namcheck-signal {signal}: no such file")
        if signal is not None:  # read as every item will (a silent one is refused)
            O.run_signal(O.Values.of_pytest(config))
    except BAD_INPUT_ERRORS as exc:
        raise pytest.UsageError(f"namcheck: {exc}") from None


_FILES = pytest.StashKey[set]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A `.nam` file becomes a NamFile (with --namcheck, or when listed)."""
    config = parent.config
    if file_path.suffix != ".nam":
        return None
    if config.getoption("namcheck") or str(file_path.resolve()) in config.stash[_FILES]:
        return NamFile.from_parent(parent, path=file_path)
    return None


class NamcheckFailureError(AssertionError):
    """A failure reported as its message alone (no traceback into namcheck), whose first
    line is pytest's short summary: in an item and in a test using the fixture."""


class VerificationFailedError(NamcheckFailureError):
    """A verification that failed; its message is the check table."""

    def __init__(self, report: ModelReport) -> None:
        from namcheck.harness.report import display_name, format_table

        # The first line is pytest's short summary: the failing checks and the first reason.
        failed = [c for c in report.checks if c.passed is False]
        if report.error:
            first = f"namcheck: error: {report.error}"
        elif failed:
            names = ", ".join(display_name(c) for c in failed)
            first = f"namcheck: {report.status}: {names}: {failed[0].detail}"
        else:
            first = f"namcheck: {report.status}: " + "; ".join(report.unverified)
        super().__init__(f"{first}\n{format_table(report)}")
        self.report = report


def _run(config: pytest.Config, **given: Any) -> tuple[Signal, Options]:
    """The Signal and Options of the option values (`given` overrides them)."""
    values = O.Values.of_pytest(config)
    values.given.update({k: v for k, v in given.items() if v is not None})
    return O.run_signal(values), O.run_options(values)


class NamFile(pytest.File):
    """One `.nam` file: an item per scale."""

    def collect(self) -> Iterator[pytest.Item]:
        scales = self.config.getoption("namcheck_scale") or O.DEFAULT_SCALES
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
        from namcheck.harness.verify import run

        signal, opts = _run(self.config)
        report = run(self.path, [self.scale], signal=signal, options=opts)
        if report.status in ("failed", "error"):
            raise VerificationFailedError(report)
        if report.status == "not_verified":
            raise _not_verified(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str:
        from namcheck.harness.errors import BAD_INPUT_ERRORS

        if isinstance(excinfo.value, NamcheckFailureError):
            return str(excinfo.value)
        if isinstance(excinfo.value, BAD_INPUT_ERRORS):  # a bad file: one line, as the fixture
            return _bad_input(excinfo.value)
        return f"{type(excinfo.value).__name__}: {excinfo.value}"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"namcheck {self.nodeid}"


def _bad_input(exc: Exception) -> str:
    """The one line of a bad input (its message names the file and the problem)."""
    return f"namcheck: error: {exc}"


def _not_verified(report: ModelReport) -> BaseException:
    """The skip of a model with nothing to verify, with the reason; reported at the item
    (the model file, or the test using the fixture), not at this plugin's line."""
    return pytest.skip.Exception("namcheck: not verified: " + "; ".join(report.unverified),
                                 _use_item_location=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """A NamcheckFailureError raised in a test (by the fixture) is reported as its message, as
    in an item: no traceback into namcheck, and the short summary starts with the reason
    (not with the exception's class path)."""
    outcome = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, NamcheckFailureError):
        report = outcome.get_result()
        if report.failed:
            report.longrepr = str(call.excinfo.value)


@pytest.fixture
def namcheck_verify(request: pytest.FixtureRequest) -> Callable[..., ModelReport]:
    """Call with a model path; returns the report when every check passed. A failure fails
    the test with the check table; a model with nothing to verify (an LSTM has no
    head_scale) skips it with the reason, never passes; a bad input (a missing file, a
    folder, a bad signal or option) fails it with one line naming the file and the problem.
    Collected items (`--namcheck`) do the same."""
    config = request.config

    def verify(path: str | Path, scales: Sequence[float] = O.DEFAULT_SCALES, *,
               signal: str | None = None, dtype: str | None = None, hook: str = "reference",
               device: str = "cpu") -> ModelReport:
        from namcheck.harness.errors import BAD_INPUT_ERRORS
        from namcheck.harness.verify import run

        try:
            sig, opts = _run(config, signal=signal, dtype=dtype, device=device)
            report = run(path, scales, hook=hook, signal=sig, options=opts)
        except BAD_INPUT_ERRORS as exc:
            raise NamcheckFailureError(_bad_input(exc)) from None
        if report.status == "not_verified":
            raise _not_verified(report)
        if report.status != "passed":
            raise VerificationFailedError(report)
        return report

    return verify
