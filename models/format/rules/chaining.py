"""How signals flow between the parts of a model (NAM_FORMAT §3.1 cross-array rules, §5):
the model's input into the first layer array (or an LSTM's first layer), the condition
into every array, and each array's residual and head outputs into the next."""

from __future__ import annotations

from namcheck.models.format.errors import Fail
from namcheck.models.format.model import NamModel
from namcheck.models.format.schema import LayerArrayConfig, LSTMConfig, WaveNetConfig


def check_model_input(model: NamModel, cfg: WaveNetConfig, fail: Fail) -> None:
    """The first array reads the model's input; without a condition DSP the condition is
    the input too."""
    first = cfg.layers[0]
    if first.input_size != cfg.in_channels:
        fail("layers[0].input_size", f"expected {cfg.in_channels} (config.in_channels: the "
             f"first layer array reads the model's input), found {first.input_size}")
    if model.condition_dsp is None:
        for a, la in enumerate(cfg.layers):
            if la.condition_size != cfg.in_channels:
                fail(f"layers[{a}].condition_size", f"expected {cfg.in_channels} (without a "
                     f"condition_dsp the condition is the input, config.in_channels), found "
                     f"{la.condition_size}")


def check_arrays(prev: LayerArrayConfig, la: LayerArrayConfig, a: int, fail: Fail) -> None:
    """Array `a` (`la`) after array `a - 1` (`prev`): residual and head widths chain."""
    p = f"layers[{a}]"
    if la.input_size != prev.channels:
        fail(f"{p}.input_size", f"expected {prev.channels} (channels of layers[{a - 1}]),"
             f" found {la.input_size}")
    if la.channels != prev.head_out_channels:
        fail(f"{p}.channels", f"expected {prev.head_out_channels} (head size of "
             f"layers[{a - 1}]), found {la.channels}")
    if la.layer_head_width != prev.head_out_channels:
        fail(p, f"per-layer head width {la.layer_head_width} must equal the head size "
             f"{prev.head_out_channels} of layers[{a - 1}]")


def check_lstm_input(cfg: LSTMConfig, fail: Fail) -> None:
    """The LSTM's first layer reads the model's input."""
    if cfg.input_size != cfg.in_channels:
        fail("input_size", f"expected {cfg.in_channels} (in_channels: the LSTM's first "
             f"layer reads the model's input), found {cfg.input_size}")
