"""Speed measurement: real-time factor, GFLOP/s, share of this core's float32 peak.

Speed is measured here and in benchmarks/, never asserted in tests.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from namcheck.harness.options import CORE_ENV  # (benchmarks read it here too)
from namcheck.models import load, write_nam
from namcheck.models.engines import load_engine, selected_model
from namcheck.models.format import NamModel
from namcheck.models.reference.base import NamModule
from namcheck.models.slimming import is_slimmable, select_submodel
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


def fma_peak_gflops(seconds: float = 0.05, repeats: int = 5) -> float:
    """This core's float32 multiply-add peak in GFLOP/s, measured: the fast library's
    `namcheck_fma_peak` (models/fast/driver.c: 12 independent chains of vector FMAs at the
    kernels' own vector width, no memory traffic) for about `seconds`, median of `repeats`.
    It is what the FMA pipes deliver at the clock the core runs now (2 pipes x 8 lanes x
    2 flop x clock on an AVX2 core such as Zen 3); a torch matmul reaches less, so a kernel
    could show more than 100% of it. Raises FastEngineUnavailableError where the library
    cannot be built."""
    import ctypes

    from namcheck.models.fast.build import library

    lib = library()
    fn = lib.namcheck_fma_peak
    fn.argtypes, fn.restype = [ctypes.c_int64, ctypes.c_float], ctypes.c_float
    lib.namcheck_fma_peak_flops.restype = ctypes.c_int64
    per_round = lib.namcheck_fma_peak_flops()
    rounds = 1 << 16
    while True:  # calibrate: rounds for about `seconds`
        start = time.perf_counter()
        fn(rounds, 1.0)
        took = time.perf_counter() - start
        if took >= seconds / 4 or rounds >= 1 << 34:
            break
        rounds *= 4
    rounds = max(1, int(rounds * seconds / max(took, 1e-9)))
    best = median_seconds(lambda: fn(rounds, 1.0), "cpu", repeats=repeats, warmup=1)
    return per_round * rounds / best / 1e9


def peak_gflops(device: str) -> tuple[float, str]:
    """(GFLOP/s, how it was obtained) of this machine's float32 peak for the bench's "% peak"
    column: the measured FMA peak of one CPU core (fma_peak_gflops), or, on a GPU or
    where the fast library cannot be built, a large matmul's achieved rate."""
    if torch.device(device).type == "cpu":
        from namcheck.models.fast.build import FastEngineUnavailableError

        try:
            peak = fma_peak_gflops()
            return peak, (f"float32 FMA peak {peak:.1f} GFLOP/s (measured: independent "
                          f"vector FMA chains, models/fast/driver.c)")
        except FastEngineUnavailableError:
            pass
    peak = matmul_peak_gflops(device, torch.float32)
    return peak, f"float32 matmul peak {peak:.1f} GFLOP/s (a 1024x1024 torch matmul)"


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
    lines.append("RTF: seconds of audio per second of compute (one signal). GFLOP/s and % peak "
                 "follow the offline RTF where a row has one, else the stream RTF. "
                 "'xA / xB of Core': offline / stream RTF over Core's.")
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


def interleaved_medians(timers: dict[str, Callable[[], float]], repeats: int
                        ) -> dict[str, float]:
    """Median seconds per timer, the timers run round-robin `repeats` times after one
    warm-up each, so drifts of a noisy machine hit every row alike. A timer returns the
    seconds it measured (a subprocess reports its own)."""
    times: dict[str, list[float]] = {k: [] for k in timers}
    for fn in timers.values():
        fn()
    for _ in range(repeats):
        for key, fn in timers.items():
            times[key].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


def timed(fn: Callable[[], Any], device: str | torch.device = "cpu") -> Callable[[], float]:
    """`fn` as a timer: wall seconds of one call (the device synchronised)."""
    def run() -> float:
        start = time.perf_counter()
        fn()
        synchronize(device)
        return time.perf_counter() - start
    return run


CORE_SAMPLES = 96000  # benchmodel processes (48000 / 64) * 2 buffers of 64 samples
CORE_BLOCK = 64  # benchmodel's buffer (samples)


def core_timer(benchmodel: str, model_path: str, slim: float | None) -> Callable[[], float]:
    """NeuralAmpModelerCore's `benchmodel` on the same file: one timer call runs it once and
    returns the milliseconds it printed for its 96,000 samples at 64-sample buffers (fast
    tanh on, its default), in seconds. `slim` is passed as `--slim` (benchmodel refuses it
    for a model that is not slimmable: pass None there). Raises RuntimeError with its
    message if it fails."""
    cmd = [benchmodel, *(["--slim", f"{slim:g}"] if slim is not None else []), model_path]

    def run() -> float:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except OSError as exc:
            raise RuntimeError(f"{benchmodel}: {exc.strerror or exc}") from exc
        found = re.findall(r"^([0-9.]+)ms$", done.stdout, re.M)
        if done.returncode != 0 or not found:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise RuntimeError(f"benchmodel failed: {last}")
        return float(found[-1]) / 1000.0
    return run


def bench(model: NamModel, *, dtype: torch.dtype, device: str, threads: int, block: int,
          seconds: float, repeats: int, compile: bool = False, upstream: bool = False,
          engine: str = "auto", slim: float | None = None, core: str | None = None,
          model_path: str | None = None) -> str:
    """The `namcheck bench` table: real-time factors offline and streaming for the fast
    engine (where it covers the model) and the reference, GFLOP/s and share of this
    machine's float32 matmul peak, and, with `core` (or $NAMCHECK_CORE_BENCHMODEL),
    NeuralAmpModelerCore's benchmodel on the same file, with every row's ratio to it. All
    rows are timed round-robin in the same run."""
    torch.set_num_threads(threads)
    rate = model.sample_rate or 48000.0
    n = max(1, int(rate * seconds))
    reps = -(-n // int(rate))  # whole default signals to cover the requested length
    x = torch.from_numpy(default_signal(int(rate))).repeat(reps)[:n].to(device, dtype)
    flops = selected_model(model, slim).flops_per_sample
    peak, peak_how = peak_gflops(device)
    nets: dict[str, Any] = {}
    notes: dict[str, str] = {}
    if engine != "reference":
        net, choice = load_engine(model, engine, dtype=dtype, device=device, slim=slim)
        if choice.name == "fast":
            nets["namcheck fast"] = net
        else:
            notes["namcheck reference"] = choice.note or ""
    nets["namcheck reference"] = load(model, dtype=dtype, device=device, slim=slim)
    timers: dict[str, Callable[[], float]] = {}
    blocks = [x[i : i + block] for i in range(0, n - block + 1, block)]
    for label, net in nets.items():
        timers[f"{label} offline"] = timed(lambda net=net: net(x), device)
        timers[f"{label} stream"] = _stream_timer(net, blocks, device)
    native = _native_timer(nets.get("namcheck fast"), x, len(blocks) * block, block)
    if native is not None:
        timers["namcheck fast stream (C host)"] = native
    core = core or os.environ.get(CORE_ENV)
    core_note = ""
    slimmable = bool(model.submodels) or is_slimmable(model)  # else benchmodel refuses --slim
    core_slim = slim if slimmable else None
    if core:
        path = model_path or _temp_model(model)
        timers["core stream"] = core_timer(core, path, core_slim)
    try:
        medians = interleaved_medians(timers, repeats)
    except RuntimeError as exc:  # the Core run failed: time ours alone, say why
        timers.pop("core stream", None)
        core_note, core = f"NeuralAmpModelerCore: {exc}"[:160], None
        medians = interleaved_medians(timers, repeats)
    streamed = len(blocks) * block / rate
    core_rtf = CORE_SAMPLES / rate / medians["core stream"] if core else None
    rows = []
    for label in nets:
        off = n / rate / medians[f"{label} offline"]
        stream = streamed / medians[f"{label} stream"] if blocks else None
        gflops = flops * rate * off / 1e9
        ratio = f"x{off / core_rtf:.2f} / x{stream / core_rtf:.2f} of Core" \
            if core_rtf and stream else ""
        if ratio and block != CORE_BLOCK:
            ratio += f" (streamed in {block}-sample blocks; Core in {CORE_BLOCK})"
        note = "; ".join(v for v in (ratio, notes.get(label, "")) if v)
        rows.append(SpeedRow(label, off, stream, gflops, 100 * gflops / peak, note))
        if label == "namcheck fast" and native is not None:
            dsp = getattr(nets[label], "dsp", None) is not None
            c_rtf = streamed / medians["namcheck fast stream (C host)"]
            ratio = f"x{c_rtf / core_rtf:.2f} of Core; " if core_rtf else ""
            rows.append(SpeedRow("namcheck fast (C host)", None, c_rtf, flops * rate * c_rtf / 1e9,
                                 100 * flops * rate * c_rtf / 1e9 / peak,
                                 f"{ratio}{block}-sample blocks, each block's kernel "
                                 f"call{'s (the condition DSP, then the WaveNet)' if dsp else ''}"
                                 " made from C (driver.c), as a plugin calls it"))
    if core_rtf:
        rows.append(SpeedRow("NeuralAmpModelerCore", None, core_rtf, flops * rate * core_rtf / 1e9,
                             100 * flops * rate * core_rtf / 1e9 / peak,
                             f"benchmodel, {CORE_BLOCK}-sample buffers, fast tanh, "
                             f"{_core_plays(model, core_slim)} ({core})"))
    elif core_note:
        rows.append(SpeedRow("NeuralAmpModelerCore", None, None, None, None, core_note))
    ref = nets["namcheck reference"]
    if compile:
        fast = stream_rtf(ref, x, block, rate, device, max(1, repeats // 2), True)
        rows.append(SpeedRow("reference stream(compile)", None, fast, flops * rate * fast / 1e9,
                             100 * flops * rate * fast / 1e9 / peak,
                             "torch.compile per block (compile time not counted)"))
    if upstream:
        rows.append(upstream_row(model, x, rate, device, dtype, repeats, flops, peak))
    slimmed = f" at slim {slim:g}" if slim is not None else ""
    header = (f"model: {model.source}{slimmed} ({model.architecture}, {flops} FLOP/sample); "
              f"{x.shape[-1] / rate:g} s at {rate:g} Hz; {str(dtype).removeprefix('torch.')} "
              f"on {device}, {threads} thread(s); stream block {block} (outputs into one reused "
              f"buffer, as a host calls); medians of {repeats} "
              f"interleaved runs; {peak_how}; "
              f"torch {torch.__version__}")
    return format_rows(rows, header)


def _stream_timer(net: Any, blocks: list[torch.Tensor], device: str) -> Callable[[], float]:
    """A timer of one pass of `blocks` through a fresh prewarmed stream, every output
    written into one buffer, as a real-time host calls its DSP (process(block, out=...));
    the stream is opened and prewarmed, and the buffer made, outside the timing."""
    template = net.stream().process(blocks[0]) if blocks else None

    def run() -> float:
        stream = net.stream()
        out = template.clone() if template is not None else None
        start = time.perf_counter()
        for b in blocks:
            stream.process(b, out=out)
        synchronize(device)
        return time.perf_counter() - start
    return run


def _native_timer(net: Any, x: torch.Tensor, n: int, block: int
                  ) -> Callable[[], float] | None:
    """A timer of the first n samples of x through a fresh prewarmed stream of the fast
    engine in `block`-sample blocks, each one kernel call made from C (process_blocks);
    None where the engine has no such path."""
    if net is None or n < 1:
        return None
    xs = x[:n].detach().cpu().numpy().astype("float32")
    try:
        net.stream().process_blocks(xs[:1], block)
    except (AttributeError, ValueError):
        return None

    def run() -> float:
        stream = net.stream()
        start = time.perf_counter()
        stream.process_blocks(xs, block)
        return time.perf_counter() - start
    return run


def _core_plays(model: NamModel, slim: float | None) -> str:
    """Which model benchmodel runs: the container's submodel it selects (its default, the
    last, without --slim), a slimmable WaveNet's slim, or the file as it is."""
    if model.submodels:
        i = select_submodel(model, slim)
        how = f"--slim {slim:g}" if slim is not None else "no --slim: its default"
        return (f"submodel {i} of {len(model.submodels)} "
                f"(max_value {model.submodels[i].max_value:g}; {how})")
    if slim is not None:
        return f"--slim {slim:g}"
    return "full size" if is_slimmable(model) else "the whole model"


_KEPT_OPEN: list[int] = []  # descriptors of _temp_model's unlinked files, open until exit


def _temp_model(model: NamModel) -> str:
    """The model written to a temporary .nam file for an external program to read.

    On Linux the file is unlinked as soon as it is written and reopened, and the program
    reads it through /proc/PID/fd/N while this process holds it open: nothing is left in
    the temporary folder however namcheck ends (a SIGTERM runs no cleanup; the file of a
    killed `bench --core` stayed behind). Elsewhere it is removed at exit."""
    import atexit
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".nam", prefix="namcheck-bench-")
    os.close(fd)
    try:
        write_nam(model, path)
        proc = f"/proc/{os.getpid()}/fd"
        if os.path.isdir(proc):
            fd = os.open(path, os.O_RDONLY)
            os.unlink(path)
            _KEPT_OPEN.append(fd)
            return f"{proc}/{fd}"
    except BaseException:
        if os.path.exists(path):
            os.unlink(path)
        raise
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path
