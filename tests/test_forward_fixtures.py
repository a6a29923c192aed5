"""Our forward vs the upstream implementation's outputs on the shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import DEVICES, NAMCORE, UPSTREAM, needs_fixtures
from namcheck.models import load, read_nam
from namcheck.models.format import NamModel
from namcheck.models.format.schema import WaveNetConfig
from namcheck.models.numerics import eps, forward_tolerance, peak_relative_error

pytestmark = needs_fixtures

MODELS = ["a1_standard", "a1_lite", "a1_feather", "a1_nano", "gated", "top_head",
          "a2_features", "condition_dsp", "lstm", "linear", "convnet"]
DTYPES = {"f32": torch.float32, "f64": torch.float64}


def with_config_head_scale(model: NamModel) -> NamModel:
    """Upstream's float64 model scales by the unrounded config head_scale, while the file's
    tail holds it rounded to float32 (what the runtime and we use). To compare algorithms
    at float64 precision we put the config value in the tail, here and in a condition DSP."""

    def edit(doc: dict) -> None:
        for d in (doc, doc["config"].get("condition_dsp")):
            if d and d["architecture"] == "WaveNet":
                d["weights"][-1] = d["config"]["head_scale"]

    return model.replace_data(edit) if isinstance(model.config, WaveNetConfig) else model


def signal() -> torch.Tensor:
    return torch.from_numpy(np.load(UPSTREAM / "signals" / "test_signal.npy"))


def bound(model: NamModel, name: str, dtype: torch.dtype) -> float:
    if dtype == torch.float32:  # both sides round in float32
        return forward_tolerance(model, dtype, implementations=2)
    if name == "lstm":
        # The fixture's start state carries float32 rounding (the difference is confined to
        # the first ~1000 samples and is 3e-16 after): one float32 stage of error.
        return forward_tolerance(model, torch.float32)
    return forward_tolerance(model, dtype, implementations=2)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("suffix", ["f32", "f64"])
@pytest.mark.parametrize("name", MODELS)
def test_matches_upstream(name: str, suffix: str, device: str) -> None:
    dtype = DTYPES[suffix]
    model = read_nam(UPSTREAM / "models" / f"{name}.nam")
    if dtype == torch.float64:
        model = with_config_head_scale(model)
    ref = torch.from_numpy(np.load(UPSTREAM / "outputs" / f"{name}.test.{suffix}.npy"))
    y = load(model, dtype=dtype, device=device)(signal())
    assert y.shape == ref.shape
    err = peak_relative_error(y, ref)
    assert err <= bound(model, name, dtype), f"{name} {suffix}: {err:.3e}"


@pytest.mark.parametrize("suffix", ["f32", "f64"])
@pytest.mark.parametrize("index", [0, 1])
def test_container_submodels_match_upstream(index: int, suffix: str) -> None:
    dtype = DTYPES[suffix]
    container = read_nam(UPSTREAM / "models" / "a2_container.nam")
    sub = container.submodels[index].model
    if dtype == torch.float64:
        sub = with_config_head_scale(sub)
    ref_file = UPSTREAM / "outputs" / f"a2_container.sub{index}.test.{suffix}.npy"
    ref = torch.from_numpy(np.load(ref_file))
    y = load(sub, dtype=dtype)(signal())
    assert peak_relative_error(y, ref) <= bound(sub, "a2_container", dtype)


def test_head_scale_tail_is_what_runs() -> None:
    """In float64 the tail (float32-rounded) and config head_scale give outputs that differ by
    exactly their ratio, so the runtime's choice is observable, not assumed."""
    model = read_nam(UPSTREAM / "models" / "a1_nano.nam")
    x = signal()
    tail = load(model, dtype=torch.float64)(x)
    cfg = load(with_config_head_scale(model), dtype=torch.float64)(x)
    ratio = model.head_scale_config / model.head_scale
    assert ratio != 1.0
    assert peak_relative_error(tail * ratio, cfg) <= 4 * eps(torch.float64)


def test_container_full_size_is_last_submodel() -> None:
    x = signal()[:4000]
    full = load(UPSTREAM / "models" / "a2_container.nam", dtype=torch.float64)(x)
    last = load(read_nam(UPSTREAM / "models" / "a2_container.nam").submodels[-1].model,
                dtype=torch.float64)(x)
    assert torch.equal(full, last)


@pytest.mark.parametrize(("slim", "expected"), [(0.0, 0), (0.4, 0), (0.5, 1), (1.0, 1)])
def test_a2_slim_selects_submodel_by_runtime_rule(slim: float, expected: int) -> None:
    net = load(NAMCORE / "A2.nam", slim=slim)
    assert net.active == expected  # first max_value > slim (0.5), else the last


@pytest.mark.parametrize("path", sorted(p.name for p in NAMCORE.glob("*.nam"))
                         if NAMCORE.is_dir() else [])
def test_namcore_examples_run(path: str) -> None:
    net = load(NAMCORE / path)
    y = net(torch.linspace(-0.5, 0.5, 2000))
    assert y.shape == (2000,) and torch.isfinite(y).all()


@pytest.mark.parametrize("slim", [0.0, 0.34, 0.67, 1.0])
def test_slimmable_wavenet_slices(slim: float) -> None:
    full = read_nam(NAMCORE / "slimmable_wavenet.nam")
    net = load(full, slim=slim)
    channels = net.arrays[0].layers[0].conv.spec.cin
    assert channels == [1, 2, 3][min(int(slim * 3), 2)]
    y = net(torch.linspace(-0.5, 0.5, 3000))
    assert torch.isfinite(y).all()
    if slim == 1.0:
        assert torch.equal(y, load(full)(torch.linspace(-0.5, 0.5, 3000)))


@pytest.mark.parametrize("path", [NAMCORE / "lstm.nam", UPSTREAM / "models" / "lstm.nam"],
                         ids=["namcore", "upstream"])
def test_an_lstms_float32_error_is_within_its_stated_bound(path) -> None:
    """An LSTM's state carries its steps' rounding: on namcore-examples/lstm.nam the
    reference's float32 forward errs by 2.7e-6 of the peak, beyond its depth x 8 eps
    (1.9e-6). The bound counts the LSTM's effective stages (numerics.rounding_stages) and
    holds, for our forward and for upstream's stored float32 output alike."""
    from namcheck.models.fast.lstm import lstm_gain, lstm_step_bound, lstm_tolerance
    from namcheck.models.numerics import chain_depth, rounding_stages

    model = read_nam(path)
    gain = lstm_gain(model)
    assert rounding_stages(model) == max(chain_depth(model), gain + 1)
    assert lstm_tolerance(model) > gain * lstm_step_bound(model)  # (+ the head's own)
    x = signal()
    exact = load(model, dtype=torch.float64)(x)
    bound32 = forward_tolerance(model, torch.float32) + forward_tolerance(model, torch.float64)
    assert peak_relative_error(load(model, dtype=torch.float32)(x), exact) <= bound32
