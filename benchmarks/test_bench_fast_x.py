"""The fast LSTM, Linear, ConvNet and mixed-container engines beside the reference and
NeuralAmpModelerCore: offline (1 s), streaming at 64-sample blocks and at 1-sample blocks
(a plugin at a 1-sample buffer), on the fixture models.

Set NAMCHECK_CORE_BENCHMODEL to a built `benchmodel` to time NeuralAmpModelerCore on the
same files in the same session (`vs_core` in each case's extra_info). Block 1 is also timed
inside the kernel (`test_lstm_kernel_block1`: namcheck_lstm_process called once per sample
from C by driver.c, as a C host calls it), which separates the kernel's cost from Python's per-call
cost (`test_call_overhead`: one ctypes call, one output tensor). Run pinned to one core:
`taskset -c 1 pytest benchmarks/test_bench_fast_x.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.conftest import RATE
from namcheck.harness.bench import CORE_ENV, CORE_SAMPLES, core_timer
from namcheck.models.engines import load_engine, selected_model
from namcheck.models.format import read_nam

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
# name -> (file, slim)
MODELS = {
    "lstm": ("namcore-examples/lstm.nam", None),
    "container@0.2": ("namcore-examples/slimmable_container.nam", 0.2),
    "container@0.5": ("namcore-examples/slimmable_container.nam", 0.5),
    "container@1": ("namcore-examples/slimmable_container.nam", 1.0),
    "upstream_lstm": ("upstream/models/lstm.nam", None),
    "upstream_linear": ("upstream/models/linear.nam", None),
    "upstream_convnet": ("upstream/models/convnet.nam", None),
}
_core_rtf: dict[str, float] = {}


def _path(name: str) -> Path:
    path = FIXTURES / MODELS[name][0]
    if not path.exists():
        pytest.skip(f"fixtures folder {FIXTURES} is absent (../shared/fixtures)")
    return path


def _net(name: str, engine: str) -> Any:
    torch.set_num_threads(1)
    net, choice = load_engine(_path(name), engine, slim=MODELS[name][1])
    assert choice.name == engine, choice.note
    return net


def _signal(seconds: float) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy((0.3 * rng.standard_normal(int(seconds * RATE))).astype(np.float32))


def _record(benchmark: Any, name: str, samples: int, engine: str) -> None:
    model = selected_model(read_nam(_path(name)), MODELS[name][1])
    info = benchmark.extra_info
    info.update(engine=engine, samples=samples, flops_per_sample=model.flops_per_sample)
    stats = getattr(benchmark, "stats", None)
    if stats:
        rtf = samples / RATE / stats.stats.median
        info["realtime_factor"] = rtf
        if name in _core_rtf:
            info["vs_core"] = rtf / _core_rtf[name]


@pytest.mark.parametrize("name", list(MODELS))
def test_core_benchmodel(benchmark: Any, name: str) -> None:
    """NeuralAmpModelerCore on the same file: 96,000 samples at 64-sample buffers."""
    core = os.environ.get(CORE_ENV)
    if not core:
        pytest.skip(f"{CORE_ENV} is not set (a built NeuralAmpModelerCore benchmodel)")
    timer = core_timer(core, str(_path(name)), MODELS[name][1])
    own: list[float] = []
    benchmark.pedantic(lambda: own.append(timer()), rounds=1 if benchmark.disabled else 9)
    assert own and min(own) > 0
    _core_rtf[name] = CORE_SAMPLES / RATE / float(np.median(own))
    benchmark.extra_info.update(engine="NeuralAmpModelerCore", realtime_factor=_core_rtf[name])


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("name", list(MODELS))
def test_offline_1s(benchmark: Any, name: str, engine: str) -> None:
    net, x = _net(name, engine), _signal(1.0)
    assert benchmark(net, x).shape == x.shape
    _record(benchmark, name, x.numel(), engine)


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("name", list(MODELS))
def test_stream_64(benchmark: Any, name: str, engine: str) -> None:
    """0.5 s in 64-sample blocks through one open stream (its prewarm outside the timing)."""
    net = _net(name, engine)
    blocks = list(_signal(0.5).split(64))
    stream = net.stream()

    def run() -> None:
        for b in blocks:
            stream.process(b)

    benchmark(run)
    _record(benchmark, name, 375 * 64, engine)


@pytest.mark.parametrize("name", ["lstm", "container@0.2", "upstream_lstm"])
def test_stream_1(benchmark: Any, name: str) -> None:
    """0.1 s in 1-sample blocks (a plugin at a 1-sample buffer): Python's per-call cost."""
    net = _net(name, "fast")
    blocks = list(_signal(0.1).split(1))
    stream = net.stream()

    def run() -> None:
        for b in blocks:
            stream.process(b)

    benchmark(run)
    _record(benchmark, name, len(blocks), "fast")


@pytest.mark.parametrize("block", [1, 64])
@pytest.mark.parametrize("name", ["lstm", "upstream_lstm"])
def test_lstm_kernel_block1(benchmark: Any, name: str, block: int) -> None:
    """The kernel alone at `block`-sample blocks: 1 s through namcheck_lstm_process called
    once per block from C (the stream's process_blocks: driver.c's namcheck_stream_blocks),
    as a C host would call it."""
    net = _net(name, "fast")
    x = _signal(1.0).numpy()
    benchmark(lambda: net.stream().process_blocks(x, block))
    _record(benchmark, name, x.size, "fast kernel")


def test_call_overhead(benchmark: Any) -> None:
    """One stream.process of a 1-sample torch block on the smallest LSTM: what Python, one
    ctypes call and one output tensor cost per block (the kernel's share is ~50 ns)."""
    net = _net("lstm", "fast")
    stream = net.stream()
    x = _signal(0.001)[:1]
    benchmark(stream.process, x)
