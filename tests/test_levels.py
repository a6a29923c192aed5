"""Loudness and gain definitions against closed forms, and against stored fixture metadata."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import FIXTURES, UPSTREAM, needs_fixtures
from namcheck.harness.checks import metadata_loudness
from namcheck.harness.core import Options, Signal, measure
from namcheck.models import load, read_nam
from namcheck.signals.generate import default_signal, log_sweep, pink_noise, sine
from namcheck.signals.levels import gain, gain_from_levels, loudness
from namcheck.signals.wav import read_mono


def fir(taps: list[float]) -> dict:
    return {"version": "0.7.0", "architecture": "Linear", "sample_rate": 48000,
            "config": {"receptive_field": len(taps), "bias": False}, "weights": taps}


def test_loudness_of_a_gain_on_a_sine_is_closed_form() -> None:
    """A one-tap FIR of gain a on a sine of amplitude A has RMS a*A/sqrt(2) (whole periods)."""
    a, A = 0.3, 0.5
    x = sine(1000.0, 1.0, 48000, amplitude=A)  # 1000 whole periods
    measured = loudness(load(fir([a]), dtype=torch.float64), x)
    assert measured == pytest.approx(20 * math.log10(a * A / math.sqrt(2)), abs=1e-12)


def test_gain_heuristic_endpoints() -> None:
    levels_linear = [0.1 * k for k in range(11)]  # "triangle": output grows with input
    assert gain_from_levels(levels_linear) == pytest.approx(0.0, abs=1e-15)
    assert gain_from_levels([0.0] + [0.7] * 10) == pytest.approx(10 / 11 * 2 - 1)
    assert gain_from_levels([0.7] * 11) == 1.0  # clipped "square"
    net = load(fir([0.5]), dtype=torch.float64)
    assert gain(net, sine(440.0)) == pytest.approx(0.0, abs=1e-12)


def test_generated_signals_are_deterministic_and_bounded() -> None:
    assert np.array_equal(default_signal(), default_signal())
    assert np.array_equal(pink_noise(seed=3), pink_noise(seed=3))
    assert not np.array_equal(pink_noise(seed=3), pink_noise(seed=4))
    for x in (default_signal(), log_sweep(), pink_noise()):
        assert len(x) == 48000 and np.max(np.abs(x)) <= 0.5 + 1e-12


@needs_fixtures
@pytest.mark.parametrize("name", ["a1_standard", "a1_nano", "gated", "a2_features",
                                  "condition_dsp", "convnet", "top_head", "a2_container"])
def test_stored_loudness_matches_measured_on_standard_input(name: str) -> None:
    """The exporter's stored loudness (its own float32 forward) vs ours on NAM's input."""
    x, _ = read_mono(FIXTURES / "loudness_input.wav")
    model = read_nam(UPSTREAM / "models" / f"{name}.nam")
    m = measure(model, Signal(x, 48000, "loudness_input.wav", True),
                Options(with_gain=False, engine="reference"))
    result = metadata_loudness(model, m, True, torch.float32)
    assert result.passed, result


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_joined_gain_sweep_equals_single_runs(dtype: torch.dtype) -> None:
    """The joined 11-level forward equals 11 single forwards within the two-implementation
    bound, and its gain-1.0 part is the loudness run itself (an LSTM, stateful, runs each
    level from its start state)."""
    from namcheck.models.examples import a2_doc, builtin_doc, lstm_doc
    from namcheck.models.numerics import forward_tolerance, peak_relative_error
    from namcheck.signals.levels import GAIN_INPUTS, gain_sweep, rms

    x = default_signal()[:12000]
    for doc in (builtin_doc(), a2_doc(channels=4), lstm_doc()):
        model = read_nam(doc)
        net = load(model, dtype=dtype)
        out, levels = gain_sweep(net, x)
        tol = forward_tolerance(model, dtype, implementations=2)
        singles = [net(torch.from_numpy(g * x)) for g in GAIN_INPUTS]
        assert peak_relative_error(out, singles[-1]) <= tol
        peak = float(singles[-1].abs().max())
        for level, single in zip(levels, singles, strict=True):
            assert abs(level - rms(single)) <= tol * peak
        assert torch.equal(out, net(torch.from_numpy(x))) or peak_relative_error(
            out, net(torch.from_numpy(x))) <= tol
