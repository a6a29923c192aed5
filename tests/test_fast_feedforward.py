"""The fast Linear and ConvNet engines (models/fast/feedforward.py, feedforward.c) against
the float64 reference, within `feedforward_tolerance` (derived beside it); streaming ==
offline bit for bit at every block size; the header's tanh is wavenet.c's, bit for bit.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import UPSTREAM, needs_fixtures
from namcheck.models import load, read_nam
from namcheck.models.engines import load_engine
from namcheck.models.examples import convnet_doc, linear_doc
from namcheck.models.fast import activations as wavenet_activations
from namcheck.models.fast.activations import TANH_ERROR_BOUND
from namcheck.models.fast.feedforward import (
    FastConvNet,
    FastLinear,
    activation,
    feedforward_tolerance,
)
from namcheck.models.format.activations import ActivationSpec, parse_activation
from namcheck.models.numerics import forward_tolerance, peak_relative_error
from namcheck.models.reference.activations import make_activation

if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
    pytest.skip("no C compiler on this machine: the fast engine cannot be built here",
                allow_module_level=True)

FAST = Path(wavenet_activations.__file__).parent
ACTIVATIONS: list[Any] = [
    "Tanh", "ReLU", "Sigmoid", "SiLU", "Hardswish", "Softsign", "Fasttanh", "Hardtanh",
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.8, "min_slope": 0.1,
     "max_slope": 0.05},
    {"type": "PReLU", "negative_slope": 0.3},
]


def signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.5 * rng.standard_normal(n) * np.linspace(0.2, 1.0, n)).astype(np.float32)


def fast(doc: Any) -> Any:
    net, choice = load_engine(doc, "fast")
    assert choice.name == "fast", choice.note
    return net


def assert_close(doc: Any, x: np.ndarray) -> None:
    model = read_nam(doc)
    y = fast(doc)(x)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    err = peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64))
    assert err <= feedforward_tolerance(model), (err, feedforward_tolerance(model))


def convnet_model(channels: int, dilations: list[int], batchnorm: bool, act: Any, seed: int,
                  in_channels: int = 1, out_channels: int = 1, groups: int = 1) -> dict:
    """A ConvNet with weights ~ 1/sqrt(fan-in) (gain ~1 per block, as trained), batchnorm
    statistics of a trained net (positive variances, eps 1e-5)."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    cin = in_channels
    for _ in dilations:
        fan = 2 * cin // groups
        parts.append(rng.standard_normal(channels * fan) / np.sqrt(fan))
        if batchnorm:
            parts += [rng.standard_normal(channels) * 0.1,             # running_mean
                      rng.uniform(0.2, 2.0, channels),                   # running_var
                      1 + 0.2 * rng.standard_normal(channels),           # weight
                      0.1 * rng.standard_normal(channels), np.array([1e-5])]  # bias, eps
        else:
            parts.append(0.1 * rng.standard_normal(channels))
        cin = channels
    parts += [rng.standard_normal(out_channels * channels) / np.sqrt(channels),
              0.1 * rng.standard_normal(out_channels)]
    if isinstance(act, dict) and act.get("type") == "PReLU" and "negative_slopes" in act:
        act = {**act, "negative_slopes": [0.05 * (i + 1) for i in range(channels)]}
    return {"version": "0.5.0", "architecture": "ConvNet", "sample_rate": 48000,
            "config": {"channels": channels, "dilations": dilations, "batchnorm": batchnorm,
                       "activation": act, "groups": groups, "in_channels": in_channels,
                       "out_channels": out_channels},
            "weights": [float(np.float32(w)) for w in np.concatenate(parts)]}


# ---- activations: the header's copy ------------------------------------------------------

def test_every_kernel_shares_one_activation_definition() -> None:
    """vecmath.h holds the kernels' only tanh, sigmoid and activation switch (whose tanh
    bound test_tanh_bound_every_float32 proves over every float32 through wavenet.c's
    copy); every source includes it, none defines its own. Each compiled copy computes the
    same bits: feedforward.c's equals wavenet.c's for every activation on 10^7 inputs across
    the range, the clamp and the special values."""
    defines = re.compile(r"\bvf (tanh_r|sigmoid_r|fasttanh|activate)\(vf x|\bvf activate\(")
    for path in sorted(FAST.glob("*.[ch]")):
        text = path.read_text()
        assert bool(defines.search(text)) == (path.name == "vecmath.h"), path.name
        if path.suffix == ".c":
            assert '#include "vecmath.h"' in text, path.name
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-10, 10, 5 * 10**6), rng.standard_normal(5 * 10**6) * 2,
                        [0.0, -0.0, 9.0, -9.0, 1e30, -1e30, np.inf, -np.inf, 1e-40]]
                       ).astype(np.float32)
    for act in ACTIVATIONS:
        spec = parse_activation(act)
        assert np.array_equal(activation(spec, x).view(np.uint32),
                              wavenet_activations.activation(spec, x).view(np.uint32)), spec.name
    assert np.isnan(activation(ActivationSpec("Tanh"), np.array([np.nan], np.float32)))[0]


def test_silu_bound() -> None:
    """SiLU = x * sigmoid(x): the sigmoid errs by T/2 + 2^-24 (as proven for wavenet.c's
    sigmoid, the same formula), the product rounds once: |err| <= |x| (T/2 + 2^-24) + u
    |silu|."""
    x = np.linspace(-40, 40, 2_000_001).astype(np.float32)
    x64 = x.astype(np.float64)
    exact = x64 / (1 + np.exp(-x64))
    err = np.abs(activation(ActivationSpec("SiLU"), x) - exact)
    u = np.finfo(np.float32).eps / 2
    assert np.all(err <= np.abs(x64) * (TANH_ERROR_BOUND / 2 + 2.0**-24) + u * np.abs(exact)
                  + 1e-45)


@pytest.mark.parametrize("act", [a for a in ACTIVATIONS if a not in ("Tanh", "Sigmoid", "SiLU")],
                         ids=lambda a: a if isinstance(a, str) else a["type"])
def test_exact_activations_match_reference(act: Any) -> None:
    """Every other activation is exact arithmetic: within float32 rounding of the
    reference (4 eps relative of the value's scale)."""
    from namcheck.models.reference.activations import fast_tanh

    spec = parse_activation(act)
    x = np.linspace(-12, 12, 200_001).astype(np.float32)
    ref = make_activation(spec)(torch.from_numpy(x.astype(np.float64))[None, None]).numpy()[0, 0]
    if spec.name == "Fasttanh":
        ref = fast_tanh(torch.from_numpy(x)).double().numpy()
    got = activation(spec, x).astype(np.float64)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)) <= \
        4 * np.finfo(np.float32).eps


# ---- Linear -------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(taps=st.one_of(st.integers(1, 40), st.integers(250, 700)), bias=st.booleans(),
       seed=st.integers(0, 2**16), n=st.sampled_from([1, 37, 3000]))
def test_linear_random(taps: int, bias: bool, seed: int, n: int) -> None:
    """Receptive fields from 1 tap to past the kernel's 256-sample sub-block and its
    32-sample passes, with and without bias."""
    doc = linear_doc(taps, seed)
    doc["config"]["bias"] = bias
    if not bias:
        doc["weights"] = doc["weights"][:-1]
    assert_close(doc, signal(n, seed))


def test_linear_tap_order_is_the_runtimes() -> None:
    """weights[0] multiplies the newest sample: an impulse at t0 gives bias + h[k] at t0 +
    k, to the bit (one rounding: bias + h[k] + zeros)."""
    doc = linear_doc(50, seed=3)
    h = np.array(doc["weights"][:50], dtype=np.float32)
    bias = np.float32(doc["weights"][50])
    x = np.zeros(400, dtype=np.float32)
    x[100] = 1.0
    y = fast(doc)(x)
    assert np.array_equal(y[100:150], (bias + h).astype(np.float32))
    assert np.all(y[:100] == bias) and np.all(y[150:] == bias)


# ---- ConvNet ------------------------------------------------------------------------------

@st.composite
def convnets(draw: st.DrawFn) -> dict:
    channels = draw(st.sampled_from([1, 2, 3, 4, 8, 9, 16, 17]))
    dilations = [draw(st.integers(1, 64)) for _ in range(draw(st.integers(1, 5)))]
    act = draw(st.sampled_from([*ACTIVATIONS, {"type": "PReLU", "negative_slopes": []}]))
    return convnet_model(channels, dilations, draw(st.booleans()), act,
                         draw(st.integers(0, 2**16)), out_channels=draw(st.integers(1, 2)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(doc=convnets(), n=st.sampled_from([1, 50, 3000]))
def test_convnet_random(doc: dict, n: int) -> None:
    """Channels across the 8-row tiles, dilations, batchnorm on and off, every activation
    (PReLU with one slope and per channel), 1 or 2 outputs. As in the WaveNet test, only
    where the reference's own float32 holds its bound (a head that cancels its inputs to
    far below their scale breaks every peak-relative bound, the reference's first)."""
    model = read_nam(doc)
    x = signal(n, 1)
    y64 = torch.from_numpy(load(doc, dtype=torch.float64)(x.astype(np.float64)))
    y32 = torch.from_numpy(load(doc)(x.astype(np.float64)))
    assume(peak_relative_error(y32, y64) <= forward_tolerance(model, torch.float32))
    assert_close(doc, x)


@pytest.mark.parametrize("groups,cin", [(1, 2), (2, 2), (3, 3), (4, 8)])
def test_convnet_groups(groups: int, cin: int) -> None:
    """Grouped convolutions (which need in_channels >= groups: the kernel takes every
    input row; the engine's calls are mono, so this runs one kernel state against the
    reference module's own multi-channel forward)."""
    doc = convnet_model(8 if groups != 3 else 9, [1, 3, 2], True, "Tanh", seed=groups,
                        in_channels=cin, groups=groups)
    model = read_nam(doc)
    net = FastConvNet(model)
    x = np.stack([signal(700, s) for s in range(cin)])
    y = net.new_state().run(x)[0]
    ref = load(doc, dtype=torch.float64)
    xp = torch.cat([torch.zeros(1, cin, net.receptive_field - 1, dtype=torch.float64),
                    torch.from_numpy(x.astype(np.float64))[None]], dim=-1)
    y64 = ref.forward_valid(xp, None)[0, 0]
    assert peak_relative_error(torch.from_numpy(y), y64) <= feedforward_tolerance(model)
    with pytest.raises(ValueError, match="input channels"):
        net(x[0])


def test_batchnorm_folded_like_the_runtime() -> None:
    """A batchnorm that scales strongly (small variances) and shifts: folded into the conv,
    within the bound of the reference that applies it after."""
    doc = convnet_model(4, [1, 2, 4, 8], True, "ReLU", seed=11)
    assert_close(doc, signal(2000, 4))


@needs_fixtures
@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["linear", "convnet"])
def test_upstream_fixtures(name: str) -> None:
    """The upstream files against our float64 reference, and against upstream's float32
    outputs (the linear one as the runtime plays it: see the fixtures' README)."""
    path = str(UPSTREAM / "models" / f"{name}.nam")
    x = np.load(UPSTREAM / "signals" / "test_signal.npy").astype(np.float32)
    assert_close(path, x)
    model = read_nam(path)
    ref = np.load(UPSTREAM / "outputs" / f"{name}.test.f32.npy")
    bound = feedforward_tolerance(model) + forward_tolerance(model, torch.float32)
    assert peak_relative_error(torch.from_numpy(fast(path)(x)), torch.from_numpy(ref)) <= bound


def test_non_finite_input() -> None:
    x = signal(300)
    x[100] = np.nan
    for doc in (linear_doc(10), convnet_doc(3, (1, 2))):
        y = fast(doc)(x)
        assert np.all(np.isfinite(y[:100])) and np.isnan(y[100])


# ---- streaming and batches ----------------------------------------------------------------

BLOCKS: list[Any] = [1, 2, 63, 64, 65, 127, 334, 4096, "random"]


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("make", [lambda: linear_doc(300, 1), lambda: linear_doc(5, 2),
                                  lambda: convnet_model(9, [1, 7, 64, 2], True, "Tanh", 3),
                                  lambda: convnet_model(3, [5], False, "SiLU", 4, out_channels=2)],
                         ids=["linear300", "linear5", "convnet_bn", "convnet_2out"])
def test_stream_equals_offline(make: Any, block: Any) -> None:
    net = fast(make())
    x = signal(6000, seed=6)
    offline = net(x)
    sizes = (np.random.default_rng(7).integers(1, 700, size=x.size) if block == "random"
             else np.full(x.size // block + 1, block))
    for as_torch in (False, True):
        stream, outs, i = net.stream(), [], 0
        for size in sizes:
            if i >= x.size:
                break
            part = x[i : i + int(size)]
            out = stream.process(torch.from_numpy(part) if as_torch else part)
            outs.append(out.numpy() if as_torch else out)
            i += int(size)
        assert np.array_equal(np.concatenate(outs, axis=-1), offline)


def test_batch_rows_equal_single_runs() -> None:
    for doc in (linear_doc(33), convnet_model(5, [1, 2], True, "Tanh", 2)):
        net = fast(doc)
        assert isinstance(net, (FastLinear, FastConvNet))
        xs = np.stack([signal(500, seed=s) for s in range(3)])
        batched = net(xs)
        for row, x in zip(batched, xs, strict=True):
            assert np.array_equal(row, net(x))
        assert net.receptive_field == load(doc).receptive_field
