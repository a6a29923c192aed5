"""The fast engine (models/fast/) against the float64 reference: a second implementation.

Every comparison is peak-relative against float64 within `fast_tolerance` (the reference's
float32 rounding bound per stage plus the tanh approximation's proven bound). The tanh
bound itself is proved over every float32 input. Streaming at any block size must equal the
engine's own offline forward bit for bit: the kernel does the same arithmetic per sample
whatever the block boundaries (tests/test_engine_contract.py).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import NAMCORE, needs_fixtures
from namcheck.models import load, read_nam
from namcheck.models.engines import fast_unsupported, load_engine, selected_model
from namcheck.models.examples import a1_doc, a2_doc, wavenet_doc
from namcheck.models.fast.activations import TANH_ERROR_BOUND, activation
from namcheck.models.fast.wavenet import FastWaveNet, unsupported
from namcheck.models.fast.wavenet import tolerance as fast_tolerance
from namcheck.models.format.activations import ActivationSpec, parse_activation
from namcheck.models.numerics import forward_tolerance, peak_relative_error
from namcheck.models.reference.activations import fast_tanh

if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
    pytest.skip("no C compiler on this machine: the fast engine cannot be built here",
                allow_module_level=True)

RATE = 48000
FAST_ACTIVATIONS: list[Any] = [
    "Tanh", "ReLU", "Sigmoid", "Hardswish", "Softsign", "Fasttanh", "Hardtanh",
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.8, "min_slope": 0.1,
     "max_slope": 0.05},
]


def fast(doc: Any, slim: float | None = None) -> FastWaveNet:
    net, choice = load_engine(doc, "fast", slim=slim)
    assert choice.name == "fast", choice.note
    assert isinstance(net, FastWaveNet)
    return net


def signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    return (0.5 * rng.standard_normal(n) * np.linspace(0.1, 1.0, n)).astype(np.float32)


def assert_close_to_reference(doc: Any, x: np.ndarray, slim: float | None = None) -> None:
    model = selected_model(read_nam(doc), slim)
    y = fast(doc, slim)(x)
    y64 = load(doc, dtype=torch.float64, slim=slim)(x.astype(np.float64))
    err = peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64))
    assert err <= fast_tolerance(model), (err, fast_tolerance(model))


# ---- activations ------------------------------------------------------------------------

def test_tanh_bound_every_float32() -> None:
    """|tanh_fast(x) - tanh(x)| <= TANH_ERROR_BOUND for every float32 x.

    Exhaustive over all 1.09e9 float32 values in [0, 9]. Above 9 the kernel clamps its input
    to 9, so the error there is at most |tanh_fast(9) - tanh(9)| + (1 - tanh(9)) (checked
    below, with inf). Negative inputs: the kernel's tanh is odd in IEEE arithmetic (the
    clamps are symmetric, x*x is even, x*p/q flips sign exactly), checked on 10^7 values."""
    spec = ActivationSpec("Tanh")
    top = int(np.float32(9.0).view(np.uint32))
    worst, step = 0.0, 1 << 24
    for start in range(0, top + 1, step):
        x = np.arange(start, min(start + step, top + 1), dtype=np.uint32).view(np.float32)
        err = np.abs(activation(spec, x).astype(np.float64) - np.tanh(x.astype(np.float64)))
        worst = max(worst, float(err.max()))
    assert worst <= TANH_ERROR_BOUND
    big = np.array([9.0, 9.5, 20.0, 1e30, np.inf], dtype=np.float32)
    assert np.all(np.abs(activation(spec, big) - np.tanh(big.astype(np.float64)))
                  <= TANH_ERROR_BOUND)
    x = np.random.default_rng(1).standard_normal(10**7).astype(np.float32) * 4
    assert np.array_equal(activation(spec, -x), -activation(spec, x))
    assert np.isnan(activation(spec, np.array([np.nan], dtype=np.float32)))[0]


def test_sigmoid_bound() -> None:
    """sigmoid = 0.5 + 0.5 tanh(x/2): x/2 and 0.5*t are exact, the sum rounds once (half an
    ulp of a result below 2, <= 2^-24: tanh's error can take it just past 1), so the error
    is <= TANH_ERROR_BOUND/2 + 2^-24; checked on a fine grid."""
    x = np.linspace(-40, 40, 4_000_001).astype(np.float32)
    exact = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    err = np.abs(activation(ActivationSpec("Sigmoid"), x) - exact).max()
    assert err <= TANH_ERROR_BOUND / 2 + 2.0**-24


@pytest.mark.parametrize("act", [a for a in FAST_ACTIVATIONS if a not in ("Tanh", "Sigmoid")],
                         ids=lambda a: a if isinstance(a, str) else a["type"])
def test_exact_activations_match_reference(act: Any) -> None:
    """Every other activation is exact arithmetic: within float32 rounding of the reference
    (4 eps relative of the value's scale: a few roundings per formula)."""
    from namcheck.models.reference.activations import make_activation

    spec = parse_activation(act)
    x = np.linspace(-12, 12, 200_001).astype(np.float32)
    ref = make_activation(spec)(torch.from_numpy(x.astype(np.float64))).numpy()
    if spec.name == "Fasttanh":  # the runtime's formula, evaluated in float32 by both
        ref = fast_tanh(torch.from_numpy(x)).double().numpy()
    got = activation(spec, x).astype(np.float64)
    scale = np.maximum(np.abs(ref), 1.0)
    assert np.max(np.abs(got - ref) / scale) <= 4 * np.finfo(np.float32).eps


def test_prelu_slopes_per_row() -> None:
    spec = parse_activation({"type": "PReLU", "negative_slopes": [0.1, 0.2, 0.3]})
    x = np.full(17, -2.0, dtype=np.float32)
    for row, slope in enumerate((0.1, 0.2, 0.3)):
        assert np.allclose(activation(spec, x, row), -2.0 * np.float32(slope), rtol=0, atol=0)


# ---- whole models -----------------------------------------------------------------------

@st.composite
def fast_configs(draw: st.DrawFn) -> dict:
    """Random WaveNets within the fast engine's cover: widths across the 8-row tiles,
    every gating, activation, head option, bottleneck, 1-3 arrays."""
    n_arrays = draw(st.integers(1, 3))
    layers, prev_channels, prev_head = [], None, None
    for a in range(n_arrays):
        channels = prev_head if prev_head is not None else draw(
            st.sampled_from([1, 3, 8, 9, 16, 17]))
        n = draw(st.integers(1, 3))
        head1x1 = draw(st.booleans()) and a == 0
        layer1x1 = draw(st.booleans())
        bottleneck = draw(st.sampled_from([1, 2, 5, 8, 11])) if layer1x1 else channels
        head_width = draw(st.integers(1, 10)) if head1x1 else bottleneck
        if a > 0 and head_width != prev_head:  # the accumulator must keep its width
            bottleneck, head1x1, layer1x1, head_width = prev_head, False, True, prev_head
        head_out = 1 if a == n_arrays - 1 else draw(st.sampled_from([2, 8, 9]))
        gating = [draw(st.sampled_from(["none", "gated", "blended"])) for _ in range(n)]
        prelu = {"type": "PReLU", "negative_slopes": [0.05 * (i + 1) for i in range(bottleneck)]}
        acts = [*FAST_ACTIVATIONS, prelu]
        layers.append({
            "input_size": 1 if a == 0 else prev_channels, "condition_size": 1,
            "channels": channels, "bottleneck": bottleneck,
            "kernel_sizes": [draw(st.integers(1, 6)) for _ in range(n)],
            "dilations": [draw(st.integers(1, 40)) for _ in range(n)],
            "activation": [draw(st.sampled_from(acts)) for _ in range(n)],
            "gating_mode": gating,
            "secondary_activation": [draw(st.sampled_from(["Sigmoid", "Tanh", "Hardtanh"]))
                                     if g != "none" else None for g in gating],
            "layer1x1": {"active": layer1x1, "groups": 1},
            "head1x1": {"active": head1x1, "out_channels": head_width, "groups": 1},
            "head": {"out_channels": head_out, "kernel_size": draw(st.integers(1, 4)),
                     "bias": draw(st.booleans())},
        })
        prev_channels, prev_head = channels, head_out
    # Weights at the scale training starts from, 1/sqrt(fan-in) of the widest conv, so each
    # layer has gain ~1 as in real models (tests/test_forward_properties.py's regime).
    fan_in = max(la["channels"] * max(la["kernel_sizes"]) for la in layers)
    return wavenet_doc(layers, seed=draw(st.integers(0, 2**16)), head_scale=0.5,
                       weight_std=draw(st.sampled_from([0.5, 1.0])) / math.sqrt(fan_in))


# derandomize: CI sees the same examples every run (of 400 random ones tried while writing
# this, the worst reached 0.23 of the bound; the reference's float32 0.24 of its own).
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(doc=fast_configs(), seconds=st.sampled_from([0.001, 0.02, 0.2]))
def test_fast_matches_float64_random_configs(doc: dict, seconds: float) -> None:
    """Wherever the peak-relative bounds hold at all. They assume the output has the scale
    of the signals inside; a model whose head cancels its activations to ~1e-4 of them
    (e.g. 16 sigmoids, ~0.5 each, summed by small head1x1 weights) has rounding errors on
    the scale of the activations, and there the reference's own float32 misses its bound
    too (2.0-2.7x on such an example; the fast engine 1.1-1.3x of its). Those examples are
    rejected by the reference's float32 result, never by the fast engine's."""
    model = read_nam(doc)
    assert unsupported(model) is None
    x = signal(seconds)
    y64 = torch.from_numpy(load(doc, dtype=torch.float64)(x.astype(np.float64)))
    y32 = torch.from_numpy(load(doc)(x.astype(np.float64)))
    assume(peak_relative_error(y32, y64) <= forward_tolerance(model, torch.float32))
    assert_close_to_reference(doc, x)


@pytest.mark.parametrize("preset", ["standard", "lite", "feather", "nano"])
def test_fast_matches_float64_a1(preset: str) -> None:
    assert_close_to_reference(a1_doc(preset, seed=3), signal(1.0))


@pytest.mark.parametrize("channels", [3, 8])
def test_fast_matches_float64_a2(channels: int) -> None:
    assert_close_to_reference(a2_doc(channels, seed=4), signal(0.5))


@needs_fixtures
@pytest.mark.fixtures
@pytest.mark.parametrize("name,slim", [("wavenet_a1_standard.nam", None), ("wavenet.nam", None),
                                       ("A2.nam", 1.0), ("A2.nam", 0.2),
                                       ("slimmable_wavenet.nam", 0.5),
                                       ("slimmable_container.nam", None)])
def test_fast_matches_float64_fixtures(name: str, slim: float | None) -> None:
    assert_close_to_reference(str(NAMCORE / name), signal(1.0, seed=8), slim)


def test_non_finite_input_propagates() -> None:
    """NaN stays NaN (the clamps never turn it into a number): audit's output_level sees it."""
    x = signal(0.05)
    x[100] = np.nan
    y = fast(a1_doc("nano"))(x)
    assert np.all(np.isfinite(y[:100])) and np.isnan(y[100])


# Streaming == offline at every block size, batch == single rows, NumPy/torch in and out:
# tests/test_engine_contract.py, for every engine.


# ---- what the fast engine does not cover falls back, and says so ------------------------

def test_fallback_names_the_reason() -> None:
    """float64 and CUDA runs take the reference (every WaveNet option is covered:
    tests/test_fast_wavenet_options.py), and the choice says why."""
    net, choice = load_engine(a1_doc("nano"), "fast", dtype=torch.float64)
    assert choice.name == "reference" and "runs float32" in (choice.note or "")
    assert not isinstance(net, FastWaveNet)
    assert "runs on the CPU, not cuda" in (fast_unsupported(read_nam(a1_doc("nano")),
                                                            torch.float32, "cuda") or "")


@pytest.mark.parametrize("case,why", [("no compiler", "no-such-cc"),
                                      ("disabled", "NAMCHECK_NO_FAST"),
                                      ("read-only cache", "NAMCHECK_CACHE")])
def test_unbuildable_kernel_falls_back(tmp_path: Any, case: str, why: str) -> None:
    """Where the kernel cannot be built or is switched off, the reference runs and the
    choice says why (a fresh process: the built library is cached per process)."""
    code = ("from namcheck.models.engines import load_engine\n"
            "from namcheck.models.examples import a1_doc\n"
            "net, c = load_engine(a1_doc('nano'), 'auto')\n"
            "print(c.name, '|', c.note)\n")
    env = {**os.environ, "NAMCHECK_CACHE": str(tmp_path / "cache")}
    env.pop("NAMCHECK_NO_FAST", None)
    if case == "no compiler":
        env["CC"] = str(tmp_path / "no-such-cc")
    elif case == "disabled":
        env["NAMCHECK_NO_FAST"] = "1"
    else:
        (tmp_path / "file").write_text("")
        env["NAMCHECK_CACHE"] = str(tmp_path / "file" / "cache")  # below a file: unwritable
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("reference |") and why in out
    assert not list(tmp_path.rglob("*.so"))
