"""The `namcheck` command line: parses arguments, checks them before any work, calls the
command's module, and maps outcomes to exit codes (harness/errors.py). No command logic
lives here: each command has its module (verify, audit, compare, stamp, scale, render,
plot, bench, inspect_report), and the measuring ones share one loop (harness/runner.py).

One rule, enforced in `main`: a bad file, signal, argument, path, permission or
environment prints one line on stderr and exits 2; an internal fault one line and exit 4
(NAMCHECK_DEBUG=1 shows the traceback); never a usage dump.

At import this module loads only argparse and the option table (harness/options.py):
`namcheck --version` and `--help` start no torch; a command imports what it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from namcheck.harness import options as O

if TYPE_CHECKING:
    from namcheck.harness.core import ModelReport
    from namcheck.harness.runner import Outcome


# --------------------------------------------------------------------------- argument checks


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as every `.nam` file below them (sorted; the extension in
    any case); the other files a folder holds are counted in one line on stderr."""
    files: list[Path] = []
    for root in paths:
        if root.is_dir():
            found, others = [], []
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() == ".nam" and not path.is_dir():
                    found.append(path)  # a broken link too: it becomes its own error entry
                elif path.is_file() and not path.name.startswith("."):
                    others.append(path.relative_to(root))
            if not found:
                raise O.bad(f"{root}: no .nam files in this folder")
            if others:
                shown = ", ".join(str(p) for p in others[:3]) + (", ..." if len(others) > 3 else "")
                print(f"namcheck: {root}: {len(others)} file{'s' if len(others) > 1 else ''} "
                      f"without the .nam extension skipped ({shown})", file=sys.stderr)
            files.extend(found)
        else:
            files.append(root)  # a missing file becomes its own error entry
    return files


def _expand_with_roots(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Like _expand, keeping the folder each file was found under (for -o DIR layout)."""
    out: list[tuple[Path, Path]] = []
    for root in paths:
        if root.is_dir():
            out.extend((f, root) for f in _expand([root]))
        else:
            out.append((root, root))
    return out


def _check_output(path: str | os.PathLike[str], inputs: Sequence[Any], what: str) -> None:
    from namcheck.harness.outputs import check_output

    check_output(path, inputs, what)


def _json_target(args: argparse.Namespace, inputs: Sequence[Path]) -> None:
    if args.json:
        _check_output(args.json, [*inputs, *([args.signal] if args.signal else [])], "--json")


def _output_folder(folder: Path, option: str = "-o", create: bool = True) -> None:
    """-o DIR (or `option` DIR): an existing writable folder, or one we can create in an
    existing folder (made now where `create`, else left for the command to make)."""
    if folder.exists() and not folder.is_dir():
        raise O.bad(f"{option} {folder}: is a file, expected a folder")
    if not folder.exists():
        _check_output(folder, [], option)  # its parent must exist and be writable
        if not create:
            return
        try:
            folder.mkdir()
        except OSError as exc:
            raise O.bad(f"{option} {folder}: cannot create: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise O.bad(f"{option} {folder}: folder is not writable")


def _plots_folder(args: argparse.Namespace) -> None:
    if getattr(args, "plots", None) is not None:
        from namcheck.harness.plot import pyplot

        pyplot()  # the extra is installed, or one line saying how
        _output_folder(args.plots, "--plots")


def _tables(args: argparse.Namespace) -> Callable[[str], None]:
    """Where the text goes: stdout, or stderr when `--json -` owns stdout."""
    to_stderr = getattr(args, "json", None) == "-"
    return lambda text: print(text, file=sys.stderr if to_stderr else sys.stdout, flush=True)


def _run_options(args: argparse.Namespace) -> tuple[Any, Any]:
    """(Signal, Options) from the shared options (harness/options.py)."""
    values = O.Values.of(args)
    return O.run_signal(values), O.run_options(values)


# --------------------------------------------------------------------------- commands


def cmd_inspect(args: argparse.Namespace) -> int:
    """`namcheck inspect`: validate and describe files (warnings included)."""
    from namcheck.harness.inspect_report import inspect_files

    return inspect_files(_expand(args.models) if args.models else [], args.json)


def cmd_render(args: argparse.Namespace) -> int:
    """`namcheck render`: run a model over an audio file and write the output."""
    from namcheck.harness.render import render_file
    from namcheck.signals.wav import output_format

    if args.block is not None:
        O.positive_int("--block", args.block)
    _check_output(args.output, [args.model, args.input], "OUT")
    output_format(args.output)
    device = O.device(args.device)
    if args.slim is not None:
        O.finite("--slim", args.slim, 0.0, 1.0)
    return render_file(args.model, args.input, args.output, engine=args.engine,
                       dtype=O.dtype(args.dtype), device=device, slim=args.slim,
                       block=args.block)


def cmd_verify(args: argparse.Namespace) -> int:
    """`namcheck verify`: a hook's claims, checked by running each model."""
    from namcheck.harness import runner
    from namcheck.harness.hooks import upstream_available
    from namcheck.harness.verify import verify_model

    scales = args.scale or list(O.DEFAULT_SCALES)
    if args.hook == "reference":
        for s in scales:
            O.scale("--scale", s)
    elif not upstream_available():
        raise O.bad("--hook upstream: neural-amp-modeler is not installed "
                    "(pip install 'namcheck[upstream]')")
    paths = _expand(args.models) if args.models else []
    _json_target(args, paths)
    _plots_folder(args)
    signal, opts = _run_options(args)
    show = _tables(args)
    show(f"signal: {signal.name}; dtype {args.dtype}, device {opts.device}, hook {args.hook}, "
         f"scales {', '.join(f'{s:g}' for s in scales)}"
         + (f", slim {opts.slim:g}" if opts.slim is not None else ""))
    outcomes = runner.each_model(paths or [None], lambda model: verify_model(
        model, scales, args.hook, signal, opts))
    if len(paths) > 1:
        outcomes = _with_progress(outcomes, len(paths), "verify")
    return runner.run("verify", outcomes, signal, opts, show=show, json=args.json, summary=True,
                      json_options={"hook": args.hook, "scales": scales, "slim": opts.slim,
                                    "gain": opts.with_gain,
                                    "fail_above_db": opts.fail_above_db,
                                    "fail_on_runtime_limits": opts.fail_on_runtime_limits},
                      plots=args.plots)


def cmd_scale(args: argparse.Namespace) -> int:
    """`namcheck scale`: the reference hook on a file, verified, then written."""
    from namcheck.harness.report import exit_code, format_table
    from namcheck.harness.scale import scale_file

    O.scale("--by", args.by)
    inputs = [] if args.in_place else [args.model, *([args.signal] if args.signal else [])]
    _check_output(args.output, inputs, "-o")
    signal, opts = _run_options(args)
    report, summary, written = scale_file(args.model, args.by, args.output, signal, opts,
                                          args.force)
    if written:
        print(f"wrote {args.output}: {summary}")
    held = f"what {args.output} holds" if written else "not written"
    print(f"checks of {args.model} as it is, and scaled ([s={args.by:g}]: {held}):")
    print(format_table(report))
    if not written:
        print(f"namcheck: {args.model}: not written to {args.output}: "
              f"{_scale_refusal(report)} ({summary})", file=sys.stderr)
    return exit_code([report])


def _scale_refusal(report: Any) -> str:
    """Why `scale` wrote nothing, in words: the file's own stored loudness where that is
    what failed (the scaled file would carry it on), else the failed checks, with the
    first one's detail (a precondition such as float32_range names the cause)."""
    from namcheck.harness.report import display_name

    failed = [c for c in report.checks if c.passed is False]
    stored = next((c for c in failed if c.name == "metadata_loudness" and c.scale is None),
                  None)
    if stored is not None and stored.expected is not None and stored.measured is not None:
        return (f"the file's metadata.loudness is not what it plays (stored "
                f"{stored.expected:.2f} dB, measured {stored.measured:.2f} dB), and the scaled "
                "file would carry that on; `namcheck stamp` stores the measured value")
    names = ", ".join(display_name(c) for c in failed) or report.status
    cause = f": {failed[0].detail}" if failed and failed[0].detail else ""
    return f"the scaled model failed verification ({names}){cause}"


def cmd_audit(args: argparse.Namespace) -> int:
    """`namcheck audit`: files as they are."""
    # the argument checks first (an error in 0.5 s, not 5), before the folder scan (whose
    # note on skipped files would come before the error line)
    O.positive_int("--workers", args.workers, 64)
    if args.timeout is not None:
        O.finite("--timeout", args.timeout, 0.0, low_open=True)
    if args.scheduler is not None and (args.timeout is not None or args.workers != 1):
        raise O.bad("--scheduler: the cluster's own workers run the files; --workers and "
                    "--timeout are for a local audit")
    files = _expand(args.paths)
    _json_target(args, files)
    _plots_folder(args)
    if args.results is not None:
        _check_output(args.results, files, "--results")
    from namcheck.harness import runner
    from namcheck.harness.audit import audit_files, corpus_summary, format_corpus_summary
    from namcheck.harness.report import format_table

    signal, opts = _run_options(args)
    show = _tables(args)
    show(f"signal: {signal.name}; {_files(len(files))}")

    reused = 0
    if args.results is not None and args.results.exists():
        from namcheck.harness.corpus.results import stored_results

        reused = stored_results(args.results, files, signal, opts)
        show(f"resuming from {args.results}: {reused} of {len(files)} results reused, "
             f"{len(files) - reused} to audit")

    def outcomes() -> Iterator[Outcome]:
        # Tables after the run, in file order (findings are shown as they happen).
        for report in audit_files(files, signal, opts, args.workers,
                                  _audit_progress(len(files)), args.results, args.timeout,
                                  args.scheduler):
            yield runner.Outcome(report)

    try:
        return runner.run("audit", outcomes(), signal, opts, show=show,
                          display=lambda o: show(format_table(o.report)), summary=True,
                          corpus=corpus_summary, corpus_lines=format_corpus_summary,
                          json=args.json, json_options={"gain": opts.with_gain,
                                                        "workers": args.workers,
                                                        "fail_above_db": opts.fail_above_db,
                                                        "fail_on_runtime_limits":
                                                        opts.fail_on_runtime_limits},
                          plots=args.plots)
    except KeyboardInterrupt as exc:
        if args.results is None:
            raise
        from namcheck.harness.corpus.results import stored_results
        from namcheck.harness.interrupts import Interrupted

        again = "resume with: namcheck " + shlex.join(getattr(args, "given_argv",
                                                              sys.argv[1:]))
        note, rerun = str(exc), "rerun the same command to resume"
        if rerun in note:  # the corpus run's own account (harness/corpus), with the command
            raise Interrupted(note.replace(rerun, again)) from None
        saved = stored_results(args.results, files, signal, opts) - reused
        raise Interrupted(f"{saved} new results saved in {args.results} "
                          f"({reused + saved} of {len(files)} done); {again}") from None


def _with_progress(outcomes: Iterator[Outcome], total: int, command: str
                   ) -> Iterator[Outcome]:
    """On a terminal (or NAMCHECK_PROGRESS=bar), a progress bar with rate and ETA on stderr
    while `outcomes` run; elsewhere the outcomes unchanged (no control characters)."""
    if not (sys.stderr.isatty() or os.environ.get("NAMCHECK_PROGRESS") == "bar"):
        yield from outcomes
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="file", desc=command, file=sys.stderr, dynamic_ncols=True,
              leave=False) as bar:
        for outcome in outcomes:
            bar.update(1)
            yield outcome


def _audit_progress(total: int) -> Callable[[int, int, ModelReport], None]:
    """On a terminal: a progress bar with rate and ETA, each finding printed as it
    happens. Off a terminal: errors only, as plain lines (no control characters)."""
    from namcheck.harness.runner import say_error

    bar = None
    if sys.stderr.isatty() or os.environ.get("NAMCHECK_PROGRESS") == "bar":
        from tqdm import tqdm

        bar = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, _total: int, report: ModelReport) -> None:
        if bar is None:
            say_error(report)
            return
        if report.status in ("failed", "error"):
            what = report.error or "; ".join(
                c.name for c in report.checks if c.passed is False)
            bar.write(f"{report.status}: {report.path}: {what}"[:300], file=sys.stderr)
        bar.update(1)
        if done == total:
            bar.close()

    return progress


def cmd_compare(args: argparse.Namespace) -> int:
    """`namcheck compare`: upstream's forward, a render, or model B vs the reference."""
    from namcheck.harness import runner
    from namcheck.harness.compare import (
        compare_models,
        compare_render,
        compare_upstream,
        upstream_loader,
    )
    from namcheck.harness.core import guarded
    from namcheck.models.format import read_nam

    paths = _expand(args.models)
    pair = (args.render is None and not args.upstream and len(args.models) == 2
            and not any(p.is_dir() for p in args.models))
    if args.render is not None:
        if args.upstream:
            raise O.bad("--render and --upstream: give one of them")
        if len(paths) != 1 or not args.signal:
            raise O.bad("--render: give exactly one MODEL and the --signal it rendered")
    elif pair:
        if args.plots:
            raise O.bad("--plots: not drawn for A vs B (compare each with --render)")
    elif len(paths) > 1 and not args.upstream:
        raise O.bad("compare: two models are compared with each other (A.nam B.nam); for "
                    "several models vs upstream's PyTorch add --upstream")
    else:
        upstream_loader()  # one line saying how to install it, before any work
    _json_target(args, [*paths, *([args.render] if args.render else [])])
    _plots_folder(args)
    signal, opts = _run_options(args)
    show = _tables(args)
    subject = (f"render {args.render}" if args.render else
               f"{paths[0]} (A) with {paths[1]} (B)" if pair else "upstream's PyTorch model")
    show(f"signal: {signal.name}; comparing {subject}" + (
        "" if pair else " with namcheck's reference") + f" ({args.dtype})")

    def work(model: Any) -> ModelReport:
        if args.render is not None:
            return compare_render(model, args.render, signal, opts)
        return compare_upstream(model, signal, opts)

    if pair:
        a, b = paths
        outcomes: Iterator[Outcome] = iter([runner.Outcome(guarded(
            f"{a} vs {b}", lambda: compare_models(read_nam(a), read_nam(b), signal, opts)))])
    else:
        outcomes = runner.each_model(paths, work)
    return runner.run("compare", outcomes, signal, opts, show=show, summary=True,
                      json=args.json, json_options={
                          "subject": subject,
                          "render": str(args.render) if args.render else None,
                          "fail_above_db": opts.fail_above_db},
                      plots=args.plots, render=args.render)


def cmd_stamp(args: argparse.Namespace) -> int:
    """`namcheck stamp`: write measured loudness/gain metadata."""
    if args.check and (args.in_place or args.output is not None or args.dry_run):
        raise O.bad("--check writes nothing: give it without -o, --in-place and --dry-run")
    args.dry_run = args.dry_run or args.check
    if args.in_place == (args.output is not None) and not args.dry_run:
        raise O.bad("stamp: give exactly one of -o DIR and --in-place (or --dry-run, "
                    "--check)")
    from namcheck.harness import runner
    from namcheck.harness.report import format_table
    from namcheck.harness.stamp import (
        ALREADY_CORRECT,
        plan_outputs,
        require_standard_input,
        stamp_file,
    )

    found = _expand_with_roots(args.paths)
    if args.output is not None and not args.dry_run:
        created = not args.output.exists()
        _output_folder(args.output)
        if created:  # it can be made; each file's write makes it, so a stopped run leaves none
            args.output.rmdir()
    plans = plan_outputs(found, None if args.dry_run else args.output,
                         args.in_place and not args.dry_run)
    _json_target(args, [p.source for p in plans])
    signal, opts = _run_options(args)
    require_standard_input(signal)
    show = _tables(args)
    show(f"signal: {signal.name}; {_files(len(plans))}"
         + ("; dry run: nothing is written" if args.dry_run else ""))

    finished: list[ModelReport] = []

    def display(outcome: Outcome) -> None:
        plan, report = outcome.item, outcome.report
        finished.append(report)
        if args.check:  # like black --check: one line per change, nothing else
            runner.say_error(report)
            for change in report.changes:
                show(f"would change {plan.source}: {change}")
            others = [c for c in report.checks if c.name != "metadata_current"]
            if not report.error and any(c.passed is not True for c in others):
                show(format_table(report))
            return
        runner.say_error(report)
        moved = plan.output and (not plan.in_place or plan.source.is_symlink())
        target = f" -> {plan.output}" if moved and not report.error else ""
        if not report.error:  # an unreadable file: the table below is its one header
            show(f"== {plan.source}{target}")
        for change in report.changes:
            show(f"   {change}")
        rates = report.sample_rates
        if rates is not None and rates["measured_as"] == "nam_exporter":
            show(f"   note: {rates['note']}")
        if not report.changes and not report.error:
            show("   already correct: nothing to change")
        if report.status != "passed":
            show(format_table(report))  # with the warnings
        else:
            for warning in report.warnings:
                if warning != ALREADY_CORRECT:
                    show(f"   warning: {warning}")

    outcomes = (runner.Outcome(stamp_file(plan, signal, opts, args.check), item=plan)
                for plan in plans)
    code = runner.run("stamp", outcomes, signal, opts, show=show, display=display,
                      json=args.json, json_options={
                          "dry_run": args.dry_run, "in_place": args.in_place,
                          "check": args.check,
                          "output": str(args.output or "") or None, "gain": opts.with_gain})
    if not args.check:
        return code
    return _check_outcome(finished, code, show)


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _check_outcome(reports: list[ModelReport], code: int, show: Callable[[str], None]) -> int:
    """`stamp --check`'s exit code: 2/4 as any run for a bad input or an internal fault,
    else 1 when a file would change (or could not be measured), 0 when none would."""
    from namcheck.harness.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK

    changing = sum(bool(r.changes) for r in reports)
    unmeasured = sum(r.status == "failed" and not r.changes for r in reports)
    unchecked = sum(r.status == "error" for r in reports)
    show(f"stamp --check: {changing} of {_files(len(reports))} would change"
         + (f", {unmeasured} could not be measured" if unmeasured else "")
         + (f", {unchecked} could not be checked (see above)" if unchecked else ""))
    if code in (EXIT_BAD_INPUT, EXIT_INTERNAL):
        return code
    return EXIT_FAILED if changing or unmeasured else EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    """`namcheck plot`: one figure as PNG."""
    from namcheck.harness import plot
    from namcheck.models.format import read_nam

    plot.pyplot()  # the extra is installed, or one line saying how
    out = args.output or Path(f"{args.model.stem}.{args.kind}.png")
    if out.suffix.lower() != ".png":
        raise O.bad(f"-o {out}: plots are written as .png")
    inputs = [args.model, *([args.signal] if args.signal else []),
              *([args.render] if args.render else [])]
    _check_output(out, inputs, "-o")
    if args.render is not None and (args.kind != "compare" or not args.signal):
        raise O.bad("--render: only with 'plot compare', and with the --signal it rendered")
    model = read_nam(args.model)
    signal, opts = _run_options(args)
    if args.kind == "shift":
        written = plot.plot_shift(model, signal, opts, out)
    elif args.kind == "slims":
        written = plot.plot_slims(model, signal, opts, out)
    else:
        written = plot.plot_compare(model, signal, opts, out, args.render)
    print(f"wrote {written}")
    return 0


def cmd_conform(args: argparse.Namespace) -> int:
    """`namcheck conform`: the conformance suite against a runtime's command template."""
    from namcheck.harness import conform

    if args.schema:
        from namcheck.harness.conform.schema import json_schema as conform_schema

        print(json.dumps(conform_schema(), indent=2))
        return 0
    if args.list:
        print(conform.list_suite(args.only or [], args.case or []))
        return 0
    if not args.runtime:
        raise O.bad("conform: --runtime 'CMD {model} {input} {output}' is required")
    jobs = (O.positive_int("--jobs", args.jobs, 1024) if args.jobs is not None
            else conform.default_jobs())
    timeout = O.finite("--timeout", args.timeout, 0.0, low_open=True)
    opts = conform.ConformOptions(args.runtime, args.slim_arg, args.block_arg, args.output,
                                  args.json, args.markdown, args.plots, args.only or [],
                                  args.case or [], jobs, timeout)
    conform.validate(opts)  # the template and the selection, before anything is written
    for flag, target in (("--json", args.json), ("--markdown", args.markdown)):
        if target:
            _check_output(target, [], flag)
    if args.output is not None:  # made by the run: a Ctrl-C leaves no empty folder
        _output_folder(args.output, create=False)
    _plots_folder(args)
    return conform.run_conform(opts, _tables(args))


def cmd_schema(args: argparse.Namespace) -> int:
    """`namcheck schema`: print the reports' JSON Schema."""
    from namcheck.harness.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """`namcheck bench`: speed of the forward (real-time factor, GFLOP/s)."""
    from namcheck.harness.bench import bench
    from namcheck.models.examples import builtin_model
    from namcheck.models.format import read_nam

    O.positive_int("--threads", args.threads, os.cpu_count() or 1)
    O.positive_int("--repeats", args.repeats, 1000)
    O.finite("--seconds", args.seconds, 0.0, 600.0, low_open=True)
    device = O.device(args.device)
    if args.slim is not None:
        O.finite("--slim", args.slim, 0.0, 1.0)
    model = read_nam(args.model) if args.model else builtin_model()
    samples = int((model.sample_rate or 48000.0) * args.seconds)
    O.positive_int("--block", args.block, max(1, samples))
    if args.core is not None and not os.access(args.core, os.X_OK):
        raise O.bad(f"--core {args.core}: not an executable file")
    print(bench(model, dtype=O.dtype(args.dtype), device=device, threads=args.threads,
                block=args.block, seconds=args.seconds, repeats=args.repeats,
                compile=args.compile, upstream=args.upstream, engine=args.engine,
                slim=args.slim, core=str(args.core) if args.core else None,
                model_path=str(args.model) if args.model else None))
    return 0


# --------------------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'namcheck verify: --scale: invalid float value'."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a value such as -0.5e-3 is a (negative) number, not an option: argparse's own
        # pattern (CPython 3.10-3.12) knows no exponent
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> NoReturn:
        from namcheck.harness.errors import EXIT_BAD_INPUT

        if message.startswith("the following arguments are required"):
            # a mistyped option ("--bye" for "--by") leaves its option missing: say the typo
            known = {s for a in self._actions for s in a.option_strings}
            typos = [w.split("=", 1)[0] for w in getattr(self, "argv", None) or []
                     if w.startswith("--") and w.split("=", 1)[0] not in known]
            if typos:
                message = f"unrecognized arguments: {' '.join(typos)}"
        owner = self._owner()
        print(f"{owner}: {message}{self._suggestion(message)} (see {owner} --help)",
              file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)

    def _owner(self) -> str:
        """The program whose --help lists the options: the command's ('namcheck verify')
        where the top parser reports a command's unrecognized arguments."""
        argv = getattr(self, "argv", None) or []
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and argv[:1]:
                command = action.choices.get(argv[0])
                if command is not None:
                    return command.prog
        return self.prog

    def _suggestion(self, message: str) -> str:
        """'; did you mean --signal?' for a mistyped option (the closest of this command's
        options), '' when none is close."""
        import difflib

        if not message.startswith("unrecognized arguments:"):
            return ""
        argv = getattr(self, "argv", None) or []
        parsers: list[argparse.ArgumentParser] = [self]
        for action in self._actions:  # the command's own options (the top parser errs)
            if isinstance(action, argparse._SubParsersAction):
                parsers += [p for name, p in action.choices.items() if name in argv[:1]
                            or name == next((w for w in argv if not w.startswith("-")), "")]
        known = sorted({s for p in parsers for a in p._actions for s in a.option_strings
                        if s.startswith("--")})
        hints = []
        flags = [w.split("=", 1)[0] for w in message.split(":", 1)[1].split()
                 if w.startswith("-") and w != "-"]
        for flag in flags:
            close = difflib.get_close_matches(flag if flag.startswith("--") else "-" + flag,
                                              known, n=1, cutoff=0.6)
            if close and close[0] != flag:
                hints.append(close[0] if len(flags) == 1 else f"{close[0]} for {flag}")
        if not hints:
            words = message.split()
            if words[2:] == ["-"]:
                return ("; '-' is not an argument of this command"
                        + (" (inspect --json prints to stdout)" if "inspect" in argv[:1] else ""))
            return "; this command has no such option" if len(words) == 3 and (
                words[2].startswith("-")) else ""
        return f"; did you mean {', '.join(hints)}?"

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        self.argv = list(sys.argv[1:] if args is None else args)
        for action in self._actions:  # a command's parser reads them too (error())
            if isinstance(action, argparse._SubParsersAction):
                for parser in action.choices.values():
                    parser.argv = self.argv  # type: ignore[attr-defined]
        return super().parse_args(args, namespace)


class _Version(argparse.Action):
    """--version, printed without importing anything else of namcheck."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from namcheck.harness.version import package_version

        print(f"namcheck {package_version()}")
        parser.exit()


def _add(p: argparse.ArgumentParser, *names: str, **overrides: Any) -> None:
    """Options from the shared table (harness/options.py)."""
    for name in names:
        O.OPTIONS[name].add_to(p, **overrides)


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("limits (checked before anything large is allocated)")
    for option in O.LIMITS:
        option.add_to(g)


def _add_run_options(p: argparse.ArgumentParser, slim: bool = True, gain: bool = True,
                     gate: bool = True) -> None:
    """The run options a measuring command takes; those that do not apply to it (the gain
    heuristic, the dB gate, a slim value) are not offered (an absent one reads as its
    default, harness/options.py: Values)."""
    _add(p, "signal", "standard_input", "builtin_signal", "dtype", "device",
         *(["slim"] if slim else []), *(["no_gain"] if gain else []),
         *(["fail_above_db", "fail_on_runtime_limits"] if gate else []))
    _add_limit_options(p)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (one-line errors, exit 2)."""
    parser = _Parser(
        prog="namcheck",
        description="Verify Neural Amp Modeler (.nam) models by running them: an independent "
        "reference forward pass (float32/float64, CPU/CUDA) that follows the C++ runtime.",
        epilog="Exit codes: 0 all passed, 1 a check failed, 2 bad input (one line on stderr), "
        "3 nothing failed but something could not be verified, 4 internal error.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show namcheck's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser("inspect", help="show what a .nam file holds and validate it",
                       description="Validate .nam files (or every .nam in a folder) and "
                       "print architecture, version, sample rate, parameter count, receptive "
                       "field, head_scale (config and weights tail), loudness/gain metadata, "
                       "each container submodel, and warnings (features the runtime and "
                       "upstream's PyTorch play differently). With no file, inspects the "
                       "built-in example model. --json prints a list.")
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL.nam",
                   help=".nam files or folders to search (default: the built-in model)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    _add_limit_options(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("render", help="run a model over a mono audio file",
                       description="Run MODEL over IN (mono, at the model's sample rate) "
                       "with zero history before the first sample, and write OUT atomically "
                       "(format from the extension: .wav float32, .flac 24-bit, ...). A "
                       "non-finite output is refused (exit 1, nothing written).")
    p.add_argument("model", type=Path, metavar="MODEL.nam", help="the model to run")
    p.add_argument("input", type=Path, metavar="IN.wav",
                   help="mono audio at the model's sample rate")
    p.add_argument("output", type=Path, metavar="OUT.wav",
                   help="where the output goes (format from the extension); never an input")
    _add(p, "slim", help="slim value in [0, 1] (slimmable WaveNet / container); default full "
         "size")
    _add(p, "dtype", "device", "engine")
    p.add_argument("--block", type=int, default=None, metavar="N",
                   help="process in streaming blocks of N >= 1 samples, as a plugin does "
                   "(default: offline, all at once)")
    _add_limit_options(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("verify", help="prove an output-scaling hook's claims by measurement",
                       description="Apply an output-scaling hook at each scale and check by "
                       "running the model: the measured loudness shift equals 20*log10(s), the "
                       "output scales exactly (linearity), stored loudness moved by the closed "
                       "form, gain is unchanged, the hook scaled both config.head_scale and "
                       "weights[-1], and container metadata follows its top submodel. With "
                       "--slim on a container, the level hosts set for the submodel playing "
                       "there is checked too. Folders are searched for "
                       ".nam files; a bad file is reported and the rest still verified. With "
                       "no model, verifies the built-in model.")
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL.nam",
                   help=".nam files or folders to search (default: the built-in model)")
    _add(p, "scale", "hook")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="write the loudness-shift plot of each model into DIR ('plot' extra)")
    _add_run_options(p)
    _add(p, "engine")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("scale", help="apply the reference hook to a file, verify, write",
                       description="Scale MODEL's output by S (head_scale and weights[-1], "
                       "loudness + 20*log10(S)), verify the result by measurement, then write "
                       "OUT atomically.")
    p.add_argument("model", type=Path, metavar="MODEL.nam", help="the model to scale")
    p.add_argument("--by", type=O.number, required=True, metavar="S",
                   help="the output scale s > 0: the output is multiplied by s and "
                   "metadata.loudness moves by 20*log10(s) dB")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.nam",
                   help="the file to write (atomically; MODEL itself only with --in-place)")
    p.add_argument("--force", action="store_true",
                   help="scale a model with a post-stack head anyway (the closed form fails)")
    p.add_argument("--in-place", action="store_true", help="allow OUT to be MODEL")
    _add_run_options(p, slim=False)
    _add(p, "engine")
    p.set_defaults(func=cmd_scale, slim=None)

    p = sub.add_parser("audit", help="check existing .nam files as they are",
                       description="For every .nam under the paths: the output is finite and "
                       "audible, stored vs measured loudness and gain (on NAM's standard "
                       "input: --signal, or found in an installed neural-amp-modeler), "
                       "container metadata vs its top submodel, and the level a host sets at "
                       "each slim; measured loudness and gain are reported for every model. "
                       "A bad file is reported, never stops the audit.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help=".nam files or folders (searched for .nam files)")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="parallel processes (default 1)")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="write the per-slim level plot of each container into DIR ('plot' "
                   "extra)")
    p.add_argument("--results", type=Path, metavar="FILE.jsonl",
                   help="append each file's result as it finishes; rerun with the same file "
                   "to skip those already done (matched by content hash)")
    p.add_argument("--timeout", type=O.number, metavar="S",
                   help="per-file limit in seconds: a file that hangs (or crashes) its worker "
                   "process becomes an error entry")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786 (the "
                   "'dask' extra); the results file and report are the same")
    _add_run_options(p, slim=False)
    _add(p, "engine")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("compare", help="another implementation, or another model, vs the "
                       "reference",
                       description="One MODEL (or several with --upstream): run upstream's "
                       "PyTorch model (nam.models.init_from_nam, the 'upstream' extra) and "
                       "namcheck's runtime-faithful reference on the same signal, per model and "
                       "per container submodel: peak-relative and max error, loudness "
                       "difference in dB, within a derived bound, with the cause where "
                       "namcheck can name it. Two models A.nam B.nam: B vs A on the same "
                       "signal (a re-export, a retrain, a conversion): error, ESR and level "
                       "difference within the bound of 'the same model'. With --render "
                       "OUT.wav --signal IN.wav, judge any other implementation's render of IN "
                       "the same way (no upstream needed); a shift or length difference is "
                       "reported.")
    p.add_argument("models", nargs="+", type=Path, metavar="MODEL.nam",
                   help="one model (vs upstream or --render), several with --upstream, or "
                   "A.nam B.nam (B vs A)")
    p.add_argument("--upstream", action="store_true",
                   help="compare each model with upstream's PyTorch model (the meaning of a "
                   "single MODEL; needed for several)")
    p.add_argument("--render", type=Path, metavar="OUT.wav",
                   help="a render of --signal by another implementation to judge")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="write the overlay/difference/spectra plot of each model into DIR "
                   "('plot' extra)")
    _add_run_options(p, gain=False)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("plot", help="draw a figure (the 'plot' extra, matplotlib)",
                       description="shift: measured vs closed-form loudness shift over scales "
                       "1e-3..1e3 with the error and its tolerance; slims: a container's "
                       "stored loudness vs the measured loudness of the submodel playing at "
                       "each slim; compare: reference vs upstream's output (or --render), "
                       "overlay, difference and spectra. Written as PNG.")
    p.add_argument("kind", choices=["shift", "slims", "compare"],
                   help="which figure: shift, slims or compare (see above)")
    p.add_argument("model", type=Path, metavar="MODEL.nam", help="the model to draw")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.png",
                   help="default: MODEL-stem.KIND.png in the current folder")
    p.add_argument("--render", type=Path, metavar="WAV",
                   help="compare: a render of --signal instead of upstream's output")
    _add_run_options(p, gain=False, gate=False)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("stamp", help="write measured loudness/gain into .nam files",
                       description="Measure each model (and container submodel) on NAM's "
                       "standard loudness input, in float32, and write metadata.loudness and "
                       "metadata.gain where they are missing or wrong beyond the derived "
                       "tolerance; a container's own values become its top submodel's. Every "
                       "other key and weight stays exactly as it was. Writes atomically into "
                       "-o DIR (keeping each file's path below the folder given), or over the "
                       "inputs with --in-place; --dry-run prints before -> after only.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help=".nam files or folders (searched for .nam files)")
    p.add_argument("-o", "--output", type=Path, metavar="DIR", help="folder to write into")
    p.add_argument("--in-place", action="store_true", help="rewrite the inputs themselves")
    p.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    p.add_argument("--check", action="store_true",
                   help="write nothing; list each change and exit 1 when any file would "
                   "change, 0 when none would (for CI, like black --check)")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    _add(p, "signal", help="NAM's standard loudness input (default: the copy in an installed "
         "neural-amp-modeler; stamp refuses any other signal)")
    _add(p, "standard_input", help="treat --signal as NAM's standard input although its "
         "samples differ")
    _add(p, "no_gain", help="stamp loudness only")
    _add(p, "device", help="cpu (default) or cuda[:N]; the forward runs in float32, as NAM "
         "defines the stored loudness")
    _add(p, "engine")
    _add_limit_options(p)
    p.set_defaults(func=cmd_stamp, builtin_signal=False, slim=None, fail_above_db=None,
                   dtype="float32")

    p = sub.add_parser("conform", help="the conformance suite against any NAM runtime",
                       description="Generate a suite of small seeded cases, each isolating "
                       "one feature of the .nam format (every architecture, activation, "
                       "gating mode, FiLM slot, slim, prewarm, block size, sample rate, "
                       "version and file edge), run the runtime on each through a command "
                       "template, and compare with namcheck's float64 reference within the "
                       "derived float32 bound. Verdicts: pass, differs (max abs error, bound, "
                       "ESR, first differing sample, likely cause), refused, crash, skipped. "
                       "Exit 0 when every case passes or is skipped, 1 otherwise.")
    p.add_argument("--runtime", metavar="'CMD {model} {input} {output}'",
                   help="the runtime's command line; {model} {input} {output} become the "
                   "case's paths (split like a shell line, no shell runs)")
    p.add_argument("--slim-arg", metavar="'--slim {slim}'",
                   help="how the runtime takes a slim value (cases that need one are "
                   "skipped without it); inserted at {args}, else before {model}")
    p.add_argument("--block-arg", metavar="'--block {block}'",
                   help="how the runtime takes a block (buffer) size (cases that need one "
                   "are skipped without it)")
    p.add_argument("-o", "--output", type=Path, metavar="DIR",
                   help="write the suite into DIR/cases/FEATURE/VARIANT/ (model.nam, "
                   "input.wav, expected.wav, output.wav, case.json) to rerun a case by hand "
                   "(default: a temporary folder)")
    p.add_argument("--json", metavar="OUT", help="write the JSON report ('-': stdout only)")
    p.add_argument("--markdown", type=Path, metavar="OUT.md",
                   help="write the matrix as Markdown for a pull request")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="draw the worst differing cases into DIR/conform_worst.png ('plot' "
                   "extra)")
    p.add_argument("--only", action="append", metavar="FEATURE",
                   help="run a feature or a group of them (e.g. film, film.conv_pre_film); "
                   "repeatable")
    p.add_argument("--case", action="append", metavar="NAME",
                   help="run one case (FEATURE/VARIANT); repeatable")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="parallel runtime processes and reference workers (default: the "
                   "cores)")
    p.add_argument("--timeout", type=O.number, default=60.0, metavar="S",
                   help="per-case limit in seconds; a runtime still running is killed and "
                   "the case is a crash (default 60)")
    p.add_argument("--list", action="store_true", help="list the features and cases, run "
                   "nothing")
    p.add_argument("--schema", action="store_true",
                   help="print the JSON Schema of the --json report")
    _add_limit_options(p)
    p.set_defaults(func=cmd_conform)

    p = sub.add_parser("schema", help="print the JSON Schema of the reports",
                       description="Print the JSON Schema (draft 2020-12) that every --json "
                       "report (verify, audit, compare, stamp) validates against.")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("bench", help="measure forward speed (real-time factor, GFLOP/s)",
                       description="Time the reference forward offline (whole signal) and "
                       "streaming (blocks of --block samples), report the real-time factor "
                       "(seconds of audio per second of compute), achieved GFLOP/s and its "
                       "share of this core's float32 FMA peak, measured in the same run; a "
                       "'C host' row streams with each block one kernel call made from C. "
                       "With --upstream, the same for upstream nam's forward on the same file.")
    p.add_argument("model", nargs="?", type=Path, metavar="MODEL.nam",
                   help="default: the built-in model")
    _add(p, "dtype", "device")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: compare ratios on a pinned core)")
    p.add_argument("--block", type=int, default=64, metavar="N",
                   help="streaming block size in samples (default 64)")
    p.add_argument("--seconds", type=O.number, default=1.0,
                   help="audio length in seconds, in (0, 600] (default 1)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed runs per measurement; the median is reported (default 5)")
    p.add_argument("--compile", action="store_true",
                   help="add a row for streaming through torch.compile (compiles for tens of "
                   "seconds first)")
    p.add_argument("--upstream", action="store_true",
                   help="add a row for upstream nam's forward (needs the 'upstream' extra)")
    _add(p, "slim", help="slim value in [0, 1] for a slimmable model or container")
    p.add_argument("--core", type=Path, metavar="BENCHMODEL",
                   help="NeuralAmpModelerCore's built benchmodel, timed on the same file in "
                   f"the same run (default: ${O.CORE_ENV} when set)")
    _add(p, "engine")
    _add_limit_options(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (harness/errors.py). Ctrl-C is one line
    (what was kept, how to go on), exit 130; a closed output pipe (`| head -1`) ends the
    command quietly, exit 141, as it ends any Unix tool."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except KeyboardInterrupt as exc:
        from namcheck.harness.interrupts import EXIT_INTERRUPTED

        note = str(exc)
        try:
            print("namcheck: interrupted" + (f": {note}" if note else ""), file=sys.stderr,
                  flush=True)
        except BrokenPipeError:
            pass
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        from namcheck.harness.interrupts import EXIT_CLOSED_PIPE, quiet_stdio, stdio_closed

        if not stdio_closed():
            raise
        quiet_stdio()
        return EXIT_CLOSED_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.given_argv = parser.argv  # to repeat the command (an interrupted audit's resume)
    from namcheck.harness.errors import (
        BAD_INPUT_ERRORS,
        EXIT_BAD_INPUT,
        EXIT_INTERNAL,
    )
    from namcheck.harness.hooks import HookRefusedError
    from namcheck.harness.interrupts import stdio_closed

    try:
        O.apply_limits(O.Values.of(args))
        return int(args.func(args))
    except (*BAD_INPUT_ERRORS, HookRefusedError) as exc:
        print(f"namcheck: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print(f"namcheck {args.command}: out of memory (see the limit options in --help)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and stdio_closed():
            raise
        if os.environ.get("NAMCHECK_DEBUG"):
            raise
        print(f"namcheck {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(NAMCHECK_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
