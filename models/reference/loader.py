"""`load()`: a `.nam` file to a reference torch module on a device, in a dtype."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from namcheck.models.format import NamModel, read_nam
from namcheck.models.format.layout import WaveNetSpec
from namcheck.models.format.schema import ConvNetConfig, LinearConfig, LSTMConfig, WaveNetConfig
from namcheck.models.reference.base import NamModule
from namcheck.models.reference.container import Container
from namcheck.models.reference.conv import WeightStream
from namcheck.models.reference.feedforward import ConvNet, Linear
from namcheck.models.reference.recurrent import DEFAULT_BUFFER, LSTM, lstm_prewarm_samples
from namcheck.models.reference.wavenet import WaveNet
from namcheck.models.slimming import is_slimmable, select_submodel, slim_wavenet

NamSource = str | os.PathLike[str] | dict[str, Any] | NamModel
# The weight vector each (nested) model is built from: its own, unless a caller builds the
# same architecture from other numbers (models/reference/batched.py).
WeightsOf = Callable[[NamModel], Any]


def _own_weights(model: NamModel) -> Any:
    return model.weights


def load(
    source: NamSource,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    slim: float | None = None,
    buffer_size: int = DEFAULT_BUFFER,
) -> NamModule:
    """Build the reference forward of a `.nam` model.

    `slim` (in [0, 1]) slims a slimmable WaveNet or selects a container's submodel by the
    runtime's rule (the submodel itself plays at full size, as in the runtime); None means
    full size, as a runtime loads by default. `buffer_size` is
    the host buffer the LSTM prewarm is rounded up to (render's 64).
    """
    model = read_nam(source)
    if slim is not None and not 0.0 <= slim <= 1.0:
        raise ValueError(f"slim value must lie in [0, 1], got {slim}")
    return build(model, dtype, torch.device(device), slim, buffer_size)


def build(model: NamModel, dtype: torch.dtype, device: torch.device, slim: float | None,
          buffer_size: int = DEFAULT_BUFFER, weights_of: WeightsOf = _own_weights
          ) -> NamModule:
    """`load` of a parsed model, each (nested) model's weights given by `weights_of`."""
    if model.submodels:
        # The runtime's container only selects: the submodel plays at its own full size
        # even where it is slimmable (ContainerModel::SetSlimmableSize passes nothing on).
        subs = [build(s.model, dtype, device, None, buffer_size, weights_of)
                for s in model.submodels]
        active = select_submodel(model, slim)
        return Container(subs, [s.max_value for s in model.submodels], active)
    if slim is not None and is_slimmable(model):
        model = slim_wavenet(model, slim)
    stream = WeightStream(weights_of(model), dtype, device)
    cfg = model.config
    module: NamModule
    if isinstance(cfg, WaveNetConfig):
        dsp = None
        if model.condition_dsp is not None:
            dsp = build(model.condition_dsp, dtype, device, None, buffer_size, weights_of)
        assert isinstance(model.layout, WaveNetSpec)
        module = WaveNet(model.layout, stream, dsp)
    elif isinstance(cfg, LSTMConfig):
        module = LSTM(cfg, stream, lstm_prewarm_samples(model.sample_rate, buffer_size))
    elif isinstance(cfg, LinearConfig):
        module = Linear(cfg, stream)
    elif isinstance(cfg, ConvNetConfig):
        module = ConvNet(cfg, stream)
    else:  # pragma: no cover - every architecture is handled above
        raise ValueError(f"cannot build {model.architecture}")
    return module.to(device=device).eval()


def load_submodels(source: NamSource, **kwargs: Any) -> list[NamModule]:
    """Every submodel of a container (ascending max_value), each as its own module."""
    model = read_nam(source)
    if not model.submodels:
        raise ValueError(f"{model.source}: not a SlimmableContainer")
    return [load(s.model, **kwargs) for s in model.submodels]
