"""A WaveNet's condition DSP (NAM_FORMAT §3.1): a nested model that reads the WaveNet's
input at the same rate (the same `sample_rate` value, absent counting as -1) and feeds
every layer array's condition."""

from __future__ import annotations

from namcheck.models.format.errors import Fail
from namcheck.models.format.model import NamModel
from namcheck.models.format.schema import WaveNetConfig


def check_input(dsp: NamModel, cfg: WaveNetConfig, fail: Fail) -> None:
    """`dsp` (already parsed) reads the WaveNet's input."""
    if dsp.in_channels != cfg.in_channels:
        fail("condition_dsp.config.in_channels", f"the condition DSP reads the model's "
             f"input: expected {cfg.in_channels} input(s), found {dsp.in_channels}")


def check(model: NamModel, dsp: NamModel, cfg: WaveNetConfig, fail: Fail) -> None:
    """`dsp` runs at `model`'s rate and its outputs are every array's condition."""
    # `!=` on the rates as read, -1 for none: absent under 48000 is refused too.
    if dsp.expected_sample_rate != model.expected_sample_rate:
        fail("condition_dsp.sample_rate", f"{_rate(dsp)} differs from the model's "
             f"{_rate(model)} (the runtime requires the same value)")
    n_out = dsp.out_channels
    for a, la in enumerate(cfg.layers):
        if la.condition_size != n_out:
            fail(f"layers[{a}].condition_size", f"expected {n_out} (the condition DSP's "
                 f"outputs), found {la.condition_size}")


def _rate(model: NamModel) -> str:
    rate = model.expected_sample_rate
    return "no sample_rate (-1)" if "sample_rate" not in model.data else f"{rate:g}"
