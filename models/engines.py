"""Choosing the forward engine: the float64-capable reference, or the fast CPU engine.

`load_engine(source, "auto")` gives the fast engine (models/fast/) where it covers the model
and the run is float32 on the CPU, and the reference otherwise; the returned `EngineChoice`
names the engine that runs and, where the reference stands in for a requested fast engine,
why. Both engines offer the same calls: ``net(x)``, ``net.stream(batch).process(block)``,
``receptive_field``, ``stateful``, ``out_channels``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from namcheck.models.layout import wavenet_spec
from namcheck.models.loader import NamSource, load
from namcheck.models.nam_file import NamModel, WaveNetConfig, read_nam
from namcheck.models.numerics import forward_tolerance
from namcheck.models.slimming import is_slimmable, select_submodel, slim_wavenet

ENGINES = ("auto", "reference", "fast")


@dataclass(frozen=True)
class EngineChoice:
    """What runs a model: `name` 'fast' or 'reference'; `note` why the reference ran where
    the fast engine was asked for (None when the request was met); `bound` the forward's
    peak-relative error bound against exact arithmetic."""

    name: str
    note: str | None
    bound: float


def selected_model(model: NamModel, slim: float | None) -> NamModel:
    """The plain model a runtime plays at `slim`: a container's selected submodel (itself
    slimmed), or a slimmable WaveNet slimmed."""
    while model.submodels:
        sub = model.submodels[select_submodel(model, slim)].model
        if slim is None or not (sub.submodels or is_slimmable(sub)):
            return sub
        model = sub
    if slim is not None and is_slimmable(model):
        return slim_wavenet(model, slim)
    return model


@dataclass(frozen=True)
class FastPath:
    """How the fast engine runs one architecture: why it cannot run a model (None: it can),
    the engine built from the parsed model, and its peak-relative error bound."""

    unsupported: Callable[[NamModel], str | None]
    build: Callable[[NamModel], Any]
    tolerance: Callable[[NamModel], float]


def fast_paths() -> dict[str, FastPath]:
    """The fast engine's dispatch table: architecture -> FastPath (one row each)."""
    from namcheck.models.fast import engine as wavenet
    from namcheck.models.fast import feedforward, lstm

    def build_wavenet(model: NamModel) -> Any:
        assert isinstance(model.config, WaveNetConfig)
        return wavenet.FastWaveNet(load(model, dtype=torch.float64),
                                   wavenet_spec(model.config))

    return {
        "WaveNet": FastPath(wavenet.unsupported, build_wavenet, wavenet.fast_tolerance),
        "LSTM": FastPath(lstm.unsupported, lstm.FastLSTM, lstm.lstm_tolerance),
        "Linear": FastPath(feedforward.unsupported, feedforward.FastLinear,
                           feedforward.feedforward_tolerance),
        "ConvNet": FastPath(feedforward.unsupported, feedforward.FastConvNet,
                            feedforward.feedforward_tolerance),
    }


def fast_unsupported(model: NamModel, dtype: torch.dtype, device: str | torch.device) -> str | None:
    """Why the fast engine cannot run `model` (already selected) here, or None."""
    if dtype != torch.float32:
        return f"the fast engine runs float32, not {str(dtype).removeprefix('torch.')}"
    if torch.device(device).type != "cpu":
        return f"the fast engine runs on the CPU, not {device}"
    if model.submodels:
        return None  # decided per selected submodel by the loader
    path = fast_paths().get(model.architecture)
    if path is None:
        return f"the fast engine does not cover {model.architecture}"
    return path.unsupported(model)


def load_engine(source: NamSource, engine: str = "auto", *,
                dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                slim: float | None = None) -> tuple[Any, EngineChoice]:
    """The model on the engine asked for ('auto' and 'fast' fall back to the reference
    where the fast engine does not cover it, and say why)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    model = read_nam(source)
    if slim is not None and not 0.0 <= slim <= 1.0:
        raise ValueError(f"slim value must lie in [0, 1], got {slim}")
    if engine != "reference":
        target = selected_model(model, slim)
        why = fast_unsupported(target, dtype, device)
        if why is None:
            from namcheck.models.fast.build import FastEngineUnavailableError

            path = fast_paths()[target.architecture]
            try:
                net = path.build(target)
            except FastEngineUnavailableError as exc:
                why = str(exc)
            else:
                return net, EngineChoice("fast", None, path.tolerance(target))
        note = f"reference engine: {why}"
    else:
        note = None
    net = load(model, dtype=dtype, device=device, slim=slim)
    return net, EngineChoice("reference", note, forward_tolerance(model, dtype))
