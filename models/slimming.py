"""Channel-slicing slimmable WaveNets (NAM_FORMAT §7.1) and container selection (§7.2).

A slimmed WaveNet is an ordinary WaveNet: we build its config, then take from every tensor
of the full weight stream its leading output rows and input columns (all taps), exactly as
the runtime does, so the forward pass needs no special case.
"""

from __future__ import annotations

import math

import numpy as np

from namcheck.models.format import NamFileError, NamModel, parse_nam
from namcheck.models.format.layout import wavenet_spec
from namcheck.models.format.rules.slimmable import slice_refusal
from namcheck.models.format.schema import WaveNetConfig, parse_config


def is_slimmable(model: NamModel) -> bool:
    """Whether some layer array of this WaveNet is slimmable."""
    return isinstance(model.config, WaveNetConfig) and any(
        la.slimmable is not None for la in model.config.layers
    )


def slim_channels(allowed: tuple[int, ...], value: float) -> int:
    """The runtime's choice: allowed[min(floor(v * n), n - 1)]."""
    n = len(allowed)
    return allowed[min(max(math.floor(value * n), 0), n - 1)]


def slim_wavenet(model: NamModel, value: float) -> NamModel:
    """The plain WaveNet the runtime runs at slim value `value` in [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"slim value must lie in [0, 1], got {value}")
    cfg = model.config
    assert isinstance(cfg, WaveNetConfig)
    doc = model.to_dict()
    layers = doc["config"]["layers"]
    chosen = [
        slim_channels(la.allowed_channels, value) if la.allowed_channels else la.channels
        for la in cfg.layers
    ]
    if chosen == [la.channels for la in cfg.layers]:
        return model
    refused = slice_refusal(cfg)
    if refused is not None:
        path, why = refused
        raise NamFileError(model.source, f"config.{path}", f"cannot play slim {value:g}: {why}")
    for a, (la, raw) in enumerate(zip(cfg.layers, layers, strict=True)):
        c = chosen[a]
        b = max(1, (la.bottleneck_channels * c) // la.channels) if la.layer1x1_active else c
        raw["channels"] = c
        raw["bottleneck"] = b
        if a > 0:
            raw["input_size"] = chosen[a - 1]
        if a + 1 < len(layers):
            head_out = chosen[a + 1]
            if "head" in raw and isinstance(raw["head"], dict):
                raw["head"]["out_channels"] = head_out
            else:
                raw["head_size"] = head_out
        raw.pop("slimmable", None)
    slim_cfg = parse_config("WaveNet", doc["config"], model.source)
    doc["weights"] = _slice_stream(model.weights, cfg, slim_cfg).tolist()
    return parse_nam(doc, source=model.source)


def _slice_stream(weights: np.ndarray, full: WaveNetConfig, slim: WaveNetConfig) -> np.ndarray:
    out: list[np.ndarray] = []
    pos = 0
    for f, s in zip(wavenet_spec(full).tensors(), wavenet_spec(slim).tensors(), strict=True):
        n = int(np.prod(f.weight_shape))
        w = weights[pos : pos + n].reshape(f.weight_shape)
        o, i, _k = s.weight_shape
        out.append(w[:o, :i, :].ravel())
        pos += n
        if f.bias:
            out.append(weights[pos : pos + s.cout])
            pos += f.cout
    out.append(weights[-1:])  # head_scale
    return np.concatenate(out)


def select_submodel(model: NamModel, value: float | None) -> int:
    """Index of the submodel a container runs at `value` (None: full size, the last)."""
    if value is None:
        return len(model.submodels) - 1
    for i, sub in enumerate(model.submodels):
        if sub.max_value > value:
            return i
    return len(model.submodels) - 1


def slim_intervals(model: NamModel) -> list[tuple[int, float, float]]:
    """(submodel index, lowest v, highest v) for every submodel the runtime's selection rule
    picks for some slim value v in [0, 1]: submodel i plays for max_value[i-1] <= v <
    max_value[i]; the last also at every v above. Submodels never picked are left out."""
    out = []
    lo = 0.0
    last = len(model.submodels) - 1
    for i, sub in enumerate(model.submodels):
        hi = 1.0 if i == last else min(sub.max_value, 1.0)
        if i == last or lo < hi:
            out.append((i, lo, hi))
        lo = max(lo, min(sub.max_value, 1.0))
        if lo >= 1.0 and i != last:
            # from here on only v = 1.0 is left, and it selects the first max_value > 1
            first = next((j for j in range(i + 1, last + 1)
                          if model.submodels[j].max_value > 1.0), last)
            out.append((first, 1.0, 1.0))
            break
    return out


def slim_description(model: NamModel, value: float | None) -> str | None:
    """What a slim value does to `model`, in words (None without a slim value): the
    submodel a container plays, the channels a slimmable WaveNet keeps, or that the model
    is not slimmable and the value changes nothing."""
    if value is None:
        return None
    if model.submodels:
        i = select_submodel(model, value)
        sub = model.submodels[i]
        return (f"slim {value:g} plays submodel {i} of {len(model.submodels)} "
                f"(max_value {sub.max_value:g}, {sub.model.architecture}, "
                f"{sub.model.parameter_count} weights)")
    if is_slimmable(model):
        assert isinstance(model.config, WaveNetConfig)
        kept = [f"{slim_channels(la.slimmable.allowed, value)} of {la.channels}"
                for la in model.config.layers if la.slimmable is not None]
        return f"slim {value:g} keeps {', '.join(kept)} channels of the slimmable arrays"
    return (f"--slim {value:g} has no effect: this {model.architecture} is not slimmable "
            "(neither a SlimmableContainer nor a slimmable WaveNet)")
