"""Speed measurement: real-time factor, GFLOP/s, share of the machine's matmul peak.

Speed is measured here and in benchmarks/, never asserted in tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from namcheck.models import load
from namcheck.models.base import NamModule
from namcheck.models.layout import flops_per_sample
from namcheck.models.nam_file import NamModel
from namcheck.signals.generate import default_signal


def synchronize(device: str | torch.device) -> None:
    """Wait for queued CUDA work (timings include it); a no-op on the CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], Any], device: str | torch.device = "cpu", repeats: int = 5,
                   warmup: int = 1) -> float:
    """Median wall time of `fn` (the device synchronised inside each timing)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak_gflops(device: str = "cpu", dtype: torch.dtype = torch.float32,
                       size: int = 1024) -> float:
    """Achieved GFLOP/s of a large square matmul: the practical peak for this config."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    seconds = median_seconds(lambda: a @ b, device, repeats=5, warmup=2)
    return 2 * size**3 / seconds / 1e9


@dataclass
class SpeedRow:
    """One row of the bench table: real-time factors (x), GFLOP/s and % of peak."""

    label: str
    offline_rtf: float | None
    stream_rtf: float | None
    gflops: float | None
    peak_share: float | None
    note: str = ""


def offline_rtf(net: NamModule | Callable[[torch.Tensor], Any], x: torch.Tensor,
                rate: float, device: str, repeats: int = 5) -> float:
    """Seconds of audio per second of compute, whole signal at once."""
    return x.shape[-1] / rate / median_seconds(lambda: net(x), device, repeats)


def stream_rtf(net: NamModule, x: torch.Tensor, block: int, rate: float, device: str,
               repeats: int = 3, compile: bool = False) -> float:
    """Real-time factor of block-by-block processing of `x` (a fresh prewarmed stream;
    the warm-up call also pays a compile, outside the timing)."""
    blocks = [x[i : i + block] for i in range(0, x.shape[-1] - block + 1, block)]
    stream = net.stream(compile=compile)

    def run() -> None:
        for b in blocks:
            stream.process(b)

    return len(blocks) * block / rate / median_seconds(run, device, repeats)


def format_rows(rows: list[SpeedRow], header: str) -> str:
    """The bench table as text, under `header`."""
    def f(v: float | None, spec: str, unit: str) -> str:
        width = int(spec.split(".")[0]) + len(unit)
        return "-".rjust(width) if v is None else format(v, spec) + unit

    lines = [header, f"{'forward':<28} {'offline RTF':>11} {'stream RTF':>10} "
             f"{'GFLOP/s':>8} {'% peak':>7}  note"]
    for r in rows:
        lines.append(f"{r.label:<28} {f(r.offline_rtf, '10.1f', 'x')} "
                     f"{f(r.stream_rtf, '9.2f', 'x')} {f(r.gflops, '8.2f', '')} "
                     f"{f(r.peak_share, '6.1f', '%')}  {r.note}")
    return "\n".join(lines)


def upstream_row(model: NamModel, x: torch.Tensor, rate: float, device: str,
                 dtype: torch.dtype, repeats: int, flops: int, peak: float) -> SpeedRow:
    """Upstream nam's own forward on the same file (pad_start: zero history, like ours).
    Whatever upstream cannot load or run is a row saying so, never a traceback."""
    try:
        from nam.models import init_from_nam  # type: ignore[import-not-found]

        up = init_from_nam(model.to_dict()).to(device=device, dtype=dtype).eval()

        def run(signal: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return up(signal, pad_start=True)

        off = offline_rtf(run, x, rate, device, repeats)
    except Exception as exc:
        return SpeedRow("upstream nam", None, None, None, None,
                        f"n/a: {type(exc).__name__}: {exc}"[:120])
    gflops = flops * rate * off / 1e9
    return SpeedRow("upstream nam", off, None, gflops, 100 * gflops / peak,
                    "no streaming API upstream")


def bench(model: NamModel, *, dtype: torch.dtype, device: str, threads: int, block: int,
          seconds: float, repeats: int, compile: bool = False, upstream: bool = False) -> str:
    """The `namcheck bench` table: real-time factors offline and streaming, GFLOP/s and
    share of this machine's float32 matmul peak (measured in the same run)."""
    torch.set_num_threads(threads)
    rate = model.sample_rate or 48000.0
    n = max(1, int(rate * seconds))
    reps = -(-n // int(rate))  # whole default signals to cover the requested length
    x = torch.from_numpy(default_signal(int(rate))).repeat(reps)[:n].to(device, dtype)
    net = load(model, dtype=dtype, device=device)
    flops = flops_per_sample(model)
    peak = matmul_peak_gflops(device, torch.float32)
    off = offline_rtf(net, x, rate, device, repeats)
    stream = stream_rtf(net, x, block, rate, device, max(1, repeats // 2))
    gflops = flops * rate * off / 1e9
    rows = [SpeedRow("namcheck (reference)", off, stream, gflops, 100 * gflops / peak)]
    if compile:
        fast = stream_rtf(net, x, block, rate, device, max(1, repeats // 2), True)
        rows.append(SpeedRow("namcheck stream(compile)", None, fast, flops * rate * fast / 1e9,
                             100 * flops * rate * fast / 1e9 / peak,
                             "torch.compile per block (compile time not counted)"))
    if upstream:
        rows.append(upstream_row(model, x, rate, device, dtype, repeats, flops, peak))
    header = (f"model: {model.source} ({model.architecture}, {flops} FLOP/sample); "
              f"{x.shape[-1] / rate:g} s at {rate:g} Hz; {str(dtype).removeprefix('torch.')} "
              f"on {device}, {threads} thread(s); stream block {block}; float32 matmul peak "
              f"{peak:.1f} GFLOP/s; torch {torch.__version__}")
    return format_rows(rows, header)
