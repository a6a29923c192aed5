"""The Engine contract (models/engines.py), written once and run over model x engine x
dtype x device: streaming at awkward block sizes equals the offline forward, a (B, N)
batch equals single runs of its rows, long offline signals (run in chunks that carry the
state) equal the whole signal, and NumPy/torch inputs give outputs of the same kind.

Exactness: the fast engine does the same arithmetic whatever the block boundaries and
rows, so its results must be identical bit for bit; the reference (PyTorch) may order its
sums differently per call shape, so its results agree within both roundings
(numerics.forward_tolerance with implementations=2).

To cover a new architecture, add one row to MODELS; a new engine, one to ENGINES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from conftest import HAS_CUDA
from namcheck.models import read_nam
from namcheck.models.engines import Engine, load_engine, selected_model
from namcheck.models.examples import (
    a1_doc,
    container_doc,
    convnet_doc,
    linear_doc,
    lstm_doc,
    wavenet_doc,
)
from namcheck.models.numerics import forward_tolerance, peak_relative_error

# Models are kept short in receptive field (and LSTMs at 8 kHz: a 0.5 s prewarm of 4000
# samples), since streaming at blocks of 1 and 2 samples must run past it: the reference
# costs ~1 ms per call in eager PyTorch. A1 nano (R = 4093) is the long one.
RATE = 8000


def _small_wavenet() -> dict[str, Any]:
    """Two arrays, gated and blended layers, a head kernel > 1: many histories, short R."""
    layers = [{"input_size": 1, "condition_size": 1, "channels": 4, "kernel_sizes": [3, 2],
               "dilations": [1, 5], "activation": ["Tanh", "ReLU"],
               "gating_mode": ["gated", "blended"], "secondary_activation": ["Sigmoid", "Tanh"],
               "head": {"out_channels": 3, "kernel_size": 2, "bias": True}},
              {"input_size": 4, "condition_size": 1, "channels": 3, "kernel_sizes": [4],
               "dilations": [3], "activation": "Tanh",
               "head": {"out_channels": 1, "kernel_size": 3, "bias": False}}]
    return wavenet_doc(layers, seed=11, head_scale=0.5)


def _a2_small() -> dict[str, Any]:
    """A2's options at a short receptive field: kernels 6 and 15, LeakyReLU, bottleneck,
    layer1x1, head1x1 and a head kernel of 16."""
    layer = {"input_size": 1, "condition_size": 1, "channels": 5, "bottleneck": 3,
             "kernel_sizes": [6, 15, 6], "dilations": [1, 3, 7],
             "activation": {"type": "LeakyReLU", "negative_slope": 0.01},
             "layer1x1": {"active": True, "groups": 1},
             "head1x1": {"active": True, "out_channels": 4, "groups": 1},
             "head": {"out_channels": 1, "kernel_size": 16, "bias": True}}
    return wavenet_doc([layer], seed=4, head_scale=0.1, weight_std=0.3)


def _at(rate: int, doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "sample_rate": rate}


# (id, the model's .nam document): one row per architecture or feature worth its own run.
MODELS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("a1_nano", lambda: a1_doc("nano", seed=3)),
    ("wavenet_small", _small_wavenet),
    ("a2_small", _a2_small),
    ("lstm", lambda: _at(RATE, lstm_doc(6, 2, seed=1))),
    ("linear", lambda: linear_doc(32, seed=2)),
    ("convnet", lambda: convnet_doc(3, (1, 2, 4), seed=5)),
    # a container playing (at full size) its stateful submodel
    ("container", lambda: _at(RATE, container_doc([(0.5, _at(RATE, _small_wavenet())),
                                                   (1.0, _at(RATE, lstm_doc(seed=7)))]))),
]


@dataclass(frozen=True)
class EngineCase:
    engine: str
    dtype: torch.dtype
    device: str

    @property
    def exact(self) -> bool:
        """Identical results whatever the call shape (the fast engine)."""
        return self.engine == "fast"

    def __str__(self) -> str:
        return f"{self.engine}-{str(self.dtype).removeprefix('torch.')}-{self.device}"


_CUDA = pytest.mark.skipif(not HAS_CUDA, reason="cuda: no CUDA device on this machine")
ENGINES = [
    pytest.param(EngineCase("reference", torch.float32, "cpu"), id="reference-float32-cpu"),
    pytest.param(EngineCase("reference", torch.float64, "cpu"), id="reference-float64-cpu"),
    pytest.param(EngineCase("fast", torch.float32, "cpu"), id="fast-float32-cpu"),
    pytest.param(EngineCase("reference", torch.float32, "cuda"), id="reference-float32-cuda",
                 marks=_CUDA),
    pytest.param(EngineCase("reference", torch.float64, "cuda"), id="reference-float64-cuda",
                 marks=_CUDA),
]
BLOCKS: list[Any] = [1, 2, 63, 64, 65, 127, 334, 4096, "random"]

_models = pytest.mark.parametrize("make", [m for _, m in MODELS], ids=[i for i, _ in MODELS])
_engines = pytest.mark.parametrize("case", ENGINES)


def engine(make: Callable[[], dict[str, Any]], case: EngineCase) -> tuple[Engine, Any]:
    """The model on the case's engine (a fast case the fast engine does not cover yet is
    skipped, naming why: the reference's own cases run it)."""
    doc = make()
    net, choice = load_engine(doc, case.engine, dtype=case.dtype, device=case.device)
    if choice.name != case.engine:
        pytest.skip(f"{case.engine} engine does not run this model: {choice.note}")
    return net, read_nam(doc)


def signal(n: int, rows: int | None = None, seed: int = 0) -> torch.Tensor:
    shape = (n,) if rows is None else (rows, n)
    return torch.from_numpy(np.random.default_rng(seed).uniform(-0.8, 0.8, shape))


def assert_agree(got: Any, want: Any, case: EngineCase, model: Any) -> None:
    got, want = torch.as_tensor(got).cpu(), torch.as_tensor(want).cpu()
    assert got.shape == want.shape
    if case.exact:
        assert torch.equal(got, want)
    else:
        bound = forward_tolerance(model, case.dtype, implementations=2)
        assert peak_relative_error(got, want) <= bound


@_models
@_engines
@pytest.mark.parametrize("block", BLOCKS)
def test_stream_equals_offline(make: Callable[[], dict[str, Any]], case: EngineCase,
                               block: Any) -> None:
    """Blocks of any size, prewarmed as a plugin: the concatenation is the offline output.
    The signal runs past the receptive field, so every history fills and rolls over (at
    blocks of 1 and 2 only just past it: eager PyTorch costs ~1 ms per call)."""
    net, model = engine(make, case)
    r = net.receptive_field
    n = r + 300 if block in (1, 2) else max(3 * (block if block != "random" else 700),
                                            r + 3000)
    x = signal(n, seed=1)
    if block == "random":
        sizes = np.random.default_rng(7).integers(1, 700, size=n).tolist()
    else:
        sizes = [block] * (n // block + 1)
    stream, outs, i = net.stream(), [], 0
    for size in sizes:
        if i >= n:
            break
        outs.append(stream.process(x[i : i + size]))
        i += size
    assert_agree(torch.cat(outs), net(x), case, model)


@_models
@_engines
def test_batch_equals_single_rows(make: Callable[[], dict[str, Any]], case: EngineCase
                                  ) -> None:
    """(B, N) in: every row from zero history, as if run alone (the batched level run of
    signals/levels.gain_sweep)."""
    net, model = engine(make, case)
    xs = signal(1500, rows=3, seed=2)
    batched = net(xs)
    assert batched.shape == xs.shape
    for row, x in zip(batched, xs, strict=True):
        assert_agree(row, net(x), case, model)


@_models
@_engines
def test_batched_stream_equals_rows(make: Callable[[], dict[str, Any]], case: EngineCase
                                    ) -> None:
    """stream(batch=B): each row keeps its own state."""
    net, model = engine(make, case)
    xs = signal(1000, rows=2, seed=3)
    stream = net.stream(2)
    y = torch.cat([stream.process(xs[:, i : i + 65]) for i in range(0, 1000, 65)], dim=-1)
    for row, x in zip(y, xs, strict=True):
        assert_agree(row, net(x), case, model)


@_models
@pytest.mark.parametrize("case", [p for p in ENGINES if p.values[0].engine == "reference"])
def test_chunked_equals_whole(make: Callable[[], dict[str, Any]], case: EngineCase,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference runs a signal longer than OFFLINE_CHUNK in chunks carrying the state
    (flat memory): the same output as the whole signal at once. (The fast engine has one
    offline pass; its block boundaries are the streaming test's.)"""
    import namcheck.models.reference.base as base

    net, model = engine(make, case)
    x = signal(2 * base.OFFLINE_CHUNK + 999, seed=4) * 0.6
    chunked = net(x)
    monkeypatch.setattr(base, "OFFLINE_CHUNK", 10**9)
    assert_agree(chunked, net(x), case, model)


@_models
@_engines
def test_numpy_and_torch_in_and_out(make: Callable[[], dict[str, Any]], case: EngineCase
                                    ) -> None:
    """NumPy in, NumPy out (float32 for float32 input, float64 otherwise); torch in, torch
    out; (N,) and (B, N) keep their shape; the values are the engine's, whatever the kind."""
    net, _ = engine(make, case)
    x64 = signal(700, rows=2, seed=5).numpy()
    x32 = x64[0].astype(np.float32)
    for x, y in ((x64, net(x64)), (x32, net(x32)),
                 (x64[:, :100], net.stream(2).process(x64[:, :100])),
                 (x32[:100], net.stream().process(x32[:100]))):
        assert isinstance(y, np.ndarray) and y.shape == x.shape
        assert y.dtype == (np.float32 if x.dtype == np.float32 else np.float64)
    y_t = net(torch.from_numpy(x32))
    assert isinstance(y_t, torch.Tensor) and y_t.shape == x32.shape
    # the same forward whatever the kind: NumPy float32 out is the torch output, rounded
    assert np.array_equal(y_t.detach().cpu().numpy().astype(np.float32), net(x32))


@_models
@_engines
def test_stream_writes_into_the_callers_buffer(make: Callable[[], dict[str, Any]],
                                               case: EngineCase) -> None:
    """process(block, out=buf), as a real-time host calls with one buffer for every call:
    the buffer gets exactly what process(block) returns from a twin stream, and is what is
    returned; torch and NumPy, one row and a batch; a buffer that is the block itself (in
    place) too. A buffer of the wrong shape, dtype or kind, or a read-only one, is a
    ValueError raised before the block is processed: the stream stays in step."""
    net, _ = engine(make, case)
    dtype = torch.float32 if case.exact else case.dtype  # float32: the fast one-row path
    x = signal(400, seed=6).to(dtype).to(case.device)
    plain, buffered = net.stream(), net.stream()
    kinds = [lambda b: b, lambda b: b.cpu().numpy()]  # torch, NumPy
    buf: Any = None
    for k, i in enumerate(range(0, 400, 65)):
        block = kinds[k % 2](x[i : i + 65])
        want = plain.process(block)
        if buf is None or type(buf) is not type(want) or buf.shape != want.shape:
            buf = want.copy() if isinstance(want, np.ndarray) else want.clone()
            buf[...] = 7  # stale content that must be overwritten
        got = buffered.process(block, out=buf)
        assert got is buf
        assert np.array_equal(np.asarray(torch.as_tensor(got).cpu()),
                              np.asarray(torch.as_tensor(want).cpu()))
    block = x[:65].clone()
    want = plain.process(x[:65])
    assert torch.equal(buffered.process(block, out=block), want)  # in place
    xs = signal(130, rows=2, seed=7).to(dtype).to(case.device)
    want_rows = net.stream(2).process(xs[:, :65])
    into_rows = torch.empty_like(want_rows)
    assert net.stream(2).process(xs[:, :65], out=into_rows) is into_rows
    assert torch.equal(into_rows, want_rows)
    refused, twin = net.stream(), net.stream()
    read_only = np.empty(65, dtype=np.float32)
    read_only.flags.writeable = False
    for block, wrong in ((x[:65], torch.empty(64, dtype=dtype, device=case.device)),
                         (x[:65], torch.empty(65, dtype=torch.float16, device=case.device)),
                         (x[:65], np.empty(65, dtype=np.float32)),
                         (x[:65].cpu().numpy().astype(np.float32), read_only)):
        with pytest.raises(ValueError, match=r"^out: "):
            refused.process(block, out=wrong)
    # a refused buffer cost the stream nothing: it goes on in step with its twin
    assert torch.equal(refused.process(x[:65]), twin.process(x[:65]))


def test_model_list_covers_every_architecture() -> None:
    """The contract runs on every architecture the format has, and on a container whose
    playing submodel is stateful (the container must say so: gain_sweep relies on it)."""
    from namcheck.models.format.schema import ARCHITECTURES

    models = [read_nam(make()) for _, make in MODELS]
    assert {m.architecture for m in models} == set(ARCHITECTURES)
    box = next(m for m in models if m.submodels)
    assert selected_model(box, None).architecture == "LSTM"
    assert load_engine(box, "reference")[0].stateful


@_models
@pytest.mark.parametrize("block", [1, 63, 64, 4096])
def test_blocks_from_c_equal_offline(make: Callable[[], dict[str, Any]], block: int) -> None:
    """The fast stream's process_blocks (each block one kernel call made from C, how
    `namcheck bench` times a plugin's view) gives the offline output bit for bit; an
    engine without that path says so with ValueError."""
    net, _ = engine(make, EngineCase("fast", torch.float32, "cpu"))
    x = signal(net.receptive_field + 2 * block + 5, seed=3).numpy().astype(np.float32)
    try:
        got = net.stream().process_blocks(x, block)
    except ValueError as exc:
        assert "batch-1 stream of a mono model" in str(exc)
        return
    assert got.dtype == np.float32 and np.array_equal(got, net(x))


@_models
def test_fast_stream_is_freed_when_dropped(make: Callable[[], dict[str, Any]]) -> None:
    """A fast stream holds its kernel state (megabytes for a WaveNet); dropping it frees
    that at once, with no reference cycle left for the garbage collector, and its bound
    process() keeps working on its own (it holds the state, not the stream)."""
    import gc
    import weakref

    net, _ = engine(make, EngineCase("fast", torch.float32, "cpu"))
    x = signal(net.receptive_field + 300, seed=4).float()
    stream = net.stream()
    gone, process = weakref.ref(stream), stream.process
    was = gc.isenabled()
    gc.disable()
    try:
        del stream
        assert gone() is None
    finally:
        if was:
            gc.enable()
    assert torch.equal(torch.cat([process(b) for b in x.split(64)]), net(x))
