"""The fast engine beside the reference and NeuralAmpModelerCore: offline and 64-sample
streaming for A1 standard and A2 (slim 1), memory and speed at 1 s and 60 s, batches.

Set NAMCHECK_CORE_BENCHMODEL to a built `benchmodel` (NeuralAmpModelerCore's tools/, built
outside this repo) to time it on the same files in the same session; the ratio to it is
recorded in each case's extra_info (`vs_core`). Run pinned to one core for comparable
ratios: `taskset -c 1 pytest benchmarks/test_bench_engines.py`.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.conftest import RATE
from namcheck.harness.bench import CORE_ENV, CORE_SAMPLES, core_timer
from namcheck.models import write_nam
from namcheck.models.engines import load_engine, selected_model
from namcheck.models.examples import a1_doc, a2_doc
from namcheck.models.format import read_nam

# a2_full: the shape of A2.nam's top submodel (what slim 1 plays), as a plain WaveNet.
MODELS = {"a1_standard": (lambda: a1_doc("standard"), None), "a2_full": (a2_doc, None)}
ENGINES = ["fast", "reference"]
_core_rtf: dict[str, float] = {}


def _model_file(name: str, folder: Path) -> Path:
    path = folder / f"{name}.nam"
    if not path.exists():
        write_nam(MODELS[name][0](), path)
    return path


def _signal(seconds: float, batch: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = (int(seconds * RATE),) if batch is None else (batch, int(seconds * RATE))
    return (0.3 * rng.standard_normal(shape)).astype(np.float32)


def _net(name: str, engine: str, folder: Path) -> Any:
    torch.set_num_threads(1)
    net, choice = load_engine(_model_file(name, folder), engine, slim=MODELS[name][1])
    assert choice.name == engine, choice.note
    return net


def _record(benchmark: Any, name: str, samples: int, engine: str, folder: Path) -> None:
    model = selected_model(read_nam(_model_file(name, folder)), MODELS[name][1])
    info = benchmark.extra_info
    info.update(engine=engine, samples=samples, flops_per_sample=model.flops_per_sample)
    stats = getattr(benchmark, "stats", None)
    if stats:
        rtf = samples / RATE / stats.stats.median
        info["realtime_factor"] = rtf
        if name in _core_rtf:
            info["vs_core"] = rtf / _core_rtf[name]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engines")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_core_benchmodel(benchmark, name: str, folder: Path) -> None:
    """NeuralAmpModelerCore on the same file: 96,000 samples at 64-sample buffers."""
    core = os.environ.get(CORE_ENV)
    if not core:
        pytest.skip(f"{CORE_ENV} is not set (a built NeuralAmpModelerCore benchmodel)")
    timer = core_timer(core, str(_model_file(name, folder)), MODELS[name][1])
    own: list[float] = []  # benchmodel's own clock (the wall time also counts its load)
    benchmark.pedantic(lambda: own.append(timer()), rounds=1 if benchmark.disabled else 5)
    assert own and min(own) > 0
    _core_rtf[name] = CORE_SAMPLES / RATE / float(np.median(own))
    benchmark.extra_info.update(engine="NeuralAmpModelerCore", realtime_factor=_core_rtf[name])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_offline_1s(benchmark, name: str, engine: str, folder: Path) -> None:
    net, x = _net(name, engine, folder), _signal(1.0)
    assert benchmark(net, x).shape == x.shape
    _record(benchmark, name, x.size, engine, folder)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_stream_64(benchmark, name: str, engine: str, folder: Path) -> None:
    """0.5 s in 64-sample blocks through one open stream (its prewarm outside the timing)."""
    net = _net(name, engine, folder)
    blocks = [torch.from_numpy(b) for b in np.split(_signal(0.5), 375)]
    stream = net.stream()

    def run() -> None:
        for b in blocks:
            stream.process(b)

    benchmark(run)
    _record(benchmark, name, 375 * 64, engine, folder)


@pytest.mark.parametrize("seconds", [1, 60])
def test_fast_long_signal(benchmark, seconds: int, folder: Path) -> None:
    """Offline over 1 s and 60 s: real-time factor, and the peak of what the forward
    allocates (tracemalloc sees NumPy's buffers; the kernel's state is allocated by NumPy)."""
    net, x = _net("a1_standard", "fast", folder), _signal(seconds)
    tracemalloc.start()
    net(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    benchmark.pedantic(net, args=(x,), rounds=1 if benchmark.disabled else 3)
    benchmark.extra_info["peak_mb"] = peak / 2**20
    _record(benchmark, "a1_standard", x.size, "fast", folder)


@pytest.mark.parametrize("batch", [1, 8, 64])
def test_fast_batch(benchmark, batch: int, folder: Path) -> None:
    """B signals of 0.25 s through one model: extra_info's realtime_factor is per signal
    times B, i.e. aggregate seconds of audio per second."""
    net, x = _net("a1_standard", "fast", folder), _signal(0.25, batch)
    assert benchmark.pedantic(net, args=(x,), rounds=1 if benchmark.disabled else 3
                              ).shape == x.shape
    _record(benchmark, "a1_standard", x.size, "fast", folder)
