"""`namcheck render`: run a model over a mono audio file, offline or in streaming blocks as
a plugin does, and write the output atomically. A non-finite output is refused."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from namcheck.harness.errors import EXIT_FAILED, EXIT_OK, BadInputError
from namcheck.models.engines import Engine, load_engine
from namcheck.models.format import read_nam
from namcheck.models.reference.base import OFFLINE_CHUNK
from namcheck.models.slimming import slim_description
from namcheck.signals.wav import read_mono, write_mono


def render_file(model_path: Path, input_path: Path, output_path: Path, *,
                engine: str = "auto", dtype: torch.dtype = torch.float32, device: str = "cpu",
                slim: float | None = None, block: int | None = None) -> int:
    """Render `input_path` through the model into `output_path` (format from its
    extension); prints one line saying what was written. Returns the exit code: 0, or 1
    for a non-finite output (nothing written). BadInputError for a rate mismatch or a
    model with more than one output."""
    model = read_nam(model_path)
    for warning in model.warnings:  # what the runtime plays despite a fault: said, as inspect does
        print(f"namcheck: {model_path}: warning: {warning}", file=sys.stderr)
    samples, rate = read_mono(input_path)
    if model.sample_rate is not None and rate != model.sample_rate:
        raise BadInputError(f"{input_path}: sample rate {rate} Hz differs from the model's "
                            f"{model.sample_rate:g} Hz ({model_path})")
    net, choice = load_engine(model, engine, dtype=dtype, device=device, slim=slim)
    if net.out_channels != 1:
        raise BadInputError(f"{model_path}: the model has {net.out_channels} outputs; "
                            "render writes mono")
    out = run_over(net, torch.from_numpy(samples), rate, block)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        print(f"namcheck: {model_path}: the output is not finite (sample {bad[0]} is "
              f"{out[bad[0]]}, {bad.size} non-finite samples); {output_path} not written",
              file=sys.stderr)
        return EXIT_FAILED
    clipped = write_mono(output_path, out, rate)
    peak = float(np.max(np.abs(out)))
    note = f"; {clipped} samples clipped to [-1, 1] by the integer format" if clipped else ""
    name = choice.name + (f" ({choice.note})" if choice.note else "")
    slimmed = slim_description(model, slim)
    print(f"{output_path}: {out.size} samples at {rate} Hz, peak {peak:.6g}{note}; "
          f"engine {name}" + (f"; {slimmed}" if slimmed else ""))
    return EXIT_OK


def run_over(net: Engine, x: torch.Tensor, rate: int, block: int | None) -> np.ndarray:
    """The engine's output for `x` as float64: in `block`-sample streaming blocks, or
    offline (in chunks carrying the state: the same output); a progress line on a terminal
    for signals over 10 s."""
    step = block or OFFLINE_CHUNK
    live = (sys.stderr.isatty() or bool(os.environ.get("NAMCHECK_PROGRESS"))) and (
        len(x) > 10 * rate)
    if block or live:
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
    return y.detach().cpu().numpy().astype(np.float64)
