"""`namcheck conform`: the suite, run through a runtime's command template, judged, and
reported as a matrix (terminal, Markdown, JSON) with a plot of the worst cases."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import torch

from namcheck.harness.conform.matrix import FAILING, format_markdown, format_text
from namcheck.harness.conform.run import CaseResult, run_suite
from namcheck.harness.conform.runner import Template, TemplateError
from namcheck.harness.conform.schema import RuntimeInfo, Selection, document
from namcheck.harness.conform.suite import Case, build_cases, select
from namcheck.harness.errors import EXIT_FAILED, EXIT_OK, BadInputError
from namcheck.harness.interrupts import Interrupted, sigint_deferred
from namcheck.harness.report import write_json
from namcheck.harness.schema import run_context
from namcheck.models.atomic import atomic_write

DEFAULT_TIMEOUT = 60.0


@dataclass
class ConformOptions:
    """What `namcheck conform` was asked to do (see its --help)."""

    runtime: str
    slim_arg: str | None = None
    block_arg: str | None = None
    folder: Path | None = None
    json: str | None = None
    markdown: Path | None = None
    plots: Path | None = None
    only: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def list_suite(only: list[str], names: list[str]) -> str:
    """Every feature (with what it isolates) and its cases, as text."""
    cases, features = build_cases()
    chosen = _select(cases, only, names)
    lines = []
    for feature, description in features.items():
        mine = [c for c in chosen if c.feature == feature]
        if not mine:
            continue
        lines.append(f"{feature}: {description}")
        for c in mine:
            extra = "".join(f" {k}={v}" for k, v in (("slim", c.slim), ("block", c.block))
                            if v is not None)
            lines.append(f"    {c.name}{extra}")
    lines.append(f"{len(chosen)} cases in {len({c.feature for c in chosen})} features")
    return "\n".join(lines)


def _select(cases: list[Case], only: list[str], names: list[str]) -> list[Case]:
    try:
        return select(cases, only, names)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None


def validate(opts: ConformOptions) -> tuple[Template, list[Case], dict[str, str]]:
    """The template, the chosen cases and every feature; BadInputError (one line naming
    the option) before anything is written."""
    try:
        template = Template.parse(opts.runtime, opts.slim_arg, opts.block_arg)
    except TemplateError as exc:
        raise BadInputError(str(exc)) from None
    cases, features = build_cases()
    return template, _select(cases, opts.only, opts.cases), features


def run_conform(opts: ConformOptions, say: Callable[[str], None] = print) -> int:
    """Run the suite (or the selected part) against the runtime; 0 when every case passed
    or was skipped, 1 when one differs, was refused or crashed. Bad input raises
    BadInputError (one line, exit 2)."""
    template, chosen, features = validate(opts)
    say(f"conform: {len(chosen)} cases in {len({c.feature for c in chosen})} features; "
        f"runtime: {opts.runtime}; {opts.jobs} jobs, {opts.timeout:g} s per case")
    context = run_context("cpu", torch.float64, "reference")
    with tempfile.TemporaryDirectory(prefix="namcheck-conform-") as scratch:
        root = (opts.folder or Path(scratch)) / "cases"
        finished: list[None] = []
        with _kept_suite(opts.folder, root) as undo:
            try:
                results = run_suite(chosen, template, root, jobs=opts.jobs,
                                    timeout=opts.timeout, progress=_progress(len(chosen)),
                                    ran=lambda: finished.append(None))
            except KeyboardInterrupt:
                left = undo()
                raise Interrupted(f"{len(finished)} of {len(chosen)} cases run, nothing "
                                  f"reported{left}") from None
        say(format_text(results, features))
        if opts.json:
            doc = document(results, features, context,
                           RuntimeInfo(command=opts.runtime, slim_arg=opts.slim_arg,
                                       block_arg=opts.block_arg, timeout_s=opts.timeout,
                                       jobs=opts.jobs),
                           Selection(only=opts.only, case=opts.cases),
                           str(opts.folder) if opts.folder else None)
            write_json(doc, opts.json)
            if opts.json != "-":
                say(f"wrote {opts.json}")
        if opts.markdown:
            text = format_markdown(results, features, command_line(opts)).encode("utf-8")
            atomic_write(opts.markdown, lambda h: h.write(text))
            say(f"wrote {opts.markdown}")
        if opts.plots:
            from namcheck.harness.conform.plot import plot_worst

            written = plot_worst(results, opts.plots / "conform_worst.png")
            say(f"wrote {written}" if written else "plot: no case differs, nothing to draw")
        if opts.folder:
            say(f"suite: {root} (each case: model.nam, input.wav, expected.wav, output.wav, "
                "case.json with the command)")
    return EXIT_FAILED if any(r.verdict.status in FAILING for r in results) else EXIT_OK


@contextmanager
def _kept_suite(folder: Path | None, root: Path) -> Iterator[Callable[[], str]]:
    """-o FOLDER's suite (`root`, FOLDER/cases) written in place (case.json holds absolute
    paths), with an undo: an earlier suite there waits aside until this run ends; the
    undo (a Ctrl-C, or any error leaving the block) removes this run's partial suite,
    puts the earlier one back, and removes FOLDER where this run made it. undo() says
    what it left ('; FOLDER is left as it was', '; FOLDER was not made', or '')."""
    if folder is None:
        yield lambda: ""
        return
    made = not folder.exists()
    folder.mkdir(exist_ok=True)
    aside = folder / f".cases-before-{os.getpid()}"
    if root.exists():
        os.rename(root, aside)
    done = False

    left = f"; {folder} was not made" if made else f"; {folder} is left as it was"

    def undo() -> str:
        nonlocal done
        if done:
            return left
        done = True
        with sigint_deferred():
            shutil.rmtree(root, ignore_errors=True)
            if aside.exists():
                os.rename(aside, root)
            elif made:
                with suppress(OSError):
                    folder.rmdir()
        return left

    try:
        yield undo
    except BaseException:
        undo()
        raise
    if not done:
        with sigint_deferred():  # a Ctrl-C now finds the new suite whole, the old gone
            shutil.rmtree(aside, ignore_errors=True)


def command_line(opts: ConformOptions) -> str:
    """The command that reproduces this run (for the Markdown report)."""
    import shlex

    words = ["namcheck", "conform", "--runtime", opts.runtime]
    if opts.slim_arg:
        words += ["--slim-arg", opts.slim_arg]
    if opts.block_arg:
        words += ["--block-arg", opts.block_arg]
    for f in opts.only:
        words += ["--only", f]
    for c in opts.cases:
        words += ["--case", c]
    return shlex.join(words)


def _progress(total: int) -> Callable[[CaseResult], None] | None:
    """A progress bar on a terminal (stderr), each failing case as it is found."""
    if not (sys.stderr.isatty() or os.environ.get("NAMCHECK_PROGRESS") == "bar"):
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="case", file=sys.stderr, dynamic_ncols=True)

    def progress(result: CaseResult) -> None:
        if result.verdict.status in FAILING:
            bar.write(f"{result.verdict.status}: {result.case.name}", file=sys.stderr)
        bar.update(1)
        if bar.n >= total:
            bar.close()

    return progress
