"""The `namcheck` command line: parses arguments, checks them before any work, and maps
outcomes to exit codes (harness/errors.py). The commands' logic lives in their modules.

One rule, enforced in `main`: a bad file, signal, argument, path, permission or
environment prints one line on stderr and exits 2; never a traceback or a usage dump.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from namcheck.harness import bench as bench_module
from namcheck.harness.audit import run_audit
from namcheck.harness.compare import (
    compare_models,
    compare_render,
    compare_upstream,
    upstream_loader,
)
from namcheck.harness.errors import (
    BAD_INPUT_ERRORS,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    BadInputError,
)
from namcheck.harness.hooks import (
    HookRefusedError,
    check_scale,
    scale_output,
    upstream_available,
)
from namcheck.harness.inspect_report import describe, format_text
from namcheck.harness.outputs import check_output
from namcheck.harness.plot import write_plots
from namcheck.harness.report import (
    exit_code,
    format_table,
    json_document,
    summary_counts,
    write_json,
)
from namcheck.harness.schema import json_schema, run_context
from namcheck.harness.stamp import plan_outputs, require_standard_input, stamp_file
from namcheck.harness.verify import (
    ModelReport,
    Options,
    Signal,
    guarded,
    verify_model,
)
from namcheck.models import read_nam, write_nam
from namcheck.models.base import OFFLINE_CHUNK
from namcheck.models.engines import ENGINES, load_engine
from namcheck.models.examples import builtin_model
from namcheck.models.limits import MIB, OPTION, set_limits, with_overrides
from namcheck.models.nam_file import NamModel
from namcheck.signals.wav import output_format, read_mono, write_mono

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def package_version() -> str:
    """namcheck's installed version string."""
    try:
        return version("namcheck")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


# --------------------------------------------------------------------------- argument checks


def _device(name: str) -> str:
    """A device torch can use here, or one line saying why not (before any work)."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise BadInputError(f"--device {name}: unknown device (expected cpu or cuda[:N])"
                            ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BadInputError(f"--device {name}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BadInputError(f"--device {name}: this machine has "
                                f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise BadInputError(f"--device {name}: namcheck runs on cpu or cuda, not {device.type}")
    return name


def _finite(flag: str, value: float, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> float:
    ok = math.isfinite(value) and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or value <= high)
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"<= {high:g}"
        raise BadInputError(f"{flag} {value:g}: expected a finite number {lo}"
                            f"{' and ' if lo and hi else ''}{hi}")
    return value


def _scale_argument(flag: str, value: float) -> None:
    try:
        check_scale(value)
    except HookRefusedError as exc:
        raise BadInputError(f"{flag} {value:g}: {exc} (the reference hook refuses it)"
                            ) from None


def _positive_int(flag: str, value: int, high: int | None = None) -> int:
    if value < 1 or (high is not None and value > high):
        bound = f" and <= {high}" if high is not None else ""
        raise BadInputError(f"{flag} {value}: expected an integer >= 1{bound}")
    return value


def _apply_limits(args: argparse.Namespace) -> None:
    mb = getattr(args, "max_file_mb", None)
    overrides: dict[str, Any] = {
        name: getattr(args, name, None) for name in OPTION if name != "max_file_bytes"}
    overrides["max_file_bytes"] = None if mb is None else int(_finite(
        "--max-file-mb", mb, 0, low_open=True) * MIB)
    for name in ("max_nesting", "max_receptive_field", "max_parameters", "max_layers"):
        if overrides[name] is not None:
            _positive_int(OPTION[name], overrides[name])
    if overrides["max_signal_seconds"] is not None:
        _finite("--max-signal-seconds", overrides["max_signal_seconds"], 0, low_open=True)
    set_limits(with_overrides(**overrides))


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as every `.nam` below them (sorted)."""
    files: list[Path] = []
    for root in paths:
        if root.is_dir():
            found = sorted(root.rglob("*.nam"))
            if not found:
                raise BadInputError(f"{root}: no .nam files in this folder")
            files.extend(found)
        else:
            files.append(root)  # a missing file becomes its own error entry
    return files


def _signal(args: argparse.Namespace) -> Signal:
    """--signal, else NAM's standard input from an installed nam, else the built-in one."""
    if args.signal and args.builtin_signal:
        raise BadInputError("--signal and --builtin-signal: give one of them")
    if args.standard_input and not args.signal:
        raise BadInputError("--standard-input: needs --signal WAV")
    return Signal.choose(args.signal, builtin=args.builtin_signal,
                         treat_as_standard=args.standard_input)


def _options(args: argparse.Namespace) -> Options:
    slim = getattr(args, "slim", None)
    if slim is not None:
        _finite("--slim", slim, 0.0, 1.0)
    gate = getattr(args, "fail_above_db", None)
    if gate is not None:
        _finite("--fail-above-db", gate, 0.0)
    return Options(DTYPES[args.dtype], _device(args.device), slim, not args.no_gain, gate,
                   getattr(args, "engine", "auto"))


def _json_target(args: argparse.Namespace, inputs: Sequence[Path]) -> None:
    if args.json:
        check_output(args.json, [*inputs, *([args.signal] if args.signal else [])], "--json")


def _audit_progress(total: int) -> Callable[[int, int, ModelReport], None]:
    """On a terminal: a progress bar with rate and ETA, each finding printed as it
    happens. Off a terminal: errors only, as plain lines (no control characters)."""
    bar = None
    if sys.stderr.isatty() or os.environ.get("NAMCHECK_PROGRESS") == "bar":
        from tqdm import tqdm

        bar = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, _total: int, report: ModelReport) -> None:
        if bar is None:
            _say_error(report)
            return
        if report.status in ("failed", "error"):
            what = report.error or "; ".join(
                c.name for c in report.checks if c.passed is False)
            bar.write(f"{report.status}: {report.path}: {what}"[:300], file=sys.stderr)
        bar.update(1)
        if done == total:
            bar.close()

    return progress


def _say_error(report: ModelReport) -> None:
    """A model that could not be checked is one line on stderr too (and an entry in the
    report), so a CI log shows it whatever else is printed."""
    if report.error:
        print(f"namcheck: {report.error}", file=sys.stderr, flush=True)


def _tables(args: argparse.Namespace) -> Callable[[str], None]:
    """Where the text goes: stdout, or stderr when `--json -` owns stdout."""
    to_stderr = getattr(args, "json", None) == "-"
    return lambda text: print(text, file=sys.stderr if to_stderr else sys.stdout, flush=True)


# --------------------------------------------------------------------------- commands


def cmd_inspect(args: argparse.Namespace) -> int:
    """`namcheck inspect`: validate and describe files (warnings included)."""
    from namcheck.harness.divergence import runtime_divergences

    paths = _expand(args.models) if args.models else []
    infos: list[dict[str, Any]] = []
    code = EXIT_OK
    for path in paths or [None]:
        try:
            model = read_nam(path) if path else builtin_model()
        except BAD_INPUT_ERRORS as exc:
            code = EXIT_BAD_INPUT
            infos.append({"path": str(path), "error": str(exc)})
            print(f"namcheck: {exc}", file=sys.stderr)
            continue
        info = describe(model)
        info["warnings"] += [str(d) for d in runtime_divergences(model) if d.plays_differently]
        infos.append(info)
        if not args.json:
            print(f"== {model.source}")
            print(format_text(info))
    if args.json:
        print(json.dumps(infos, indent=2))
    return code


def cmd_render(args: argparse.Namespace) -> int:
    """`namcheck render`: run a model over an audio file and write the output."""
    if args.block is not None:
        _positive_int("--block", args.block)
    output_format(args.output)
    check_output(args.output, [args.model, args.input], "OUT")
    device = _device(args.device)
    if args.slim is not None:
        _finite("--slim", args.slim, 0.0, 1.0)
    model: NamModel = read_nam(args.model)
    samples, rate = read_mono(args.input)
    if model.sample_rate is not None and rate != model.sample_rate:
        raise BadInputError(
            f"{args.input}: sample rate {rate} Hz differs from the model's "
            f"{model.sample_rate:g} Hz ({args.model})"
        )
    net, choice = load_engine(model, args.engine, dtype=DTYPES[args.dtype], device=device,
                              slim=args.slim)
    if net.out_channels != 1:
        raise BadInputError(f"{args.model}: the model has {net.out_channels} outputs; "
                            "render writes mono")
    x = torch.from_numpy(samples)
    step = args.block or OFFLINE_CHUNK  # offline: chunks carrying state, the same output
    live = (sys.stderr.isatty() or bool(os.environ.get("NAMCHECK_PROGRESS"))) and (
        len(x) > 10 * rate)
    if args.block or live:
        stream, pieces = net.stream(), []
        for i in range(0, len(x), step):
            pieces.append(stream.process(x[i : i + step]))
            if live and (i // step) % max(1, (1 << 16) // step) == 0:
                done = min(len(x), i + step)
                print(f"\rrender: {100 * done / len(x):5.1f}% ({done / rate:.1f} of "
                      f"{len(x) / rate:.1f} s)", end="", file=sys.stderr, flush=True)
        if live:
            print(file=sys.stderr)
        y = torch.cat(pieces)
    else:
        y = net(x)
    out = y.detach().cpu().numpy().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        print(f"namcheck: {args.model}: the output is not finite (sample {bad[0]} is "
              f"{out[bad[0]]}, {bad.size} non-finite samples); {args.output} not written",
              file=sys.stderr)
        return EXIT_FAILED
    clipped = write_mono(args.output, out, rate)
    peak = float(np.max(np.abs(out)))
    note = f"; {clipped} samples clipped to [-1, 1] by the integer format" if clipped else ""
    engine = choice.name + (f" ({choice.note})" if choice.note else "")
    print(f"{args.output}: {out.size} samples at {rate} Hz, peak {peak:.6g}{note}; "
          f"engine {engine}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """`namcheck verify`: a hook's claims, checked by running each model."""
    scales = args.scale or [0.5, 2.0]
    if args.hook == "reference":
        for s in scales:
            _scale_argument("--scale", s)
    elif not upstream_available():
        raise BadInputError("--hook upstream: neural-amp-modeler is not installed "
                            "(pip install 'namcheck[upstream]')")
    paths = _expand(args.models) if args.models else []
    _json_target(args, paths)
    _plots_folder(args)
    signal, opts = _signal(args), _options(args)
    context = run_context(opts.device, opts.dtype, opts.engine)
    show = _tables(args)
    show(f"signal: {signal.name}; dtype {args.dtype}, device {opts.device}, hook {args.hook}, "
         f"scales {', '.join(f'{s:g}' for s in scales)}")
    reports: list[ModelReport] = []
    for path in paths or [None]:
        name = str(path) if path else "<built-in>"
        reports.append(guarded(name, lambda p=path: verify_model(
            read_nam(p) if p else builtin_model(), scales, args.hook, signal, opts)))
        _say_error(reports[-1])
        show(format_table(reports[-1]))
    if args.json:
        write_json(json_document(reports, "verify", signal, context, hook=args.hook,
                                 scales=scales, slim=opts.slim, gain=opts.with_gain,
                                 fail_above_db=opts.fail_above_db), args.json)
    if args.plots:
        write_plots("shift", reports, signal, opts, args.plots, _tables(args))
    return exit_code(reports)


def cmd_scale(args: argparse.Namespace) -> int:
    """`namcheck scale`: the reference hook on a file, verified, then written."""
    _scale_argument("--by", args.by)
    if not args.in_place:
        check_output(args.output, [args.model, *([args.signal] if args.signal else [])], "-o")
    else:
        check_output(args.output, [], "-o")
    model = read_nam(args.model)
    scaled = scale_output(model, args.by, force=args.force)
    signal, opts = _signal(args), _options(args)
    # Verified in memory first: the file written is exactly this hooked model.
    report = verify_model(model, [args.by], "reference", signal, opts)
    report.path = str(args.output)
    write_nam(scaled, args.output)
    print(f"wrote {args.output}: {_scaled_summary(model, scaled, args.by)}")
    print(format_table(report))
    return exit_code([report])


def _scaled_summary(before: NamModel, after: NamModel, scale: float) -> str:
    def db(value: float | None) -> str:
        return "none stored" if value is None else f"{value:.4f} dB"

    parts = [f"scale x{scale:g}"]
    if after.head_scale is not None and before.head_scale is not None:
        parts.append(f"head_scale {before.head_scale:.6g} -> {after.head_scale:.6g}")
    parts.append(f"loudness {db(before.loudness)} -> {db(after.loudness)}")
    return ", ".join(parts)


def cmd_audit(args: argparse.Namespace) -> int:
    """`namcheck audit`: files as they are."""
    files = _expand(args.paths)
    _positive_int("--workers", args.workers, 64)
    _json_target(args, files)
    _plots_folder(args)
    signal, opts = _signal(args), _options(args)
    context = run_context(opts.device, opts.dtype, opts.engine)
    show = _tables(args)
    show(f"signal: {signal.name}; {len(files)} files")
    if args.timeout is not None:
        _finite("--timeout", args.timeout, 0.0, low_open=True)
    if args.results is not None:
        check_output(args.results, files, "--results")
    if args.scheduler is not None and (args.timeout is not None or args.workers != 1):
        raise BadInputError("--scheduler: the cluster's own workers run the files; "
                            "--workers and --timeout are for a local audit")
    reports = run_audit(files, signal, opts, args.workers, _audit_progress(len(files)),
                        args.results, args.timeout, args.scheduler)
    for report in reports:
        show(format_table(report))
    counts = summary_counts(reports)
    show(f"audit: {len(reports)} files: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if args.json:
        write_json(json_document(reports, "audit", signal, context, gain=opts.with_gain,
                                 workers=args.workers, fail_above_db=opts.fail_above_db),
                   args.json)
    if args.plots:
        write_plots("slims", reports, signal, opts, args.plots, _tables(args))
    return exit_code(reports)


def cmd_compare(args: argparse.Namespace) -> int:
    """`namcheck compare`: upstream's forward or a render vs the reference."""
    paths = _expand(args.models)
    pair = (args.render is None and not args.upstream and len(args.models) == 2
            and not any(p.is_dir() for p in args.models))
    if args.render is not None:
        if args.upstream:
            raise BadInputError("--render and --upstream: give one of them")
        if len(paths) != 1 or not args.signal:
            raise BadInputError("--render: give exactly one MODEL and the --signal it rendered")
    elif pair:
        if args.plots:
            raise BadInputError("--plots: not drawn for A vs B (compare each with --render)")
    elif len(paths) > 1 and not args.upstream:
        raise BadInputError("compare: two models are compared with each other (A.nam B.nam);"
                            " for several models vs upstream's PyTorch add --upstream")
    else:
        upstream_loader()  # one line saying how to install it, before any work
    _json_target(args, [*paths, *([args.render] if args.render else [])])
    _plots_folder(args)
    signal, opts = _signal(args), _options(args)
    context = run_context(opts.device, opts.dtype, opts.engine)
    show = _tables(args)
    subject = (f"render {args.render}" if args.render else
               f"{paths[1]} with {paths[0]} (A vs B)" if pair else "upstream's PyTorch model")
    show(f"signal: {signal.name}; comparing {subject}" + (
        "" if pair else " with namcheck's reference") + f" ({args.dtype})")
    reports: list[ModelReport] = []
    if pair:
        reports.append(guarded(f"{paths[0]} vs {paths[1]}", lambda: compare_models(
            read_nam(paths[0]), read_nam(paths[1]), signal, opts)))
        _say_error(reports[-1])
        show(format_table(reports[-1]))
        paths = []

    def work(path: Path) -> ModelReport:
        if args.render is not None:
            return compare_render(read_nam(path), args.render, signal, opts)
        return compare_upstream(read_nam(path), signal, opts)

    for path in paths:
        reports.append(guarded(str(path), lambda p=path: work(p)))
        _say_error(reports[-1])
        show(format_table(reports[-1]))
    if args.json:
        write_json(json_document(reports, "compare", signal, context, subject=subject,
                                 render=str(args.render) if args.render else None,
                                 fail_above_db=opts.fail_above_db), args.json)
    if args.plots:
        write_plots("compare", reports, signal, opts, args.plots, _tables(args), args.render)
    return exit_code(reports)


def cmd_stamp(args: argparse.Namespace) -> int:
    """`namcheck stamp`: write measured loudness/gain metadata."""
    if args.in_place == (args.output is not None) and not args.dry_run:
        raise BadInputError("stamp: give exactly one of -o DIR and --in-place (or --dry-run)")
    found = _expand_with_roots(args.paths)
    if args.output is not None and not args.dry_run:
        _output_folder(args.output)
    plans = plan_outputs(found, None if args.dry_run else args.output,
                               args.in_place and not args.dry_run)
    _json_target(args, [p.source for p in plans])
    signal, opts = _signal(args), _options(args)
    require_standard_input(signal)
    context = run_context(opts.device, opts.dtype, opts.engine)
    show = _tables(args)
    show(f"signal: {signal.name}; {len(plans)} files"
         + ("; dry run: nothing is written" if args.dry_run else ""))
    reports: list[ModelReport] = []
    for plan in plans:
        reports.append(stamp_file(plan, signal, opts))
        _say_error(reports[-1])
        report = reports[-1]
        target = f" -> {plan.output}" if plan.output and plan.output != plan.source else ""
        show(f"== {plan.source}{target}")
        for change in report.changes:
            show(f"   {change}")
        if not report.changes and not report.error:
            show("   already correct: nothing to change")
        if report.status != "passed":
            show(format_table(report))
    if args.json:
        write_json(json_document(reports, "stamp", signal, context, dry_run=args.dry_run,
                                 in_place=args.in_place, output=str(args.output or "") or None,
                                 gain=opts.with_gain), args.json)
    return exit_code(reports)


def _output_folder(folder: Path) -> None:
    """-o DIR: an existing writable folder, or one we can create in an existing folder."""
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"-o {folder}: is a file, expected a folder")
    if not folder.exists():
        check_output(folder, [], "-o")  # its parent must exist and be writable
        try:
            folder.mkdir()
        except OSError as exc:
            raise BadInputError(f"-o {folder}: cannot create: {exc.strerror}") from None
    check_output(folder / "probe", [], "-o")


def _expand_with_roots(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Like _expand, keeping the folder each file was found under (for -o DIR layout)."""
    out: list[tuple[Path, Path]] = []
    for root in paths:
        if root.is_dir():
            out.extend((f, root) for f in _expand([root]))
        else:
            out.append((root, root))
    return out


def cmd_plot(args: argparse.Namespace) -> int:
    """`namcheck plot`: one figure as PNG."""
    from namcheck.harness import plot  # (no API function of this name)

    plot.pyplot()  # the extra is installed, or one line saying how
    out = args.output or Path(f"{args.model.stem}.{args.kind}.png")
    if out.suffix.lower() != ".png":
        raise BadInputError(f"-o {out}: plots are written as .png")
    inputs = [args.model, *([args.signal] if args.signal else []),
              *([args.render] if args.render else [])]
    check_output(out, inputs, "-o")
    if args.render is not None and (args.kind != "compare" or not args.signal):
        raise BadInputError("--render: only with 'plot compare', and with the --signal it "
                            "rendered")
    model = read_nam(args.model)
    signal, opts = _signal(args), _options(args)
    if args.kind == "shift":
        written = plot.plot_shift(model, signal, opts, out)
    elif args.kind == "slims":
        written = plot.plot_slims(model, signal, opts, out)
    else:
        written = plot.plot_compare(model, signal, opts, out, args.render)
    print(f"wrote {written}")
    return EXIT_OK


def _plots_folder(args: argparse.Namespace) -> None:
    if getattr(args, "plots", None) is not None:
        from namcheck.harness import plot  # (no API function of this name)

        plot.pyplot()
        _output_folder(args.plots)


def cmd_conform(args: argparse.Namespace) -> int:
    """`namcheck conform`: the conformance suite against a runtime's command template."""
    from namcheck.harness import conform

    if args.schema:
        from namcheck.harness.conform.schema import json_schema as conform_schema

        print(json.dumps(conform_schema(), indent=2))
        return EXIT_OK
    if args.list:
        print(conform.list_suite(args.only or [], args.case or []))
        return EXIT_OK
    if not args.runtime:
        raise BadInputError("conform: --runtime 'CMD {model} {input} {output}' is required")
    jobs = (_positive_int("--jobs", args.jobs, 1024) if args.jobs is not None
            else conform.default_jobs())
    timeout = _finite("--timeout", args.timeout, 0.0, low_open=True)
    opts = conform.ConformOptions(args.runtime, args.slim_arg, args.block_arg, args.output,
                                  args.json, args.markdown, args.plots, args.only or [],
                                  args.case or [], jobs, timeout)
    conform.validate(opts)  # the template and the selection, before anything is written
    for flag, target in (("--json", args.json), ("--markdown", args.markdown)):
        if target:
            check_output(target, [], flag)
    if args.output is not None:
        _output_folder(args.output)
    _plots_folder(args)
    return conform.run_conform(opts, _tables(args))


def cmd_schema(args: argparse.Namespace) -> int:
    """`namcheck schema`: print the reports' JSON Schema."""
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """`namcheck bench`: speed of the forward (real-time factor, GFLOP/s)."""
    _positive_int("--threads", args.threads, os.cpu_count() or 1)
    _positive_int("--repeats", args.repeats, 1000)
    _finite("--seconds", args.seconds, 0.0, 600.0, low_open=True)
    device = _device(args.device)
    if args.slim is not None:
        _finite("--slim", args.slim, 0.0, 1.0)
    model = read_nam(args.model) if args.model else builtin_model()
    samples = int((model.sample_rate or 48000.0) * args.seconds)
    _positive_int("--block", args.block, max(1, samples))
    if args.core is not None and not os.access(args.core, os.X_OK):
        raise BadInputError(f"--core {args.core}: not an executable file")
    print(bench_module.bench(model, dtype=DTYPES[args.dtype], device=device,
                             threads=args.threads, block=args.block, seconds=args.seconds,
                             repeats=args.repeats, compile=args.compile,
                             upstream=args.upstream, engine=args.engine, slim=args.slim,
                             core=str(args.core) if args.core else None,
                             model_path=str(args.model) if args.model else None))
    return EXIT_OK


# --------------------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'namcheck verify: --scale: invalid float value'."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32",
                   help="forward precision (default float32, as plugins run)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")


def _add_engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=list(ENGINES), default="auto",
                   help="forward engine: auto (default: the fast C engine where it covers the "
                   "model in float32 on the CPU, else the reference), fast (the same, "
                   "naming the reason wherever the reference stands in), reference (PyTorch, "
                   "float32/float64, CPU/CUDA)")


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("limits (checked before anything large is allocated; "
                             "see models/limits.py)")
    g.add_argument("--max-file-mb", type=float, metavar="MB", help="largest .nam file (64)")
    g.add_argument("--max-nesting", type=int, metavar="N",
                   help="deepest nesting of containers / condition DSPs (16)")
    g.add_argument("--max-receptive-field", type=int, metavar="SAMPLES",
                   help="largest receptive field (1048576)")
    g.add_argument("--max-parameters", type=int, metavar="N", help="most weights (16777216)")
    g.add_argument("--max-layers", type=int, metavar="N",
                   help="most layers (dilations) in a model (4096)")
    g.add_argument("--max-signal-seconds", type=float, metavar="S",
                   help="longest input signal (3600)")


def _add_run_options(p: argparse.ArgumentParser, slim: bool = True) -> None:
    p.add_argument("--signal", type=Path, metavar="WAV",
                   help="mono WAV at the model's rate. Stored loudness and gain are compared "
                   "only on NAM's standard loudness input, recognised by its samples; "
                   "default: the copy in an installed neural-amp-modeler, else a built-in "
                   "generated signal")
    p.add_argument("--standard-input", action="store_true",
                   help="treat --signal as NAM's standard loudness input although its "
                   "samples differ (e.g. a resampled copy)")
    p.add_argument("--builtin-signal", action="store_true",
                   help="use the built-in generated signal even where NAM's standard input "
                   "is installed (stored loudness is then not compared)")
    _add_device_options(p)
    if slim:
        p.add_argument("--slim", type=float, default=None,
                       help="slim value in [0, 1] for slimmable models; default full size")
    p.add_argument("--no-gain", action="store_true",
                   help="skip the gain heuristic (11 extra forwards per model)")
    p.add_argument("--fail-above-db", type=float, metavar="X",
                   help="level checks (unit dB) fail only when their error exceeds X dB "
                   "(default: any error beyond the derived rounding bound fails)")
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
    parser.add_argument("--version", action="version", version=f"namcheck {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser("inspect", help="show what a .nam file holds and validate it",
                       description="Validate .nam files (or every .nam in a folder) and "
                       "print architecture, version, sample rate, parameter count, receptive "
                       "field, head_scale (config and weights tail), loudness/gain metadata, "
                       "each container submodel, and warnings (features the runtime and "
                       "upstream's PyTorch play differently). With no file, inspects the "
                       "built-in example model. --json prints a list.")
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL.nam")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    _add_limit_options(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("render", help="run a model over a mono audio file",
                       description="Run MODEL over IN (mono, at the model's sample rate) "
                       "with zero history before the first sample, and write OUT atomically "
                       "(format from the extension: .wav float32, .flac 24-bit, ...). A "
                       "non-finite output is refused (exit 1, nothing written).")
    p.add_argument("model", type=Path, metavar="MODEL.nam")
    p.add_argument("input", type=Path, metavar="IN.wav")
    p.add_argument("output", type=Path, metavar="OUT.wav")
    p.add_argument("--slim", type=float, default=None,
                   help="slim value in [0, 1] (slimmable WaveNet / container); default full size")
    _add_device_options(p)
    _add_engine_option(p)
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
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL.nam")
    p.add_argument("--scale", type=float, action="append", metavar="S",
                   help="scale to apply (repeatable; default 0.5 and 2). The reference hook "
                   "refuses s <= 0, NaN and Inf; upstream's hook is given any value")
    p.add_argument("--hook", choices=["reference", "upstream"], default="reference",
                   help="namcheck's reference hook, or upstream's _ScaleOutputHook "
                   "(needs the 'upstream' extra)")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="write the loudness-shift plot of each model into DIR ('plot' extra)")
    _add_run_options(p)
    _add_engine_option(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("scale", help="apply the reference hook to a file, verify, write",
                       description="Scale MODEL's output by S (head_scale and weights[-1], "
                       "loudness + 20*log10(S)), verify the result by measurement, then write "
                       "OUT atomically.")
    p.add_argument("model", type=Path, metavar="MODEL.nam")
    p.add_argument("--by", type=float, required=True, metavar="S")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.nam")
    p.add_argument("--force", action="store_true",
                   help="scale a model with a post-stack head anyway (the closed form fails)")
    p.add_argument("--in-place", action="store_true", help="allow OUT to be MODEL")
    _add_run_options(p, slim=False)
    _add_engine_option(p)
    p.set_defaults(func=cmd_scale, slim=None)

    p = sub.add_parser("audit", help="check existing .nam files as they are",
                       description="For every .nam under the paths: the output is finite and "
                       "audible, stored vs measured loudness and gain (on NAM's standard "
                       "input: --signal, or found in an installed neural-amp-modeler), "
                       "container metadata vs its top submodel, and the level a host sets at "
                       "each slim; measured loudness and gain are reported for every model. "
                       "A bad file is reported, never stops the audit.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="parallel processes (default 1)")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="write the per-slim level plot of each container into DIR ('plot' "
                   "extra)")
    p.add_argument("--results", type=Path, metavar="FILE.jsonl",
                   help="append each file's result as it finishes; rerun with the same file "
                   "to skip those already done (matched by content hash)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="per-file limit in seconds: a file that hangs (or crashes) its worker "
                   "process becomes an error entry")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786 (the "
                   "'dask' extra); the results file and report are the same")
    _add_run_options(p, slim=False)
    _add_engine_option(p)
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
    p.add_argument("models", nargs="+", type=Path, metavar="MODEL.nam")
    p.add_argument("--upstream", action="store_true",
                   help="compare each model with upstream's PyTorch model (the meaning of a "
                   "single MODEL; needed for several)")
    p.add_argument("--render", type=Path, metavar="OUT.wav",
                   help="a render of --signal by another implementation to judge")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--plots", type=Path, metavar="DIR",
                   help="write the overlay/difference/spectra plot of each model into DIR "
                   "('plot' extra)")
    _add_run_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("plot", help="draw a figure (the 'plot' extra, matplotlib)",
                       description="shift: measured vs closed-form loudness shift over scales "
                       "1e-3..1e3 with the error and its tolerance; slims: a container's "
                       "stored loudness vs the measured loudness of the submodel playing at "
                       "each slim; compare: reference vs upstream's output (or --render), "
                       "overlay, difference and spectra. Written as PNG.")
    p.add_argument("kind", choices=["shift", "slims", "compare"])
    p.add_argument("model", type=Path, metavar="MODEL.nam")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.png",
                   help="default: MODEL-stem.KIND.png in the current folder")
    p.add_argument("--render", type=Path, metavar="WAV",
                   help="compare: a render of --signal instead of upstream's output")
    _add_run_options(p)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("stamp", help="write measured loudness/gain into .nam files",
                       description="Measure each model (and container submodel) on NAM's "
                       "standard loudness input, in float32, and write metadata.loudness and "
                       "metadata.gain where they are missing or wrong beyond the derived "
                       "tolerance; a container's own values become its top submodel's. Every "
                       "other key and weight stays exactly as it was. Writes atomically into "
                       "-o DIR (keeping each file's path below the folder given), or over the "
                       "inputs with --in-place; --dry-run prints before -> after only.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("-o", "--output", type=Path, metavar="DIR", help="folder to write into")
    p.add_argument("--in-place", action="store_true", help="rewrite the inputs themselves")
    p.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout only)")
    p.add_argument("--signal", type=Path, metavar="WAV",
                   help="NAM's standard loudness input (default: the copy in an installed "
                   "neural-amp-modeler; stamp refuses any other signal)")
    p.add_argument("--standard-input", action="store_true",
                   help="treat --signal as NAM's standard input although its samples differ")
    p.add_argument("--no-gain", action="store_true", help="stamp loudness only")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]; the forward "
                   "runs in float32, as NAM defines the stored loudness")
    _add_engine_option(p)
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
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
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
                       "share of this machine's float32 matmul peak, measured in the same run. "
                       "With --upstream, the same for upstream nam's forward on the same file.")
    p.add_argument("model", nargs="?", type=Path, metavar="MODEL.nam",
                   help="default: the built-in model")
    _add_device_options(p)
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: compare ratios on a pinned core)")
    p.add_argument("--block", type=int, default=64, metavar="N",
                   help="streaming block size in samples (default 64)")
    p.add_argument("--seconds", type=float, default=1.0,
                   help="audio length in seconds, in (0, 600] (default 1)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed runs per measurement; the median is reported (default 5)")
    p.add_argument("--compile", action="store_true",
                   help="add a row for streaming through torch.compile (compiles for tens of "
                   "seconds first)")
    p.add_argument("--upstream", action="store_true",
                   help="add a row for upstream nam's forward (needs the 'upstream' extra)")
    p.add_argument("--slim", type=float, default=None,
                   help="slim value in [0, 1] for a slimmable model or container")
    p.add_argument("--core", type=Path, metavar="BENCHMODEL",
                   help="NeuralAmpModelerCore's built benchmodel, timed on the same file in "
                   f"the same run (default: ${bench_module.CORE_ENV} when set)")
    _add_engine_option(p)
    _add_limit_options(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (harness/errors.py)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _apply_limits(args)
        return int(args.func(args))
    except (*BAD_INPUT_ERRORS, HookRefusedError) as exc:
        print(f"namcheck: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print(f"namcheck {args.command}: out of memory (see the limit options in --help)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("namcheck: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("NAMCHECK_DEBUG"):
            raise
        print(f"namcheck {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(NAMCHECK_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
