"""The engine boundary: what runs a parsed model, and which engine runs it.

Two engines run `.nam` models: the PyTorch reference (models/reference/: every architecture,
float32 or float64, CPU or CUDA; what everything else is checked against) and the fast C
engine (models/fast/: float32 on the CPU, for the models it covers). Both satisfy `Engine`,
so nothing outside models/ needs to know which one it holds.

`load_engine(model, "auto")` gives the fast engine where it covers the model and the run is
float32 on the CPU, and the reference otherwise; the returned `EngineChoice` names the engine
that runs, its error bound and, where the reference stands in for a requested fast engine,
why. `cached_engine` is the same, built once per parsed model and options.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Protocol, runtime_checkable

import torch

from namcheck.models.format import NamModel, read_nam
from namcheck.models.numerics import forward_tolerance
from namcheck.models.reference.loader import NamSource, load
from namcheck.models.slimming import is_slimmable, select_submodel, slim_wavenet

ENGINES = ("auto", "reference", "fast")

# The fast engine of each architecture: a module of models/fast/ offering
# unsupported(model) -> str | None, build(model) -> engine and tolerance(model) -> float.
FAST_ENGINES: dict[str, str] = {
    "WaveNet": "namcheck.models.fast.wavenet",
    "LSTM": "namcheck.models.fast.lstm",
    "Linear": "namcheck.models.fast.feedforward",
    "ConvNet": "namcheck.models.fast.feedforward",
}


class Stream(Protocol):
    """Block-by-block processing, state kept between calls, prewarmed as a plugin is: the
    concatenated outputs equal the offline forward (bit for bit on the fast engine, within
    rounding on the reference)."""

    def process(self, block: Any, out: Any = None) -> Any:
        """The next block's output: (N,) or (B, N) in, the same shape out (types as
        Engine.__call__); with `out` (that type, shape and dtype, not overlapping the
        block), written into it and `out` returned, as a real-time host reuses its buffer
        (models/stream_output.py). ValueError for an `out` that does not match."""
        ...


@runtime_checkable
class Engine(Protocol):
    """A model ready to run.

    - `name`: "reference" or "fast".
    - `receptive_field`: R samples; an offline forward has zero history before the first
      sample (R - 1 zeros, or the runtime's prewarm).
    - `in_channels`, `out_channels`: channels of the signal read and written.
    - `stateful`: the output depends on more than the last R samples (an LSTM's state), so
      R - 1 zeros do not reset it.
    - `engine(x)`: (N,) or (B, N) samples -> the same shape. NumPy in, NumPy out (float32
      for float32 input, float64 otherwise); torch in, torch out. EVERY ROW starts from
      zero history, and the engine runs a batch its fastest way (the reference joins the
      rows of a non-stateful model in time with R - 1 zeros between them on the CPU; the
      fast engine copies its prewarmed state per row): signals/levels.gain_sweep gives it
      all its levels in one call and never asks which engine it has.
    - `engine.stream(batch)`: a `Stream`.
    """

    name: str
    receptive_field: int
    in_channels: int
    out_channels: int
    stateful: bool

    def __call__(self, x: Any) -> Any: ...

    def stream(self, batch: int = 1) -> Stream: ...


@dataclass(frozen=True)
class EngineChoice:
    """What runs a model: `name` 'fast' or 'reference'; `note` why the reference ran where
    the fast engine was asked for (None when the request was met); `bound` the forward's
    peak-relative error bound against exact arithmetic."""

    name: str
    note: str | None
    bound: float


def selected_model(model: NamModel, slim: float | None) -> NamModel:
    """The plain model a runtime plays at `slim`: a container's selected submodel at its
    own full size (the runtime passes no slim value on; a container inside plays its
    default, the last), or a slimmable WaveNet slimmed."""
    if model.submodels:
        model = model.submodels[select_submodel(model, slim)].model
        while model.submodels:
            model = model.submodels[-1].model
        return model
    if slim is not None and is_slimmable(model):
        return slim_wavenet(model, slim)
    return model


def fast_unsupported(model: NamModel, dtype: torch.dtype, device: str | torch.device
                     ) -> str | None:
    """Why the fast engine cannot run `model` (already selected) here, or None."""
    if dtype != torch.float32:
        return f"the fast engine runs float32, not {str(dtype).removeprefix('torch.')}"
    if torch.device(device).type != "cpu":
        return f"the fast engine runs on the CPU, not {device}"
    return fast_model_unsupported(model)


def fast_model_unsupported(model: NamModel) -> str | None:
    """Why no fast engine covers `model` (a plain, already selected model), or None."""
    module = FAST_ENGINES.get(model.architecture)
    if module is None:
        return f"the fast engine does not cover {model.architecture}"
    why: str | None = import_module(module).unsupported(model)
    return why


def fast_model_tolerance(model: NamModel) -> float:
    """The fast engine's peak-relative error bound for `model` (one it covers)."""
    return float(import_module(FAST_ENGINES[model.architecture]).tolerance(model))


def build_fast(model: NamModel) -> tuple[Any, float]:
    """`model` (covered: fast_model_unsupported is None) on its fast engine, built from the
    parsed model, and its bound; FastEngineUnavailableError where the kernel cannot run."""
    module = import_module(FAST_ENGINES[model.architecture])
    return module.build(model), float(module.tolerance(model))


def load_engine(source: NamSource, engine: str = "auto", *,
                dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                slim: float | None = None) -> tuple[Engine, EngineChoice]:
    """The model on the engine asked for ('auto' and 'fast' fall back to the reference
    where the fast engine does not cover it, and say why). ValueError for an unknown
    engine or a slim value outside [0, 1]."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    model = read_nam(source)
    if slim is not None and not 0.0 <= slim <= 1.0:
        raise ValueError(f"slim value must lie in [0, 1], got {slim}")
    if engine != "reference":
        target = selected_model(model, slim)
        why = fast_unsupported(target, dtype, device)
        if why is None:
            from namcheck.models.fast.build import FastEngineUnavailableError, library

            try:
                library()  # before anything is built: no compiler, no model built for it
                net, bound = build_fast(target)
            except FastEngineUnavailableError as exc:
                why = str(exc)
            else:
                return net, EngineChoice("fast", None, bound)
        note = f"reference engine: {why}"
    else:
        note = None
    net = load(model, dtype=dtype, device=device, slim=slim)
    return net, EngineChoice("reference", note, forward_tolerance(model, dtype))


def reference_choice(model: NamModel, engine: str, dtype: torch.dtype,
                     device: str | torch.device, slim: float | None) -> EngineChoice | None:
    """The EngineChoice load_engine(model, engine, ...) makes where it is known to run the
    reference before anything is built (asked for, or the fast engine does not cover the
    model here); None where load_engine would try the fast engine."""
    if engine == "reference":
        return EngineChoice("reference", None, forward_tolerance(model, dtype))
    why = fast_unsupported(selected_model(model, slim), dtype, device)
    if why is None:
        return None
    return EngineChoice("reference", f"reference engine: {why}",
                        forward_tolerance(model, dtype))


# Engines built recently, by the identity of the parsed model (NamModel is immutable and
# compared by identity; each entry holds its model, so an id is never reused while cached)
# and the options. A command builds each engine once however often it measures a model.
CACHE_SIZE = 8
_cache: OrderedDict[tuple[Any, ...], tuple[NamModel, Engine, EngineChoice]] = OrderedDict()


def cached_engine(model: NamModel, engine: str = "auto", *,
                  dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                  slim: float | None = None) -> tuple[Engine, EngineChoice]:
    """load_engine(model, ...) built once per parsed model and options (the last
    CACHE_SIZE kept)."""
    key = (id(model), engine, dtype, str(torch.device(device)), slim)
    hit = _cache.get(key)
    if hit is not None and hit[0] is model:
        _cache.move_to_end(key)
        return hit[1], hit[2]
    net, choice = load_engine(model, engine, dtype=dtype, device=device, slim=slim)
    _cache[key] = (model, net, choice)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return net, choice
