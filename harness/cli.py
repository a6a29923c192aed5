"""The `namcheck` command line. Exit codes: 0 ok, 1 a check failed, 2 bad input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from namcheck.harness.inspect_report import describe, format_text
from namcheck.models import NamFileError, load, read_nam
from namcheck.models.examples import builtin_model
from namcheck.models.nam_file import NamModel
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
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--block", type=int, default=0, metavar="N",
                   help="process in streaming blocks of N samples, as a plugin does "
                   "(default: offline, all at once)")
    p.set_defaults(func=cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (NamFileError, SignalError, BadInputError) as exc:
        print(f"namcheck: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
