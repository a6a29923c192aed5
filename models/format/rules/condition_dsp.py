"""A WaveNet's condition DSP (NAM_FORMAT §3.1): a nested model that reads the WaveNet's
input at the same rate and feeds every layer array's condition."""

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
    if model.sample_rate is not None and dsp.sample_rate is not None and (
        dsp.sample_rate != model.sample_rate
    ):
        fail("condition_dsp.sample_rate", f"{dsp.sample_rate:g} differs from the model's "
             f"{model.sample_rate:g}")
    n_out = dsp.out_channels
    for a, la in enumerate(cfg.layers):
        if la.condition_size != n_out:
            fail(f"layers[{a}].condition_size", f"expected {n_out} (the condition DSP's "
                 f"outputs), found {la.condition_size}")
