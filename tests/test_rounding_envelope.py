"""numerics.signal_tolerance: a float32 bound that follows how the network amplifies rounding
(the rounding envelope, derived in models/numerics.py), shown from both sides: every correct
float32 implementation we have (the reference in float32, the fast engine) passes on every
WaveNet fixture and on a deep, high-gain WaveNet, while a fault of 1e-4 of the output's peak
fails; and `compare --render` judges with it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from namcheck.harness.compare import compare_render
from namcheck.harness.core import Options, Signal
from namcheck.models.engines import cached_engine
from namcheck.models.examples import wavenet_doc
from namcheck.models.format import NamModel, parse_nam, read_nam
from namcheck.models.format.schema import WaveNetConfig
from namcheck.models.numerics import (
    forward_tolerance,
    peak_relative_error,
    rounding_envelope,
    signal_tolerance,
)
from namcheck.models.tolerances import FAST_TANH_RMS
from tests.conftest import NAMCORE, needs_fixtures

HAS_CC = bool(os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc"))
FAULT = 1e-4


def _array(inp: int, ch: int, out: int, dilations: list[int], bias: bool) -> dict:
    return {"input_size": inp, "condition_size": 1, "channels": ch, "kernel_size": 3,
            "dilations": dilations, "activation": "Tanh", "gating_mode": "none",
            "head": {"out_channels": out, "kernel_size": 1, "bias": bias}}


def deep_model() -> NamModel:
    """24 layers of 16 channels, dilations 1..2048 twice (receptive field 16381), weights
    of standard deviation 0.4 (the presets' 0.3 is already gain > 1 per layer): its float32
    forwards round to 2.5e-5 of the peak here (5.7e-5 for the fast engine on 8000 samples),
    near or past depth x 8 eps = 2.7e-5."""
    dil = [2**i for i in range(12)]
    return parse_nam(wavenet_doc([_array(1, 16, 8, dil, False), _array(16, 8, 1, dil, True)],
                                 seed=1, weight_std=0.4, head_scale=0.05))


def signal(n: int = 4000) -> np.ndarray:
    """A rising 110 Hz tone with noise (the model saturates as it rises)."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return (0.5 * np.sin(t * 2 * np.pi * 110 / 48000) * np.linspace(0, 1, n)
            + 0.05 * rng.standard_normal(n))


def faulted(y: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """y with a fault of FAULT x the exact peak at the peak, in the direction y already errs
    (so the measured error is at least FAULT)."""
    y = y.detach().double().clone()
    i = int(exact.abs().argmax())
    sign = 1.0 if float(y[i] - exact[i]) >= 0 else -1.0
    y[i] += sign * FAULT * float(exact.abs().max())
    return y


def outputs(model: NamModel, x: np.ndarray) -> dict[str, torch.Tensor]:
    xt = torch.from_numpy(x)
    out = {name: cached_engine(model, "reference", dtype=dt)[0](xt).detach().double()
           for name, dt in (("exact", torch.float64), ("reference32", torch.float32))}
    if HAS_CC:
        out["fast"] = cached_engine(model, "fast", dtype=torch.float32)[0](xt).detach().double()
    return out


# Where the fast engine's bound (its tanh's approximation error modelled as one more random
# term per unit) is above the fault: the envelope then overestimates that engine's real
# error (3.0e-6) twenty-fold, so a 1e-4 fault passes it (a known limitation).
FAST_FAULT_UNDETECTED = {"wavenet_a1_standard.nam", "my_model.nam"}


def two_sided(model: NamModel, x: np.ndarray, name: str = ""
              ) -> tuple[dict[str, float], dict[str, float]]:
    """Each implementation's bound and error; asserts both sides. The fast engine's bound
    adds its tanh's approximation (FAST_TANH_RMS); the reference's library tanh rounds."""
    out = outputs(model, x)
    exact = out.pop("exact")
    bounds, errors = {}, {}
    for impl, y in out.items():
        approx = FAST_TANH_RMS if impl == "fast" else 0.0
        bounds[impl] = bound = signal_tolerance(model, x, torch.float32, 1, approx=approx)
        assert bound >= forward_tolerance(model, torch.float32)
        errors[impl] = err = peak_relative_error(y, exact)
        assert err <= bound, (impl, err, bound)
        fault = peak_relative_error(faulted(y, exact), exact)
        if impl == "fast" and name in FAST_FAULT_UNDETECTED:
            assert fault <= bound  # documents the limitation (see FAST_FAULT_UNDETECTED)
        else:
            assert fault > bound, (impl, fault, bound)
    return bounds, errors


@pytest.fixture(scope="module")
def deep() -> NamModel:
    return deep_model()


def test_deep_high_gain_model_two_sided(deep: NamModel) -> None:
    """Every correct float32 forward passes, a 1e-4 fault fails. The figures (4000 samples):
    reference float32 2.5e-5, fast 2.4e-5, envelope peak 3.8e-5 / 5.1e-5 (fast's tanh)."""
    bounds, _ = two_sided(deep, signal())
    assert max(bounds.values()) < FAULT
    # the envelope is what sets the bound here, not depth x 8 eps
    assert min(bounds.values()) > forward_tolerance(deep, torch.float32)


def test_envelope_follows_the_signal(deep: NamModel) -> None:
    """A quieter input is amplified by unsaturated units: the envelope is a function of the
    signal, not of the model alone."""
    loud = rounding_envelope(deep, signal(), torch.float32)
    quiet = rounding_envelope(deep, signal() * 0.01, torch.float32)
    assert loud is not None and quiet is not None and loud != quiet


def test_non_wavenets_keep_the_stage_bound() -> None:
    from namcheck.models.examples import lstm_doc

    lstm = parse_nam(lstm_doc())
    x = signal(512)
    assert rounding_envelope(lstm, x, torch.float32) is None
    assert signal_tolerance(lstm, x, torch.float32) == forward_tolerance(lstm, torch.float32)


@needs_fixtures
@pytest.mark.parametrize("name", ["wavenet.nam", "wavenet_a1_standard.nam",
                                  "wavenet_a2_max.nam", "wavenet_condition_dsp.nam",
                                  "slimmable_wavenet.nam", "my_model.nam", "A2.nam"])
def test_fixtures_two_sided(name: str) -> None:
    path = NAMCORE / name
    if not path.is_file():
        pytest.skip(f"fixture {path} is absent")
    model = read_nam(path)
    inner = model.submodels[-1].model if model.submodels else model
    if not isinstance(inner.config, WaveNetConfig):
        pytest.skip(f"{name} is not a WaveNet")
    wav, _ = sf.read(str(NAMCORE / "input.wav"), dtype="float64")
    wav = np.asarray(wav if wav.ndim == 1 else wav[:, 0])
    start = int(np.argmax(np.abs(wav) > 0.01))  # the file opens with silence
    x = wav[start : start + 4000]
    two_sided(inner, x, name)


def test_compare_render_uses_the_envelope(deep: NamModel, tmp_path: Path) -> None:
    """`compare --render`: a correct float32 render of the deep model passes (it failed
    depth x 8 eps on 8000 samples), the same render with a 1e-4 fault fails."""
    x = signal()
    out = outputs(deep, x)
    sig = Signal(x, 48000, "tone", False)
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    sf.write(str(good), out["reference32"].numpy(), 48000, subtype="FLOAT")
    sf.write(str(bad), faulted(out["reference32"], out["exact"]).numpy(), 48000,
             subtype="FLOAT")
    ok = {c.name: c for c in compare_render(deep, good, sig, Options()).checks}
    assert ok["output"].passed, ok["output"]
    assert "rounding envelope" in ok["output"].detail
    ko = {c.name: c for c in compare_render(deep, bad, sig, Options()).checks}
    assert ko["output"].passed is False


@pytest.mark.skipif(not HAS_CC, reason="no C compiler: the fast engine cannot be built here")
def test_fast_tanh_rms() -> None:
    """FAST_TANH_RMS is at least the fast kernel's RMS tanh error on normal inputs."""
    from namcheck.models.fast.activations import activation
    from namcheck.models.format.activations import ActivationSpec

    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 3.0, 10.0):
        x = (rng.standard_normal(10**6) * scale).astype(np.float32)
        err = (activation(ActivationSpec("Tanh"), x).astype(np.float64)
               - np.tanh(x.astype(np.float64)))
        assert float(np.sqrt(np.mean(err**2))) <= FAST_TANH_RMS
