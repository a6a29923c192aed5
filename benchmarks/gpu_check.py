"""The reference on a GPU, measured (issue 20 item 4): run by benchmarks/gpu_check.sh.

Sections, each printed as a table and written to gpu_check.json in --out:

1. `signals`: aggregate real-time factor of NAM's A1 standard WaveNet (seeded weights,
   models/examples.py) on 1, 8, 64 and 512 one-second signals at 48 kHz in one forward,
   float32 and float64: (signals x seconds of audio) / wall seconds.
2. `audit`: a 1,000-model audit's forwards: 1,000 A1 standard models (same shape, their own
   weights) each through the gain heuristic's sweep (10 gains of a 1 s signal, plus
   silence) as `signals.levels.gain_sweeps` over a `ModelBatch`, float32, in both batched
   convolution forms; and, for scale, the same sweep model by model on the first few
   (extrapolated to 1,000). The first three models' batched levels are checked against
   their own gain_sweep (a wrong batch fails the script, exit 1).

Times are medians of timed calls after warm-up calls, with CUDA events on CUDA
(`torch.cuda.Event(enable_timing=True)`, synchronised after each call) and
`time.perf_counter` elsewhere. `--dry-run` (or NAMCHECK_GPU_DRY=1) runs every section on the
CPU at tiny sizes with no CUDA call: what CI runs (tests/test_gpu_check.py). A time budget
(--budget seconds, default 240) skips the sections that would start after it, saying so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from namcheck.models.examples import a1_doc
from namcheck.models.format import NamModel, read_nam
from namcheck.models.numerics import forward_tolerance, peak_relative_error
from namcheck.models.reference.batched import ModelBatch
from namcheck.models.reference.loader import load
from namcheck.signals.generate import default_signal
from namcheck.signals.levels import gain_sweep, gain_sweeps

RATE = 48000


@dataclasses.dataclass
class Sizes:
    preset: str  # the A1 preset measured (models/examples.py)
    signal_counts: tuple[int, ...]
    samples: int  # per signal
    models: int  # the audit's
    loop_models: int  # run one by one for scale
    warmup: int
    repeats: int


FULL = Sizes("standard", (1, 8, 64, 512), RATE, 1000, 8, 2, 5)
DRY = Sizes("nano", (1, 2), 1024, 3, 2, 1, 1)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], Any], device: torch.device, warmup: int, repeats: int
                   ) -> float:
    """Median seconds of `fn` after `warmup` untimed calls: CUDA events on CUDA."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_memory(device: torch.device) -> float | None:
    """GiB allocated at most since the last reset (CUDA), else None."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def signals(count: int, n: int) -> torch.Tensor:
    """`count` distinct signals of n samples: the built-in signal, circularly shifted."""
    base = np.resize(default_signal(), n)
    return torch.from_numpy(np.stack([np.roll(base, 997 * i) for i in range(count)]))


def section_signals(model: NamModel, sizes: Sizes, device: torch.device,
                    over: Callable[[], bool]) -> list[dict[str, Any]]:
    rows = []
    for dtype in (torch.float32, torch.float64):
        net = load(model, dtype=dtype, device=device)
        for count in sizes.signal_counts:
            if over():
                rows.append({"dtype": str(dtype)[6:], "signals": count, "skipped": "budget"})
                continue
            reset_peak(device)
            try:
                x = signals(count, sizes.samples).to(device=device, dtype=dtype)
                seconds = median_seconds(lambda net=net, x=x: net(x), device, sizes.warmup,
                                         sizes.repeats)
            except Exception as exc:  # (out of memory, say): the next size still runs
                rows.append({"dtype": str(dtype)[6:], "signals": count,
                             "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
                continue
            finally:
                x = None
            audio = count * sizes.samples / RATE
            rows.append({"dtype": str(dtype)[6:], "signals": count, "seconds": seconds,
                         "rtf": audio / seconds, "peak_gib": peak_memory(device)})
            print(f"  A1 {sizes.preset} {str(dtype)[6:]:8s} {count:4d} signals: "
                  f"{seconds * 1e3:10.2f} ms  RTF {audio / seconds:12.1f}", flush=True)
        del net
    return rows


def audit_models(preset: str, count: int) -> list[NamModel]:
    """`count` A1 models of their own weights (one parse; weights redrawn)."""
    base = read_nam(a1_doc(preset, seed=0))
    rng = np.random.default_rng(20)
    out = [base]
    for i in range(1, count):
        w = base.weights * rng.uniform(0.8, 1.2, base.weights.shape)
        w[-1] = base.weights[-1]  # head_scale
        w.setflags(write=False)
        out.append(dataclasses.replace(base, weights=w, source=f"a1_{preset}_{i}"))
    return out


def section_audit(sizes: Sizes, device: torch.device, over: Callable[[], bool]
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    models = audit_models(sizes.preset, sizes.models)
    x = signals(1, sizes.samples)[0]
    forwards = len(models) * 10 * sizes.samples / RATE  # seconds of audio through models
    dtype = torch.float32
    reference = [gain_sweep(load(m, dtype=torch.float64), x) for m in models[:3]]
    for conv in ("matmul", "torch"):
        if over():
            rows.append({"form": f"batched ({conv})", "skipped": "budget"})
            continue
        t0 = time.perf_counter()
        batch = ModelBatch(models, dtype=dtype, device=device, conv=conv)
        built = time.perf_counter() - t0
        reset_peak(device)
        result: list[Any] = []

        def run(batch: ModelBatch = batch, result: list[Any] = result) -> None:
            result[:] = gain_sweeps(batch, x)

        seconds = median_seconds(run, device, 1, max(1, sizes.repeats // 2))
        per_launch, piece = batch.plan(10, sizes.samples)
        rows.append({"form": f"batched ({conv})", "models": len(models), "seconds": seconds,
                     "rtf": forwards / seconds, "build_seconds": built,
                     "models_per_launch": per_launch, "samples_per_launch": piece,
                     "peak_gib": peak_memory(device)})
        print(f"  audit {len(models)} models, batched ({conv}): {seconds:8.3f} s  RTF "
              f"{forwards / seconds:12.1f}  (build {built:.2f} s, {per_launch} models x "
              f"{piece} samples per launch)", flush=True)
        for m, (out1, levels1) in enumerate(reference):
            out, levels = result[m]
            bound = forward_tolerance(models[m], dtype) + forward_tolerance(models[m],
                                                                          torch.float64)
            err = peak_relative_error(out, out1)
            crest = float(out1.abs().max()) / levels1[-1]
            lv = max(abs(a / b - 1) for a, b in zip(levels, levels1, strict=True) if b > 0)
            if not (err <= bound and lv <= 2 * crest * bound):
                problems.append(f"batched ({conv}) model {m}: output error {err:.3g} "
                                f"(bound {bound:.3g}), level error {lv:.3g}")
        del batch, result
    if over():
        rows.append({"form": "one by one", "skipped": "budget"})
        return rows, problems
    loop = models[: sizes.loop_models]

    def one_by_one() -> None:
        for m in loop:
            gain_sweep(load(m, dtype=dtype, device=device), x)

    seconds = median_seconds(one_by_one, device, 1, 1) * len(models) / len(loop)
    rows.append({"form": f"one by one ({len(loop)} timed, scaled)", "models": len(models),
                 "seconds": seconds, "rtf": forwards / seconds})
    print(f"  audit {len(models)} models, one by one: {seconds:8.3f} s (from {len(loop)})",
          flush=True)
    return rows, problems


def table(name: str, rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)
    lines = [f"### {name}", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true",
                   default=os.environ.get("NAMCHECK_GPU_DRY", "") not in ("", "0"),
                   help="CPU, tiny sizes, no CUDA call (CI)")
    p.add_argument("--out", type=Path, default=Path("."), help="folder for gpu_check.json")
    p.add_argument("--budget", type=float, default=240.0,
                   help="seconds after which no new measurement starts")
    args = p.parse_args(argv)
    start = time.perf_counter()

    def over() -> bool:
        return time.perf_counter() - start > args.budget

    if args.dry_run:
        device, sizes = torch.device("cpu"), DRY
        torch.set_num_threads(1)  # (CI machines are small and shared)
    else:
        if not torch.cuda.is_available():
            print("gpu_check: no CUDA device (use --dry-run on a machine without one)",
                  file=sys.stderr)
            return 2
        device, sizes = torch.device("cuda"), FULL
    info: dict[str, Any] = {
        "dry_run": args.dry_run, "device": str(device), "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "samples_per_signal": sizes.samples, "rate": RATE,
        "timing": ("CUDA events" if device.type == "cuda" else "perf_counter")
        + f", median of {sizes.repeats} after {sizes.warmup} warm-up call(s)"}
    print(f"gpu_check on {info['gpu'] or device} (torch {torch.__version__})", flush=True)
    model = read_nam(a1_doc(sizes.preset))
    info["model"] = f"A1 {sizes.preset}"
    problems: list[str] = []
    # A section that breaks (out of memory, say) is reported and the next one still runs.
    try:
        info["signals"] = section_signals(model, sizes, device, over)
    except Exception as exc:
        info["signals"] = []
        problems.append(f"signals section: {type(exc).__name__}: {str(exc)[:300]}")
    try:
        info["audit"], found = section_audit(sizes, device, over)
        problems += found
    except Exception as exc:
        info["audit"] = []
        problems.append(f"audit section: {type(exc).__name__}: {str(exc)[:300]}")
    problems += [f"signals {r['dtype']} x{r['signals']}: {r['error']}"
                 for r in info["signals"] if "error" in r]
    info["problems"] = problems
    info["wall_seconds"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(info, indent=2))
    print(table(f"A1 {sizes.preset}, aggregate real-time factor", info["signals"]))
    print(table(f"{sizes.models}-model audit forwards (gain sweep, float32)", info["audit"]))
    for line in problems:
        print(f"PROBLEM: {line}", file=sys.stderr)
    print(f"gpu_check: {info['wall_seconds']:.1f} s; {args.out / 'gpu_check.json'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
