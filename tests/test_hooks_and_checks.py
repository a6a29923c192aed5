"""The reference hook by measurement, its refusals, and every check failing when it should."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import NAMCORE, UPSTREAM, needs_fixtures
from namcheck.harness import checks as C
from namcheck.harness.core import Options, Signal, measure
from namcheck.harness.hooks import HookRefusedError, closed_form_shift_db, scale_output
from namcheck.harness.verify import verify_model
from namcheck.models import read_nam
from namcheck.models.examples import builtin_doc, wavenet_doc
from namcheck.signals.generate import default_signal

SHORT = Signal(default_signal()[:12000], None, "first 0.25 s of the default signal", True)
REFERENCE = Options(engine="reference")


def with_metadata(doc: dict, loudness: float, gain: float) -> dict:
    doc["metadata"] = {"loudness": loudness, "gain": gain}
    return doc


def measured_builtin() -> tuple[dict, float, float]:
    """The built-in model with metadata measured on SHORT (so stored == measured)."""
    doc = builtin_doc()
    m = measure(read_nam(doc), SHORT, REFERENCE)
    return with_metadata(doc, m.loudness, C.gain_from_levels(m.levels)), m.loudness, 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [0.1234, 3.7, 1e-3, 0.5, 2.0])
def test_reference_hook_passes_every_check_builtin(scale: float, dtype: torch.dtype) -> None:
    doc, _, _ = measured_builtin()
    report = verify_model(read_nam(doc), [scale], "reference", SHORT, Options(dtype=dtype))
    failed = [c for c in report.checks if c.passed is False]
    assert not failed, failed
    names = {(c.name, c.scale) for c in report.checks if c.passed}
    assert {("loudness_shift", scale), ("linearity", scale), ("metadata_shift", scale),
            ("gain_invariant", scale)} <= names


@needs_fixtures
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["a1_nano", "a2_features", "condition_dsp", "gated",
                                  "a2_container"])
def test_reference_hook_on_fixtures(name: str, dtype: torch.dtype) -> None:
    model = read_nam(UPSTREAM / "models" / f"{name}.nam")
    opts = Options(dtype=dtype, with_gain=name != "a2_container")
    signal = replace(SHORT, standard_input=False)  # stored loudness is for NAM's input
    report = verify_model(model, [0.1234, 3.7, 1e-3], "reference", signal, opts)
    failed = [c for c in report.checks if c.passed is False]
    assert not failed, failed
    passed = [c.name for c in report.checks if c.passed]
    assert sum(n.startswith("loudness_shift") for n in passed) == 3
    assert sum(n.startswith("metadata_shift") for n in passed) == 3
    if name == "a2_container":
        assert sum("submodel1.loudness_shift" in n for n in passed) == 3
        assert sum(n == "container_metadata" for n in passed) == 4  # + the unscaled one


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_bad_scale_refused_and_input_unchanged(scale: float) -> None:
    model = read_nam(builtin_doc())
    before = model.to_dict()
    with pytest.raises(HookRefusedError, match="finite number > 0"):
        scale_output(model, scale)
    assert model.to_dict() == before


def test_post_stack_head_refused_unless_forced() -> None:
    layers = [{"input_size": 1, "condition_size": 1, "channels": 2, "kernel_size": 2,
               "dilations": [1, 2], "activation": "Tanh",
               "head": {"out_channels": 2, "kernel_size": 1, "bias": True}}]
    doc = wavenet_doc(layers, seed=1, head={"channels": 2, "out_channels": 1,
                                            "kernel_sizes": [1], "activation": "Tanh"})
    model = read_nam(with_metadata(doc, -10.0, 0.5))
    with pytest.raises(HookRefusedError, match="post-stack head"):
        scale_output(model, 2.0)
    forced = scale_output(model, 2.0, force=True)
    assert forced.head_scale == pytest.approx(2 * model.head_scale)
    report = verify_model(model, [2.0], "reference", SHORT, Options(with_gain=False))
    lin = next(c for c in report.checks if (c.name, c.scale) == ("linearity", 2))
    assert lin.passed is False and "closed form does not hold" in lin.detail


@needs_fixtures
def test_container_with_lstm_refused() -> None:
    with pytest.raises(HookRefusedError, match="LSTM has no head_scale"):
        scale_output(NAMCORE / "slimmable_container.nam", 0.5)


def test_hook_keeps_unknown_keys_and_container_metadata() -> None:
    sub = with_metadata(builtin_doc(), -30.0, 0.9)
    container = {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],
                 "sample_rate": 48000, "notes": "kept",
                 "metadata": {"loudness": -30.0, "gain": 0.9, "input_level_dbu": 12.0},
                 "config": {"submodels": [{"max_value": 0.5, "model": with_metadata(
                     builtin_doc(), -40.0, 0.2)}, {"max_value": 1.0, "model": sub}]}}
    scaled = scale_output(container, 0.25)
    assert scaled.data["notes"] == "kept"
    assert scaled.loudness == pytest.approx(-30.0 + closed_form_shift_db(0.25))
    assert scaled.metadata["input_level_dbu"] == 12.0
    assert C.container_metadata(scaled).passed


# ---- each check fails on a deliberately broken input ---------------------------------------

def broken_pair(edit_after) -> tuple[C.Measurement, C.Measurement, object, object]:
    doc, _, _ = measured_builtin()
    before = read_nam(doc)
    after = scale_output(before, 0.5).replace_data(edit_after)
    return (measure(before, SHORT, REFERENCE), measure(after, SHORT, REFERENCE), before, after)


def test_wrong_scale_fails_loudness_shift_and_linearity() -> None:
    m0, m1, before, _ = broken_pair(
        lambda d: d["weights"].__setitem__(-1, d["weights"][-1] * 1.001))
    assert C.loudness_shift(m0, m1, 0.5, torch.float32).passed is False
    assert C.linearity(before, m0, m1, 0.5, torch.float32).passed is False


def test_inner_weight_change_fails_gain_invariant() -> None:
    m0, m1, _, _ = broken_pair(lambda d: d["weights"].__setitem__(5, d["weights"][5] + 0.5))
    assert C.gain_invariant(m0, m1, torch.float32).passed is False


def test_wrong_metadata_shift_fails() -> None:
    _, _, before, after = broken_pair(
        lambda d: d["metadata"].__setitem__("loudness", d["metadata"]["loudness"] + 1e-3))
    assert C.metadata_shift(before, after, 0.5).passed is False


def test_stored_loudness_off_fails_metadata_loudness() -> None:
    doc, loud, _ = measured_builtin()
    model = read_nam(doc)
    m = measure(model, SHORT, Options(with_gain=False, engine="reference"))
    assert C.metadata_loudness(model, m, True, torch.float32).passed is True
    off = model.replace_data(lambda d: d["metadata"].__setitem__("loudness", loud + 0.01))
    assert C.metadata_loudness(off, m, True, torch.float32).passed is False
    assert C.metadata_loudness(off, m, False, torch.float32).passed is None  # not applicable


def test_gain_changed_fails_metadata_gain_kept() -> None:
    _, _, before, after = broken_pair(lambda d: d["metadata"].__setitem__("gain", 0.1))
    assert C.metadata_gain_kept(before, after).passed is False


def test_hook_that_scales_only_one_head_scale_fails_head_scale_scaled() -> None:
    before = read_nam(builtin_doc())
    assert C.head_scale_scaled(before, scale_output(before, 2.0), 2.0).passed is True
    tail_only = before.replace_data(lambda d: d["weights"].__setitem__(-1, 0.04))
    check = C.head_scale_scaled(before, tail_only, 2.0)
    assert check.passed is False and "config.head_scale" in check.detail
    assert check.error == pytest.approx(0.5)


def test_container_metadata_mismatch_fails() -> None:
    container = {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],
                 "metadata": {"loudness": -31.0},
                 "config": {"submodels": [{"max_value": 1.0, "model": with_metadata(
                     builtin_doc(), -30.0, 0.9)}]}}
    result = C.container_metadata(read_nam(container))
    assert result.passed is False and "loudness -31 vs top submodel's -30" in result.detail


def test_container_missing_loudness_is_not_a_mismatch() -> None:
    """A container that stores no loudness is warned as missing (audit), never failed here
    (issue 16 item 8), and the text never says Python's 'none'."""
    container = {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],
                 "config": {"submodels": [{"max_value": 1.0, "model": with_metadata(
                     builtin_doc(), -30.0, 0.9)}]}}
    result = C.container_metadata(read_nam(container))
    assert result.passed is None and result.reason == "no_stored_loudness"
    assert "none" not in result.detail
    container["metadata"] = {"gain": 0.9}  # gain on both sides and equal: checked, holds
    assert C.container_metadata(read_nam(container)).passed is True


def test_tolerances_are_derived_from_dtype() -> None:
    assert C.scale_tolerance_db(torch.float64) < 1e-12 < C.scale_tolerance_db(torch.float32)
    assert C.scale_tolerance_db(torch.float32) == pytest.approx(
        20 / np.log(10) * 4 * torch.finfo(torch.float32).eps)
