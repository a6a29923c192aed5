"""The `namcheck` command line. Exit codes: 0 ok, 1 a check failed, 2 bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch

from namcheck.harness.bench import (
    SpeedRow,
    format_rows,
    matmul_peak_gflops,
    offline_rtf,
    stream_rtf,
)
from namcheck.harness.hooks import (
    HookRefusedError,
    check_scale,
    scale_output,
    upstream_available,
)
from namcheck.harness.inspect_report import describe, format_text
from namcheck.harness.report import format_table, json_document, write_json
from namcheck.harness.verify import (
    ModelReport,
    Options,
    Signal,
    audit_model,
    standard_input_path,
    verify_model,
)
from namcheck.models import NamFileError, load, read_nam, write_nam
from namcheck.models.examples import builtin_model
from namcheck.models.layout import flops_per_sample
from namcheck.models.nam_file import NamModel
from namcheck.signals.generate import default_signal
from namcheck.signals.wav import SignalError, read_mono, write_mono

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class BadInputError(Exception):
    """Reported as one line on stderr, exit 2."""


def _device(name: str) -> str:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInputError(f"--device {name}: CUDA is not available on this machine")
    return name


def cmd_inspect(args: argparse.Namespace) -> int:
    models = [read_nam(p) for p in args.models] if args.models else [builtin_model()]
    infos = []
    for model in models:
        infos.append(describe(model))
        if not args.json:
            if len(models) > 1 or not args.models:
                print(f"== {model.source}")
            print(format_text(infos[-1]))
    if args.json:
        print(json.dumps(infos[0] if len(infos) == 1 else infos, indent=2))
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    model: NamModel = read_nam(args.model)
    samples, rate = read_mono(args.input)
    if model.sample_rate is not None and rate != model.sample_rate:
        raise BadInputError(
            f"{args.input}: sample rate {rate} Hz differs from the model's "
            f"{model.sample_rate:g} Hz ({args.model})"
        )
    if args.slim is not None and not 0.0 <= args.slim <= 1.0:
        raise BadInputError(f"--slim {args.slim}: expected a value in [0, 1]")
    net = load(model, dtype=DTYPES[args.dtype], device=_device(args.device), slim=args.slim)
    x = torch.from_numpy(samples)
    if args.block:
        stream = net.stream()
        blocks = [stream.process(x[i : i + args.block]) for i in range(0, len(x), args.block)]
        y = torch.cat(blocks) if blocks else x[:0]
    else:
        y = net(x)
    if y.dim() != 1:
        raise BadInputError(f"{args.model}: the model has {y.shape[0]} outputs; render writes mono")
    out = y.detach().cpu().numpy().astype(np.float64)
    write_mono(args.output, out, rate)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    print(f"{args.output}: {out.size} samples at {rate} Hz, peak {peak:.6g}")
    return EXIT_OK


def _signal(args: argparse.Namespace, find_standard: bool = False) -> Signal:
    """--signal, else (audit) NAM's input from an installed nam, else the built-in one."""
    if args.signal:
        return Signal.from_wav(args.signal)
    path = standard_input_path() if find_standard else None
    return Signal.from_wav(path) if path else Signal.default()


def _options(args: argparse.Namespace) -> Options:
    slim = getattr(args, "slim", None)
    if slim is not None and not 0.0 <= slim <= 1.0:
        raise BadInputError(f"--slim {slim}: expected a value in [0, 1]")
    return Options(DTYPES[args.dtype], _device(args.device), slim, not args.no_gain)


def cmd_verify(args: argparse.Namespace) -> int:
    scales = args.scale or [0.5, 2.0]
    for s in scales:
        check_scale(s)
    if args.hook == "upstream" and not upstream_available():
        raise BadInputError("--hook upstream: neural-amp-modeler is not installed "
                            "(pip install 'namcheck[upstream]')")
    signal, opts = _signal(args), _options(args)
    models = [read_nam(p) for p in args.models] if args.models else [builtin_model()]
    print(f"signal: {signal.name}; dtype {args.dtype}, device {opts.device}, hook {args.hook}, "
          f"scales {', '.join(f'{s:g}' for s in scales)}")
    reports = []
    for model in models:
        reports.append(verify_model(model, scales, args.hook, signal, opts))
        print(format_table(reports[-1]))
    doc = json_document(reports, signal=signal.name, dtype=args.dtype, hook=args.hook,
                        scales=scales)
    if args.json:
        write_json(doc, args.json)
    return EXIT_OK if doc["passed"] else EXIT_FAILED


def cmd_scale(args: argparse.Namespace) -> int:
    model = read_nam(args.model)
    if Path(args.output).resolve() == Path(args.model).resolve() and not args.in_place:
        raise BadInputError(f"-o {args.output} is the input file; add --in-place to overwrite")
    scaled = scale_output(model, args.by, force=args.force)
    write_nam(scaled, args.output)
    if read_nam(args.output).data != scaled.data:
        raise BadInputError(f"{args.output}: the file read back differs from what was written")
    print(f"wrote {args.output}: head_scale x {args.by:g}, loudness "
          f"{model.loudness} -> {scaled.loudness}")
    # The written file is exactly the hooked model, so verifying the hook verifies the file.
    report = verify_model(model, [args.by], "reference", _signal(args), _options(args))
    report.path = str(args.output)
    print(format_table(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_audit(args: argparse.Namespace) -> int:
    files: list[Path] = []
    for root in args.paths:
        if root.is_dir():
            files.extend(sorted(root.rglob("*.nam")))
        elif root.exists():
            files.append(root)
        else:
            raise BadInputError(f"{root}: no such file or folder")
    if not files:
        raise BadInputError(f"no .nam files under {', '.join(map(str, args.paths))}")
    signal, opts = _signal(args, find_standard=True), _options(args)
    print(f"signal: {signal.name}; {len(files)} files")
    reports = run_audit(files, signal, opts, args.workers)
    for report in reports:
        print(format_table(report))
    bad = sum(not r.passed for r in reports)
    print(f"audit: {len(reports)} files, {len(reports) - bad} passed, {bad} with findings")
    if args.json:
        write_json(json_document(reports, signal=signal.name, dtype=args.dtype), args.json)
    return EXIT_OK if bad == 0 else EXIT_FAILED


def run_audit(files: list[Path], signal: Signal, opts: Options, workers: int
              ) -> list[ModelReport]:
    """Audit files (in parallel processes if workers > 1), a progress line on stderr."""
    reports: list[ModelReport | None] = [None] * len(files)

    def progress(done: int, path: Path) -> None:
        if sys.stderr.isatty() or os.environ.get("NAMCHECK_PROGRESS"):
            print(f"\r[{done}/{len(files)}] {path}"[:120].ljust(120), end="", file=sys.stderr)

    if workers <= 1:
        for i, path in enumerate(files):
            reports[i] = audit_model(path, signal, opts)
            progress(i + 1, path)
    else:
        with ProcessPoolExecutor(workers, initializer=torch.set_num_threads,
                                 initargs=(1,)) as pool:
            futures = {pool.submit(audit_model, p, signal, opts): i for i, p in enumerate(files)}
            for done, future in enumerate(as_completed(futures), 1):
                i = futures[future]
                try:
                    reports[i] = future.result()
                except Exception as exc:  # one bad file never stops the audit
                    reports[i] = ModelReport(str(files[i]), None, error=f"{files[i]}: {exc}")
                progress(done, files[i])
    if sys.stderr.isatty() or os.environ.get("NAMCHECK_PROGRESS"):
        print(file=sys.stderr)
    return [r for r in reports if r is not None]


def cmd_bench(args: argparse.Namespace) -> int:
    if args.threads < 1 or args.block < 1:
        raise BadInputError("--threads and --block must be >= 1")
    torch.set_num_threads(args.threads)
    device, dtype = _device(args.device), DTYPES[args.dtype]
    model = read_nam(args.model) if args.model else builtin_model()
    rate = model.sample_rate or 48000.0
    n = int(rate * args.seconds)
    reps = -(-n // int(rate))  # whole default signals to cover the requested length
    x = torch.from_numpy(default_signal(int(rate))).repeat(reps)[:n].to(device, dtype)
    net = load(model, dtype=dtype, device=device)
    flops = flops_per_sample(model)
    peak = matmul_peak_gflops(device, torch.float32)
    off = offline_rtf(net, x, rate, device, args.repeats)
    stream = stream_rtf(net, x, args.block, rate, device, max(1, args.repeats // 2))
    gflops = flops * rate * off / 1e9
    rows = [SpeedRow("namcheck (reference)", off, stream, gflops, 100 * gflops / peak)]
    if args.compile:
        fast = stream_rtf(net, x, args.block, rate, device, max(1, args.repeats // 2), True)
        rows.append(SpeedRow("namcheck stream(compile)", None, fast, flops * rate * fast / 1e9,
                             100 * flops * rate * fast / 1e9 / peak,
                             "torch.compile per block (compile time not counted)"))
    if args.upstream:
        rows.append(upstream_row(model, x, rate, device, dtype, args.repeats, flops, peak))
    header = (f"model: {model.source} ({model.architecture}, {flops} FLOP/sample); "
              f"{x.shape[-1] / rate:g} s at {rate:g} Hz; {args.dtype} on {device}, "
              f"{args.threads} thread(s); stream block {args.block}; float32 matmul peak "
              f"{peak:.1f} GFLOP/s; torch {torch.__version__}")
    print(format_rows(rows, header))
    return EXIT_OK


def upstream_row(model: NamModel, x: torch.Tensor, rate: float, device: str,
                 dtype: torch.dtype, repeats: int, flops: int, peak: float) -> SpeedRow:
    """Upstream nam's own forward on the same file (pad_start: zero history, like ours)."""
    try:
        from nam.models import init_from_nam  # type: ignore[import-not-found]

        up = init_from_nam(model.to_dict()).to(device=device, dtype=dtype).eval()
    except Exception as exc:
        return SpeedRow("upstream nam", None, None, None, None,
                        f"n/a: {type(exc).__name__}: {exc}"[:120])

    def run(signal: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return up(signal, pad_start=True)

    off = offline_rtf(run, x, rate, device, repeats)
    gflops = flops * rate * off / 1e9
    return SpeedRow("upstream nam", off, None, gflops, 100 * gflops / peak,
                    "no streaming API upstream")


def _add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")


def _add_run_options(p: argparse.ArgumentParser, slim: bool = True) -> None:
    p.add_argument("--signal", type=Path, metavar="WAV",
                   help="mono WAV at the model's rate, treated as NAM's standard loudness "
                   "input (stored loudness is compared against it); default: a built-in "
                   "generated signal, against which stored loudness is not compared")
    _add_device_options(p)
    if slim:
        p.add_argument("--slim", type=float, default=None,
                       help="slim value in [0, 1] for slimmable models; default full size")
    p.add_argument("--no-gain", action="store_true",
                   help="skip the gain heuristic (11 extra forwards per model)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="namcheck",
        description="Verify Neural Amp Modeler (.nam) models by running them: an independent "
        "reference forward pass (float32/float64, CPU/CUDA) that follows the C++ runtime.",
        epilog="Exit codes: 0 success, 1 a check failed, 2 bad input (one line on stderr).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", help="show what a .nam file holds and validate it",
                       description="Validate .nam files and print architecture, version, "
                       "sample rate, parameter count, receptive field, head_scale (config and "
                       "weights tail), loudness/gain metadata, and each container submodel. "
                       "With no file, inspects the built-in example model.")
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL.nam")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("render", help="run a model over a mono WAV file",
                       description="Run MODEL over IN.wav (mono, at the model's sample rate) "
                       "with zero history before the first sample, and write a float32 WAV.")
    p.add_argument("model", type=Path, metavar="MODEL.nam")
    p.add_argument("input", type=Path, metavar="IN.wav")
    p.add_argument("output", type=Path, metavar="OUT.wav")
    p.add_argument("--slim", type=float, default=None,
                   help="slim value in [0, 1] (slimmable WaveNet / container); default full size")
    _add_device_options(p)
    p.add_argument("--block", type=int, default=0, metavar="N",
                   help="process in streaming blocks of N samples, as a plugin does "
                   "(default: offline, all at once)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("verify", help="prove an output-scaling hook's claims by measurement",
                       description="Apply an output-scaling hook at each scale and check by "
                       "running the model: the measured loudness shift equals 20*log10(s), the "
                       "output scales exactly (linearity), stored loudness moved by the closed "
                       "form, gain is unchanged, head_scale config agrees with weights[-1], and "
                       "container metadata follows its top submodel. With no model, verifies "
                       "the built-in model. Exit 0 all pass, 1 a check failed, 2 bad input.")
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL.nam")
    p.add_argument("--scale", type=float, action="append", metavar="S",
                   help="scale to apply (repeatable; default 0.5 and 2)")
    p.add_argument("--hook", choices=["reference", "upstream"], default="reference",
                   help="namcheck's reference hook, or upstream's _ScaleOutputHook "
                   "(needs the 'upstream' extra)")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout)")
    _add_run_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("scale", help="apply the reference hook to a file, then verify it",
                       description="Scale MODEL's output by S (head_scale and weights[-1], "
                       "loudness + 20*log10(S)), write OUT atomically, then verify the result.")
    p.add_argument("model", type=Path, metavar="MODEL.nam")
    p.add_argument("--by", type=float, required=True, metavar="S")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.nam")
    p.add_argument("--force", action="store_true",
                   help="scale a model with a post-stack head anyway (the closed form fails)")
    p.add_argument("--in-place", action="store_true", help="allow OUT to be MODEL")
    _add_run_options(p, slim=False)
    p.set_defaults(func=cmd_scale, slim=None)

    p = sub.add_parser("audit", help="check existing .nam files as they are",
                       description="For every .nam under the paths: stored vs measured "
                       "loudness and gain (on NAM's standard input: --signal, or found in an "
                       "installed neural-amp-modeler), head_scale config vs weights[-1], "
                       "container metadata vs its top submodel. A bad file is reported, never "
                       "stops the audit.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", metavar="OUT", help="also write a JSON report ('-': stdout)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="parallel processes (default 1)")
    _add_run_options(p, slim=False)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("bench", help="measure forward speed (real-time factor, GFLOP/s)",
                       description="Time the reference forward offline (whole signal) and "
                       "streaming (blocks of --block samples), report the real-time factor "
                       "(seconds of audio per second of compute), achieved GFLOP/s and its "
                       "share of this machine's float32 matmul peak, measured in the same run. "
                       "With --upstream, the same for upstream nam's forward on the same file.")
    p.add_argument("model", nargs="?", type=Path, metavar="MODEL.nam",
                   help="default: the built-in model")
    _add_device_options(p)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--block", type=int, default=64, metavar="N")
    p.add_argument("--seconds", type=float, default=1.0, help="audio length (default 1)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", action="store_true",
                   help="add a row for streaming through torch.compile (compiles for tens of "
                   "seconds first)")
    p.add_argument("--upstream", action="store_true",
                   help="add a row for upstream nam's forward (needs the 'upstream' extra)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (NamFileError, SignalError, BadInputError, HookRefusedError) as exc:
        print(f"namcheck: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
