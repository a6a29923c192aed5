"""The one loop of the measuring commands (verify, audit, compare, stamp): each model's
report as it finishes -> its table -> the JSON report -> the plots -> the exit code.

A command gives `run` its outcomes (each a model's report and the parsed model it ran
on) as an iterator, so the work happens inside the loop and each table is printed as its
model finishes; plots are drawn from the models in memory (the built-in model included).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from namcheck.harness.core import ModelReport, Options, Signal, guarded
from namcheck.harness.interrupts import Interrupted
from namcheck.harness.plot import write_plots
from namcheck.harness.report import (
    exit_code,
    format_table,
    json_document,
    runtime_limits,
    summary_counts,
    write_json,
)
from namcheck.harness.schema import run_context
from namcheck.models.examples import builtin_model
from namcheck.models.format import NamModel, read_nam

# The figure `--plots DIR` draws for each command (harness/plot.py).
PLOT_KIND = {"verify": "shift", "audit": "slims", "compare": "compare"}
BUILTIN = "<built-in>"


@dataclass
class Outcome:
    """One model's report, the parsed model it ran on (None where it was not read here),
    and the command's own item for it (stamp: its Plan)."""

    report: ModelReport
    model: NamModel | None = None
    item: Any = None


def each_model(sources: Sequence[Path | None], check: Callable[[NamModel], ModelReport]
               ) -> Iterator[Outcome]:
    """Read each source (None: the built-in model) and `check` it; a bad file or a fault
    becomes that model's error entry (core.guarded), never the end of the run."""
    for source in sources:
        read: list[NamModel] = []

        def work(source: Path | None = source, read: list[NamModel] = read) -> ModelReport:
            read.append(read_nam(source) if source is not None else builtin_model())
            return check(read[0])

        report = guarded(str(source) if source is not None else BUILTIN, work)
        yield Outcome(report, read[0] if read else None)


def say_error(report: ModelReport) -> None:
    """A model that could not be checked is one line on stderr too (and an entry in the
    report), so a CI log shows it whatever else is printed."""
    if report.error:
        debug = " (NAMCHECK_DEBUG=1 shows the traceback)" if report.internal else ""
        print(f"namcheck: {report.error}{debug}", file=sys.stderr, flush=True)


def show_report(outcome: Outcome, show: Callable[[str], None]) -> None:
    """The default display of a finished model: its error line, then its table."""
    say_error(outcome.report)
    show(format_table(outcome.report))


def _interrupted(command: str, finished: int) -> str:
    """What an interrupted command kept (each stamped file is written as it finishes)."""
    if command == "stamp":
        return (f"{finished} files finished (each written as it finished, the rest "
                "untouched); rerun the same command to stamp the rest")
    return f"{finished} models finished; no report written"


def run(command: str, outcomes: Iterable[Outcome], signal: Signal, opts: Options, *,
        show: Callable[[str], None], display: Callable[[Outcome], None] | None = None,
        json: str | None = None, json_options: dict[str, Any] | None = None,
        plots: Path | None = None, render: Path | None = None, summary: bool = False,
        corpus: Callable[[list[ModelReport]], dict[str, Any]] | None = None,
        corpus_lines: Callable[[dict[str, Any]], list[str]] | None = None) -> int:
    """Run `command`'s outcomes, showing each as it finishes (`display`, default: error line
    and table), then what `corpus` finds across the reports (shown by `corpus_lines`), the
    summary line (with `summary`), the JSON report at `json` ('-':
    stdout) with `json_options` as its options, and the `--plots` figures; returns the
    exit code of the worst model (harness/report.py)."""
    context = run_context(opts.device, opts.dtype, opts.engine)
    done: list[Outcome] = []
    try:
        for outcome in outcomes:
            done.append(outcome)
            if display is not None:
                display(outcome)
            else:
                show_report(outcome, show)
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            raise
        raise Interrupted(_interrupted(command, len(done))) from None
    reports = [o.report for o in done]
    across = corpus(reports) if corpus is not None else None
    if across is not None and corpus_lines is not None:
        for line in corpus_lines(across):
            show(line)
    if summary:
        counts = summary_counts(reports)
        what = "comparisons" if command == "compare" else "files"
        show(f"{command}: {len(reports)} {what[:-1] if len(reports) == 1 else what}: "
             + ", ".join(f"{n} {s}" for s, n in counts.items()))
        limits = runtime_limits(reports)
        if limits:
            gate = ("failed: --fail-on-runtime-limits" if opts.fail_on_runtime_limits else
                    "reported, not failed; --fail-on-runtime-limits fails them")
            show(f"runtime limitations: {limits} (findings no edit of the file can fix; "
                 f"{gate})")
    if json:
        write_json(json_document(reports, command, signal, context, corpus=across,
                                 **(json_options or {})), json)
    if plots is not None:
        write_plots(PLOT_KIND[command], reports, [o.model for o in done], signal, opts, plots,
                    show, render)
    return exit_code(reports)
