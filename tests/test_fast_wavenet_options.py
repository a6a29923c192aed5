"""Every WaveNet option on the fast engine, against the float64 reference.

FiLM in every slot (with and without shift, grouped), grouped convolutions, head1x1 and
layer1x1 groups, a post-stack head, SiLU, several outputs, and a condition DSP (a nested
model on its own fast engine, or on an engine that only streams). Each is compared
peak-relative against float64 within `tolerance()`, over randomised configurations
(hypothesis, derandomised so CI sees the same examples), and streams equal the engine's own
offline forward bit for bit at every block size.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import types
from functools import reduce
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import NAMCORE, needs_fixtures
from namcheck.models import engines, load, read_nam
from namcheck.models.engines import FAST_ENGINES, fast_unsupported, load_engine, selected_model
from namcheck.models.examples import lstm_doc, wavenet_doc
from namcheck.models.fast.activations import SILU_ERROR_BOUND, activation
from namcheck.models.fast.engine import FastEngine
from namcheck.models.fast.wavenet import FastWaveNet, tolerance, unsupported
from namcheck.models.format.layout import film_dim
from namcheck.models.format.schema import FILM_SLOTS, WaveNetConfig, parse_config
from namcheck.models.numerics import forward_tolerance, peak_relative_error

if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
    pytest.skip("no C compiler on this machine: the fast engine cannot be built here",
                allow_module_level=True)

RATE = 48000
ACTIVATIONS: list[Any] = [
    "Tanh", "ReLU", "Sigmoid", "SiLU", "Hardswish", "Softsign", "Fasttanh", "Hardtanh",
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.8, "min_slope": 0.1,
     "max_slope": 0.05},
]
BLOCKS: list[Any] = [1, 2, 63, 64, 65, 127, 334, 4096, "random"]


def signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    return (0.5 * rng.standard_normal(n) * np.linspace(0.1, 1.0, n)).astype(np.float32)


def fast(doc: Any, slim: float | None = None) -> FastWaveNet:
    net, choice = load_engine(doc, "fast", slim=slim)
    assert choice.name == "fast", choice.note
    assert isinstance(net, FastWaveNet)
    return net


def error_vs_float64(doc: Any, x: np.ndarray, slim: float | None = None) -> tuple[float, float]:
    """(peak-relative error of the fast engine against float64, its bound)."""
    model = selected_model(read_nam(doc), slim)
    y = fast(doc, slim)(x)
    y64 = load(doc, dtype=torch.float64, slim=slim)(x.astype(np.float64))
    return peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64)), tolerance(model)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# ---- random configurations over every option --------------------------------------------

def _layer_array(draw: st.DrawFn, *, input_size: int, channels: int | None, dc: int,
                 head_width: int | None, head_out: int) -> dict[str, Any]:
    """One layer array with random options; `channels`/`head_width` fixed where the previous
    array decides them."""
    channels = channels or draw(st.sampled_from([2, 3, 4, 6, 8, 12]))
    n = draw(st.integers(1, 3))
    layer1x1 = head_width is not None or draw(st.booleans())
    if head_width is not None:  # array a > 0: its accumulator continues the last array's
        bottleneck, head1x1 = channels, False
    else:
        bottleneck = draw(st.sampled_from([2, 4, 6, 9])) if layer1x1 else channels
        head1x1 = draw(st.booleans())
    gating = [draw(st.sampled_from(["none", "gated", "blended"])) for _ in range(n)]
    h1_out = draw(st.sampled_from([2, 4, 6])) if head1x1 else bottleneck
    prelu = {"type": "PReLU", "negative_slopes": [0.05 * (i + 1) for i in range(bottleneck)]}
    la: dict[str, Any] = {
        "input_size": input_size, "condition_size": dc, "channels": channels,
        "bottleneck": bottleneck,
        "kernel_sizes": [draw(st.integers(1, 5)) for _ in range(n)],
        "dilations": [draw(st.integers(1, 30)) for _ in range(n)],
        "activation": [draw(st.sampled_from([*ACTIVATIONS, prelu])) for _ in range(n)],
        "gating_mode": gating,
        "secondary_activation": [draw(st.sampled_from(["Sigmoid", "Tanh", "SiLU", "Hardtanh"]))
                                 if g != "none" else None for g in gating],
        "groups_input": draw(st.sampled_from(divisors(math.gcd(channels, bottleneck)))),
        "groups_input_mixin": draw(st.sampled_from(divisors(math.gcd(dc, bottleneck)))),
        "layer1x1": {"active": layer1x1, "groups": draw(st.sampled_from(
            divisors(math.gcd(bottleneck, channels))))},
        "head1x1": {"active": head1x1, "out_channels": h1_out, "groups": draw(st.sampled_from(
            divisors(math.gcd(bottleneck, h1_out))))},
        "head": {"out_channels": head_out, "kernel_size": draw(st.integers(1, 3)),
                 "bias": draw(st.booleans()), "head_dilation": draw(st.integers(1, 3))},
    }
    cfg = parse_config("WaveNet", {"layers": [la], "head_scale": 1.0})
    assert isinstance(cfg, WaveNetConfig)
    layer = cfg.layers[0]
    for slot in FILM_SLOTS:
        if slot == "layer1x1_post_film" and not layer1x1:
            continue
        if slot == "head1x1_post_film" and not head1x1:
            continue
        if draw(st.integers(0, 2)) == 0:
            shift = draw(st.booleans())
            outs = [film_dim(layer, slot, i) * (2 if shift else 1) for i in range(n)]
            groups = divisors(math.gcd(dc, reduce(math.gcd, outs)))
            la[slot] = {"active": True, "shift": shift, "groups": draw(st.sampled_from(groups))}
    return la


@st.composite
def option_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Random WaveNets over every option the format defines (1-2 arrays; a condition DSP,
    itself a random WaveNet, in about a third of them; a post-stack head in a third)."""
    dsp = None
    dc = 1
    if draw(st.integers(0, 2)) == 0:
        dc = draw(st.sampled_from([2, 4]))
        dsp_layer = _layer_array(draw, input_size=1, channels=None, dc=1, head_width=None,
                                 head_out=dc)
        dsp = wavenet_doc([dsp_layer], seed=draw(st.integers(0, 2**16)), head_scale=1.0,
                          weight_std=0.5 / math.sqrt(dsp_layer["channels"] * 5))
    n_arrays = draw(st.integers(1, 2))
    post = draw(st.integers(0, 2)) == 0
    layers: list[dict[str, Any]] = []
    for a in range(n_arrays):
        last = a == n_arrays - 1
        head_out = draw(st.sampled_from([1, 2])) if last and not post else \
            draw(st.sampled_from([2, 3, 4]))
        prev = layers[-1] if layers else None
        layers.append(_layer_array(
            draw, input_size=prev["channels"] if prev else 1,
            channels=prev["head"]["out_channels"] if prev else None, dc=dc,
            head_width=prev["head"]["out_channels"] if prev else None, head_out=head_out))
    head = None
    if post:
        head = {"channels": draw(st.integers(1, 3)), "out_channels": draw(st.sampled_from([1, 2])),
                "kernel_sizes": [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2)))],
                "activation": draw(st.sampled_from(ACTIVATIONS))}
    # Weights at the scale training starts from, 1/sqrt(fan-in) of the widest conv, so each
    # layer has gain ~1 as in real models (tests/test_forward_properties.py's regime).
    fan_in = max(la["channels"] * max(la["kernel_sizes"]) for la in layers)
    doc = wavenet_doc(layers, seed=draw(st.integers(0, 2**16)), head=head, head_scale=0.5,
                      weight_std=draw(st.sampled_from([0.5, 1.0])) / math.sqrt(fan_in))
    if dsp is not None:
        doc["config"]["condition_dsp"] = dsp
    return doc


# derandomize: CI sees the same examples every run.
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(doc=option_configs(), seconds=st.sampled_from([0.002, 0.03, 0.1]))
def test_every_option_matches_float64(doc: dict, seconds: float) -> None:
    """Wherever the peak-relative bounds hold at all: a model whose output cancels its
    internal signals to a small fraction of them has rounding errors on the scale of those
    signals, where the reference's own float32 misses its bound too. Such examples are
    rejected by the reference's float32 result (against its own bound widened by the FiLM
    stages it does not count), never by the fast engine's."""
    model = read_nam(doc)
    assert unsupported(model) is None
    assert fast_unsupported(model, torch.float32, "cpu") is None
    x = signal(seconds)
    y64 = torch.from_numpy(load(doc, dtype=torch.float64)(x.astype(np.float64)))
    y32 = torch.from_numpy(load(doc)(x.astype(np.float64)))
    assume(peak_relative_error(y32, y64) <= forward_tolerance(model, torch.float32) * 2)
    y = fast(doc)(x)
    assert y.shape == tuple(y64.shape)
    err = peak_relative_error(torch.from_numpy(y), y64)
    assert err <= tolerance(model), (err, tolerance(model))


# ---- one model with every option at once ------------------------------------------------

def everything_doc(seed: int = 11) -> dict[str, Any]:
    """Every FiLM slot (shift and not, grouped), grouped conv/mixer/1x1s, gated and blended
    layers, SiLU and PReLU, head1x1, a head kernel, a post-stack head, and a condition DSP
    that is itself a WaveNet with FiLM and gating."""
    def films(shift: bool, groups: int) -> dict[str, Any]:
        return {slot: {"active": True, "shift": shift, "groups": groups} for slot in FILM_SLOTS}

    dsp_layer = {"input_size": 1, "condition_size": 1, "channels": 3, "bottleneck": 4,
                 "kernel_sizes": [2, 3], "dilations": [1, 3], "gating_mode": ["gated", "blended"],
                 "activation": ["SiLU", {"type": "PReLU", "negative_slopes": [0.1, 0.2, 0.3, 0.4]}],
                 "secondary_activation": ["Sigmoid", "Hardswish"],
                 "layer1x1": {"active": True, "groups": 1},
                 "head1x1": {"active": True, "out_channels": 4, "groups": 2},
                 "head": {"out_channels": 4, "kernel_size": 2, "bias": False}, **films(False, 1)}
    dsp = wavenet_doc([dsp_layer], seed=seed + 1, head_scale=1.0, weight_std=0.3)
    main = {"input_size": 1, "condition_size": 4, "channels": 4, "bottleneck": 4,
            "kernel_size": 3, "dilations": [1, 2, 5], "activation": ["Softsign", "SiLU", "Tanh"],
            "gating_mode": ["none", "blended", "gated"],
            "secondary_activation": [None, "Sigmoid", "Tanh"],
            "groups_input": 2, "groups_input_mixin": 4,
            "layer1x1": {"active": True, "groups": 2},
            "head1x1": {"active": True, "out_channels": 4, "groups": 2},
            "head": {"out_channels": 3, "kernel_size": 3, "bias": True, "head_dilation": 2},
            **films(True, 2)}
    head = {"channels": 2, "out_channels": 1, "kernel_sizes": [3, 1], "activation": "SiLU"}
    doc = wavenet_doc([main], seed=seed, head=head, head_scale=0.5, weight_std=0.35)
    doc["config"]["condition_dsp"] = dsp
    return doc


def test_everything_matches_float64() -> None:
    err, bound = error_vs_float64(everything_doc(), signal(0.5))
    assert err <= bound


@pytest.mark.parametrize("block", BLOCKS)
def test_everything_stream_equals_offline(block: Any) -> None:
    """Bit for bit at every block size, the condition DSP streaming inside the model."""
    net = fast(everything_doc())
    x = signal(0.6, seed=3)
    offline = net(x)
    if block == "random":
        sizes = np.random.default_rng(7).integers(1, 700, size=x.size)
    else:
        sizes = np.full(x.size // block + 1, block)
    stream, outs, i = net.stream(), [], 0
    for size in sizes:
        if i >= x.size:
            break
        outs.append(stream.process(torch.from_numpy(x[i : i + int(size)])).numpy())
        i += int(size)
    assert np.array_equal(np.concatenate(outs), offline)
    if block != "random":  # the DSP's kernel call, then the WaveNet's, per block from C
        assert np.array_equal(net.stream().process_blocks(x, block), offline)


def test_everything_batch_rows_equal_single_runs() -> None:
    net = fast(everything_doc())
    xs = np.stack([signal(0.05, seed=s) for s in range(3)])
    rows = net(xs)
    for row, x in zip(rows, xs, strict=True):
        assert np.array_equal(row, net(x))
    stream = net.stream(batch=3)
    halves = [stream.process(xs[:, :1000]), stream.process(xs[:, 1000:])]
    assert np.array_equal(np.concatenate(halves, axis=1), rows)


def test_several_outputs_and_numpy_dtypes() -> None:
    """(N,) in gives (out, N) for a two-output model; float32 NumPy in gives float32 out,
    float64 in gives float64 (the engine protocol)."""
    layer = {"input_size": 1, "condition_size": 1, "channels": 3, "kernel_size": 2,
             "dilations": [1, 2], "activation": "Tanh",
             "head": {"out_channels": 2, "kernel_size": 1, "bias": True}}
    doc = wavenet_doc([layer], seed=2)
    net, x = fast(doc), signal(0.01)
    y = net(x)
    assert y.shape == (2, x.size) and y.dtype == np.float32
    assert net(x.astype(np.float64)).dtype == np.float64
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    assert peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64)) <= tolerance(
        read_nam(doc))


def test_several_inputs_through_state() -> None:
    """in_channels 2 (the condition is the input): the mono calls refuse it; a state runs
    (2, n) and matches the reference's forward over the same channels."""
    layer = {"input_size": 2, "condition_size": 2, "channels": 4, "kernel_size": 3,
             "dilations": [1, 4], "activation": "SiLU", "groups_input_mixin": 2,
             "conv_post_film": {"active": True, "shift": True, "groups": 2},
             "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}
    doc = wavenet_doc([layer], seed=5)
    doc["config"]["in_channels"] = 2
    net = fast(doc)
    x = np.stack([signal(0.02, seed=1), signal(0.02, seed=2)])
    with pytest.raises(ValueError, match="2 input channels"):
        net(x[0])
    y = net.new_state().run(x)
    ref = load(doc, dtype=torch.float64)
    pad = torch.zeros(1, 2, ref.receptive_field - 1, dtype=torch.float64)
    y64 = ref.forward_valid(torch.cat([pad, torch.from_numpy(x[None].astype(np.float64))], -1),
                            None)[0, :, -x.shape[1]:]
    assert peak_relative_error(torch.from_numpy(y), y64) <= tolerance(read_nam(doc))


def test_silu_bound() -> None:
    """|silu_fast(x) - x sigmoid(x)| <= |x| SILU_ERROR_BOUND: the kernel's SiLU is
    x * sigmoid_fast(x), one rounding on the proven sigmoid bound (fast/activations.py)."""
    from scipy.special import expit

    from namcheck.models.format.activations import ActivationSpec

    x = np.concatenate([np.linspace(-60, 60, 4_000_001), [-1e30, 1e30, 1e-30, 0.0]]
                       ).astype(np.float32)
    x64 = x.astype(np.float64)
    exact = x64 * expit(x64)
    got = activation(ActivationSpec("SiLU"), x).astype(np.float64)
    assert np.all(np.abs(got - exact) <= np.abs(x64) * SILU_ERROR_BOUND)


# ---- real files ----------------------------------------------------------------------------

@needs_fixtures
@pytest.mark.fixtures
@pytest.mark.parametrize("path", [
    "namcore-examples/wavenet_a2_max.nam", "namcore-examples/wavenet_condition_dsp.nam",
    "namcore-examples/my_model.nam", "upstream/models/top_head.nam",
    "upstream/models/a2_features.nam", "upstream/models/condition_dsp.nam",
])
def test_option_fixtures_on_fast_engine(path: str) -> None:
    """The files with FiLM, groups, condition DSPs and post-stack heads run on the fast
    engine under 'auto' and agree with float64."""
    full = NAMCORE.parent / path
    _, choice = load_engine(str(full), "auto")
    assert choice.name == "fast", choice.note
    err, bound = error_vs_float64(str(full), signal(1.0, seed=8))
    assert err <= bound


@needs_fixtures
@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["wavenet_a2_max.nam", "wavenet_condition_dsp.nam"])
@pytest.mark.parametrize("block", BLOCKS)
def test_option_fixtures_stream_equals_offline(name: str, block: Any) -> None:
    net = fast(str(NAMCORE / name))
    x = signal(0.3, seed=4)
    offline = net(x)
    sizes = (np.random.default_rng(9).integers(1, 700, size=x.size) if block == "random"
             else np.full(x.size // block + 1, block))
    stream, outs, i = net.stream(), [], 0
    for size in sizes:
        if i >= x.size:
            break
        outs.append(stream.process(x[i : i + int(size)]))
        i += int(size)
    assert np.array_equal(np.concatenate(outs), offline)


@needs_fixtures
@pytest.mark.fixtures
def test_auto_picks_fast_for_every_fixture_model() -> None:
    """'auto' picks the reference only for float64, a CUDA device or an explicit request:
    every fixture model, of every architecture (NeuralAmpModelerCore's examples and
    upstream's exports), runs on the fast engine."""
    from conftest import UPSTREAM

    paths = sorted(NAMCORE.glob("*.nam")) + sorted((UPSTREAM / "models").glob("*.nam"))
    seen = set()
    for path in paths:
        model = selected_model(read_nam(str(path)), None)
        seen.add(model.architecture)
        assert fast_unsupported(model, torch.float32, "cpu") is None, path.name
        _, choice = load_engine(str(path), "auto")
        assert choice.name == "fast", (path.name, choice.note)
        assert "float64" in (fast_unsupported(model, torch.float64, "cpu") or "")
        assert "cuda" in (fast_unsupported(model, torch.float32, "cuda") or "")
        _, explicit = load_engine(str(path), "reference")
        assert explicit.name == "reference" and explicit.note is None
    assert seen == {"WaveNet", "LSTM", "Linear", "ConvNet"}


# ---- built from the layout; what is not covered falls back --------------------------------

def test_built_from_layout_without_a_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast engine never builds a reference module; where the kernel is unavailable the
    reference is built once, for the fallback."""
    from namcheck.models.fast import build

    calls: list[Any] = []
    real_load = engines.load

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(engines, "load", counting_load)
    monkeypatch.setattr("namcheck.models.reference.loader.load", counting_load)
    _, choice = load_engine(everything_doc(), "fast")
    assert choice.name == "fast" and not calls

    def unavailable() -> Any:
        raise build.FastEngineUnavailableError("no C compiler found (test)")

    monkeypatch.setattr("namcheck.models.fast.wavenet.library", unavailable)
    _, choice = load_engine(everything_doc(), "auto")
    assert choice.name == "reference" and "no C compiler found" in (choice.note or "")
    assert len(calls) == 1


def test_uncovered_architecture_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(FAST_ENGINES, "WaveNet")
    _, choice = load_engine(everything_doc(), "auto")
    assert choice.name == "reference"
    assert choice.note == "reference engine: the fast engine does not cover WaveNet"


def _wavenet_with_lstm_dsp() -> dict[str, Any]:
    layer = {"input_size": 1, "condition_size": 1, "channels": 3, "kernel_size": 3,
             "dilations": [1, 2], "activation": "Tanh",
             "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}
    doc = wavenet_doc([layer], seed=3)
    doc["config"]["condition_dsp"] = lstm_doc(hidden=3, seed=4)
    return doc


def test_condition_dsp_without_fast_engine_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A condition DSP of an architecture with no fast engine: the whole model runs on the
    reference, and the note says which part."""
    monkeypatch.delitem(FAST_ENGINES, "LSTM", raising=False)
    _, choice = load_engine(_wavenet_with_lstm_dsp(), "auto")
    assert choice.name == "reference"
    assert choice.note == "reference engine: condition_dsp: the fast engine does not cover LSTM"


def test_condition_dsp_on_a_streaming_only_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A condition DSP whose engine offers only the protocol's stream() (here the float64
    reference LSTM, registered as a stand-in fast engine) runs inside the fast WaveNet: its
    prewarm is its own, the WaveNet's R-1 zeros follow, the model is stateful, and the
    stream equals the offline forward."""
    module = types.ModuleType("stand_in_lstm")
    module.unsupported = lambda model: None  # type: ignore[attr-defined]
    module.build = lambda model: load(model, dtype=torch.float64)  # type: ignore[attr-defined]
    module.tolerance = lambda model: 0.0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stand_in_lstm", module)
    monkeypatch.setitem(FAST_ENGINES, "LSTM", "stand_in_lstm")
    doc = _wavenet_with_lstm_dsp()
    net = fast(doc)
    assert net.stateful and not isinstance(net.dsp, FastWaveNet)
    assert isinstance(net.dsp, FastEngine)
    x = signal(0.05)
    y = net(x)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    assert peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64)) <= tolerance(
        read_nam(doc))
    stream = net.stream()
    parts = [stream.process(x[i : i + 100]) for i in range(0, x.size, 100)]
    assert np.array_equal(np.concatenate(parts), y)
    assert np.array_equal(net(x), y)  # a second call starts from the prewarm again


@pytest.mark.parametrize("kind", ["lstm", "linear", "convnet"])
@pytest.mark.parametrize("block", [1, 63, 334, 4096])
def test_condition_dsp_on_the_fast_kernels(kind: str, block: int) -> None:
    """A condition DSP of each other architecture runs on its own fast kernel inside the
    fast WaveNet (no stand-in): within the bound of the float64 reference (the WaveNet's
    bound plus the DSP's), stateful where the DSP is, and streaming == offline bit for bit."""
    from namcheck.models.examples import convnet_doc, linear_doc
    from namcheck.models.fast.feedforward import FastConvNet, FastLinear
    from namcheck.models.fast.lstm import FastLSTM

    doc = _wavenet_with_lstm_dsp()
    doc["config"]["condition_dsp"] = {"lstm": lstm_doc(hidden=3, seed=4),
                                      "linear": linear_doc(12, seed=5),
                                      "convnet": convnet_doc(2, (1, 2), seed=6)}[kind]
    net, choice = load_engine(doc, "auto")
    assert choice.name == "fast" and isinstance(net, FastWaveNet)
    assert isinstance(net.dsp, {"lstm": FastLSTM, "linear": FastLinear,
                                "convnet": FastConvNet}[kind])
    assert net.stateful == (kind == "lstm")
    x = signal(0.1, seed=8)
    y = net(x)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    assert peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64)) <= choice.bound
    stream = net.stream()
    parts = [stream.process(x[i : i + block]) for i in range(0, x.size, block)]
    assert np.array_equal(np.concatenate(parts), y)
    # each block's DSP call, then the WaveNet's, made from C (the bench's plugin view)
    assert np.array_equal(net.stream().process_blocks(x, block), y)
