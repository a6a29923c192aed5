"""The `.nam` file format: schema, validation, reading and atomic writing.

This module owns the format. A `.nam` file means what the C++ runtime
(NeuralAmpModelerCore) does with it: defaults, legacy forms and the weight count follow
the runtime. Validation runs in two phases: pydantic checks types and shapes (its error
locations become JSON paths), then :func:`_check_structure` checks the cross-field rules
with explicit paths. Every error is one line, ``FILE: JSON.PATH: message``.

The parsed :class:`NamModel` keeps the original JSON (``data``) so that unknown keys
(``notes``, trainer metadata, ...) survive a round trip; changes are made on a copy of the
dict and validated again (:meth:`NamModel.replace_data`).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from namcheck.models.activations_spec import SIGMOID, ActivationSpec, parse_activation
from namcheck.models.atomic import atomic_write
from namcheck.models.layout import (
    expected_weight_count,
    film_dim,
    input_channels,
    output_channels,
    receptive_field,
)
from namcheck.models.limits import limits, refusal

ARCHITECTURES = ("WaveNet", "LSTM", "Linear", "ConvNet", "SlimmableContainer")
# The runtime loads 0.5.0 .. 0.7.x (0.7.x newer than 0.7.0: "partial support" warning).
OLDEST_VERSION = (0, 5, 0)
LATEST_VERSION = (0, 7, 0)
# The Python loader treats config.head_scale and weights[-1] as equal within this; the
# runtime always uses the tail. We warn on any difference larger than float32 rounding of
# the stored value (a relative 2**-23), so an edited file never passes unnoticed.
HEAD_SCALE_REL_TOL = 2.0**-23


class NamFileError(ValueError):
    """A `.nam` file that the runtime would refuse (or that is not a `.nam` at all)."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source, self.path, self.message = source, path, message
        shown = compact_path(path)
        super().__init__(f"{source}: {shown}: {message}" if path else f"{source}: {message}")


def compact_path(path: str, runs: int = 3) -> str:
    """A JSON path with long runs of one repeated group of keys shortened, so an error in a
    deeply nested model stays one readable line: `(config.condition_dsp)x17.config.head`."""
    parts = path.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        for period in (1, 2, 3):
            unit = parts[i : i + period]
            count = 1
            while parts[i + count * period : i + (count + 1) * period] == unit:
                count += 1
            if len(unit) == period and count >= runs:
                out.append(f"({'.'.join(unit)})x{count}")
                i += count * period
                break
        else:
            out.append(parts[i])
            i += 1
    return ".".join(out)


@dataclass(frozen=True)
class NamWarning:
    """Legal but noteworthy content (e.g. head_scale in config differs from weights[-1])."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --------------------------------------------------------------------------- pydantic schema

PosInt = Annotated[int, Field(strict=True, gt=0)]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]


def _one_or_list(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A validator for a per-layer field: one value for every layer, or a list of them."""

    def validate(value: Any) -> Any:
        if not isinstance(value, list):
            return parse(value)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(parse(item))
            except ValueError as exc:
                raise ValueError(f"entry {i}: {exc}") from None
        return tuple(out)

    return validate


def _secondary(value: Any) -> ActivationSpec | None:
    return None if value in (None, "") else parse_activation(value)


GatingMode = Literal["none", "gated", "blended"]
Activations = Annotated[Any, BeforeValidator(_one_or_list(parse_activation))]
Secondaries = Annotated[Any, BeforeValidator(_one_or_list(_secondary))]


class _Schema(BaseModel):
    # Unknown keys are legal (the runtime ignores them); they stay in NamModel.data.
    # Strict: the runtime's JSON reader takes a boolean only as true/false and a number only
    # as a JSON number, so "0.02", "true" or 0/1 for a boolean are errors, never coerced.
    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True,
                              strict=True)


class FiLMConfig(_Schema):
    """A FiLM slot: active, shift (scale and shift), groups."""

    active: bool = True
    shift: bool = True
    groups: PosInt = 1


class Layer1x1Config(_Schema):
    """A layer array's layer1x1: active and groups."""

    active: bool
    groups: PosInt


class Head1x1Config(_Schema):
    """A layer array's head1x1: active, out_channels, groups."""

    active: bool
    out_channels: PosInt
    groups: PosInt


class HeadRechannelConfig(_Schema):
    """A layer array's head rechannel (new form)."""

    out_channels: PosInt
    kernel_size: PosInt
    bias: bool
    head_dilation: PosInt = 1


class SlimmableSpec(_Schema):
    """A slimming method and its kwargs (NAM_FORMAT §7.1)."""

    method: str
    kwargs: dict[str, Any] | None = None


FILM_SLOTS = (
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
)
FiLMField = Literal[False] | FiLMConfig | None


class LayerArrayConfig(_Schema):
    """One WaveNet layer array, in the new (0.6+) or legacy (0.5) form."""

    input_size: PosInt
    condition_size: PosInt
    channels: PosInt
    dilations: Annotated[list[PosInt], Field(min_length=1)]
    bottleneck: PosInt | None = None
    kernel_size: PosInt | None = None
    kernel_sizes: list[PosInt] | None = None
    head: HeadRechannelConfig | None = None
    head_size: PosInt | None = None
    head_bias: bool | None = None
    activation: Activations
    gating_mode: GatingMode | list[GatingMode] | None = None
    gated: bool | None = None
    secondary_activation: Secondaries = None
    groups_input: PosInt = 1
    groups_input_mixin: PosInt = 1
    layer1x1: Layer1x1Config | None = None
    head1x1: Head1x1Config | None = None
    conv_pre_film: FiLMField = None
    conv_post_film: FiLMField = None
    input_mixin_pre_film: FiLMField = None
    input_mixin_post_film: FiLMField = None
    activation_pre_film: FiLMField = None
    activation_post_film: FiLMField = None
    layer1x1_post_film: FiLMField = None
    head1x1_post_film: FiLMField = None
    slimmable: SlimmableSpec | None = None

    # ---- resolved values (runtime defaults); valid after _check_structure passed
    @property
    def num_layers(self) -> int:
        return len(self.dilations)

    @property
    def bottleneck_channels(self) -> int:
        return self.bottleneck if self.bottleneck is not None else self.channels

    def kernel(self, layer: int) -> int:
        if self.kernel_sizes is not None:
            return self.kernel_sizes[layer]
        assert self.kernel_size is not None
        return self.kernel_size

    def activation_of(self, layer: int) -> ActivationSpec:
        act = self.activation
        return act[layer] if isinstance(act, tuple) else act

    def gating_of(self, layer: int) -> str:
        if self.gating_mode is not None:
            g = self.gating_mode
            return g[layer] if isinstance(g, list) else g
        return "gated" if self.gated else "none"

    def secondary_of(self, layer: int) -> ActivationSpec:
        if self.gating_mode is None:  # legacy `gated: true` always uses Sigmoid
            return SIGMOID
        sec = self.secondary_activation
        sec = sec[layer] if isinstance(sec, tuple) else sec
        return sec if sec is not None else SIGMOID

    @property
    def layer1x1_active(self) -> bool:
        return self.layer1x1.active if self.layer1x1 is not None else True

    @property
    def layer1x1_groups(self) -> int:
        return self.layer1x1.groups if self.layer1x1 is not None else 1

    @property
    def head1x1_active(self) -> bool:
        return self.head1x1 is not None and self.head1x1.active

    @property
    def layer_head_width(self) -> int:
        """Per-layer head width H1 (head1x1 outputs if active, else the bottleneck)."""
        if self.head1x1_active:
            assert self.head1x1 is not None
            return self.head1x1.out_channels
        return self.bottleneck_channels

    @property
    def head_out_channels(self) -> int:
        """Output width of the head rechannel (new `head.out_channels`, legacy `head_size`)."""
        if self.head is not None:
            return self.head.out_channels
        assert self.head_size is not None
        return self.head_size

    @property
    def head_kernel(self) -> int:
        return self.head.kernel_size if self.head is not None else 1

    @property
    def head_dilation(self) -> int:
        return self.head.head_dilation if self.head is not None else 1

    @property
    def head_has_bias(self) -> bool:
        return self.head.bias if self.head is not None else bool(self.head_bias)

    def film(self, slot: str) -> FiLMConfig | None:
        """The FiLM in `slot` if active, else None."""
        value = getattr(self, slot)
        if isinstance(value, FiLMConfig) and value.active:
            return value
        return None

    @property
    def allowed_channels(self) -> tuple[int, ...] | None:
        """Channel counts a slimmable array may be sliced to; None if not slimmable."""
        if self.slimmable is None:
            return None
        kwargs = self.slimmable.kwargs or {}
        allowed = kwargs.get("allowed_channels")
        if allowed is None:
            return tuple(range(1, self.channels + 1))
        return tuple(allowed)


class PostHeadConfig(_Schema):
    """A WaveNet's post-stack (top-level) head."""

    channels: PosInt
    out_channels: PosInt
    kernel_sizes: Annotated[list[PosInt], Field(min_length=1)]
    activation: Activations
    in_channels: PosInt | None = None


class WaveNetConfig(_Schema):
    """A WaveNet config (NAM_FORMAT §3.1)."""

    layers: Annotated[list[LayerArrayConfig], Field(min_length=1)]
    head_scale: float
    head: PostHeadConfig | None = None
    condition_dsp: dict[str, Any] | None = None
    in_channels: PosInt = 1


class LSTMConfig(_Schema):
    """An LSTM config (NAM_FORMAT §5)."""

    input_size: PosInt
    hidden_size: PosInt
    num_layers: PosInt
    in_channels: PosInt = 1
    out_channels: PosInt = 1


class LinearConfig(_Schema):
    """A Linear (FIR) config (NAM_FORMAT §6.1)."""

    receptive_field: PosInt
    bias: bool
    in_channels: PosInt = 1
    out_channels: PosInt = 1
    implementation: str = "auto"


class ConvNetConfig(_Schema):
    """A ConvNet config (NAM_FORMAT §6.2)."""

    channels: PosInt
    dilations: Annotated[list[PosInt], Field(min_length=1)]
    batchnorm: bool
    activation: Activations
    groups: PosInt = 1
    in_channels: PosInt = 1
    out_channels: PosInt = 1


class SubmodelEntry(_Schema):
    """One container entry: max_value and a full model object."""

    max_value: float
    model: dict[str, Any]


class ContainerConfig(_Schema):
    """A SlimmableContainer config (NAM_FORMAT §7.2)."""

    submodels: list[SubmodelEntry]


ArchConfig = WaveNetConfig | LSTMConfig | LinearConfig | ConvNetConfig | ContainerConfig
CONFIG_SCHEMAS: dict[str, type[_Schema]] = {
    "WaveNet": WaveNetConfig,
    "LSTM": LSTMConfig,
    "Linear": LinearConfig,
    "ConvNet": ConvNetConfig,
    "SlimmableContainer": ContainerConfig,
}


# --------------------------------------------------------------------------- parsed model


@dataclass(frozen=True)
class Submodel:
    """A parsed container submodel and its max_value."""

    max_value: float
    model: NamModel


@dataclass(frozen=True, eq=False)
class NamModel:
    """A validated `.nam` model. Nested models (condition DSP, submodels) are NamModels too."""

    source: str
    data: dict[str, Any]
    version: tuple[int, int, int]
    architecture: str
    config: ArchConfig
    weights: np.ndarray  # float64 copy of the JSON numbers, read-only
    sample_rate: float | None
    metadata: dict[str, Any]
    condition_dsp: NamModel | None = None
    submodels: tuple[Submodel, ...] = ()
    warnings: tuple[NamWarning, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        """One short line: source, architecture, version, size, rate, loudness."""
        rate = f"{self.sample_rate:g} Hz" if self.sample_rate else "no sample_rate"
        loud = f"{self.loudness:.2f} dB" if self.loudness is not None else "no loudness"
        subs = f", {len(self.submodels)} submodels" if self.submodels else ""
        return (f"NamModel({self.source!r}, {self.architecture} "
                f"{'.'.join(map(str, self.version))}, {self.parameter_count} weights{subs}, "
                f"{rate}, {loud})")

    # ---- derived facts
    @property
    def head_scale_config(self) -> float | None:
        return self.config.head_scale if isinstance(self.config, WaveNetConfig) else None

    @property
    def head_scale(self) -> float | None:
        """The head scale the runtime uses: the last weight (WaveNet only)."""
        if not isinstance(self.config, WaveNetConfig):
            return None
        return float(self.weights[-1])

    @property
    def has_post_head(self) -> bool:
        return isinstance(self.config, WaveNetConfig) and self.config.head is not None

    @property
    def parameter_count(self) -> int:
        """Weights the model runs with (a container counts only its largest submodel)."""
        if self.submodels:
            return self.submodels[-1].model.parameter_count
        extra = self.condition_dsp.parameter_count if self.condition_dsp else 0
        return int(self.weights.size) + extra

    @property
    def receptive_field(self) -> int:
        return receptive_field(self)

    @property
    def loudness(self) -> float | None:
        value = self.metadata.get("loudness")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def gain(self) -> float | None:
        value = self.metadata.get("gain")
        return float(value) if isinstance(value, (int, float)) else None

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the JSON document (unknown keys included)."""
        return copy.deepcopy(self.data)

    def replace_data(self, edit: Callable[[dict[str, Any]], None]) -> NamModel:
        """Apply `edit` to a copy of the JSON and validate the result as a new model."""
        doc = self.to_dict()
        edit(doc)
        return parse_nam(doc, source=self.source)


# --------------------------------------------------------------------------- parsing


def _json_path(prefix: str, loc: tuple[Any, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part
                                         or part in _SCHEMA_NAMES):
            continue  # pydantic's validator and union-member names, not JSON keys
        else:
            path += f".{part}" if path else str(part)
    return path


_SCHEMA_NAMES = frozenset(cls.__name__ for cls in _Schema.__subclasses__())

_FRIENDLY = {
    "greater_than": "expected a positive integer",
    "greater_than_equal": "expected a non-negative integer",
    "int_type": "expected an integer",
    "missing": "required key is missing",
    "list_type": "expected a list",
    "bool_type": "expected true or false",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "too_short": "expected a non-empty list",
    "string_type": "expected a string",
    "dict_type": "expected an object",
    "model_type": "expected an object",
}


def _raise_from_validation(exc: ValidationError, source: str, prefix: str) -> None:
    errors = exc.errors()
    # Prefer the most specific error (longest path) among the union branches.
    first = max(errors, key=lambda e: len(e["loc"]))
    path = _json_path(prefix, first["loc"])
    kind = first["type"]
    if kind == "value_error":
        message = str(first["msg"]).removeprefix("Value error, ")
    elif kind in _FRIENDLY:
        message = _FRIENDLY[kind]
        if kind != "missing":
            message += f", got {first['input']!r}"
    else:
        message = str(first["msg"])
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise NamFileError(source, path, message + more) from None


def _parse_version(value: Any, source: str, path: str) -> tuple[int, int, int]:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise NamFileError(source, path, f"expected a version 'MAJOR.MINOR.PATCH', got {value!r}")
    version = (int(parts[0]), int(parts[1]), int(parts[2]))
    latest = LATEST_VERSION
    if version < OLDEST_VERSION or version[0] > latest[0] or version[:2] > latest[:2]:
        raise NamFileError(
            source,
            path,
            f"version {value} is not supported by the runtime "
            f"(supported: {'.'.join(map(str, OLDEST_VERSION))} to {latest[0]}.{latest[1]}.x)",
        )
    return version


def _parse_weights(value: list[Any], source: str, path: str) -> np.ndarray:
    for i, w in enumerate(value):
        if isinstance(w, bool) or not isinstance(w, (int, float)):
            raise NamFileError(source, f"{path}[{i}]", f"expected a number, got {_short(w)}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an integer beyond float64 (read_nam turns those into inf first)
        i = next(i for i, w in enumerate(value) if isinstance(w, int) and abs(w) > 2**1023)
        raise NamFileError(source, f"{path}[{i}]", "weight is beyond float64 range") from None
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise NamFileError(
            source, f"{path}[{bad[0]}]", f"weight is {array[bad[0]]} ({bad.size} non-finite)"
        )
    array.setflags(write=False)
    return array


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_nonfinite(node: Any, path: str, depth: int = 0) -> str | None:
    """JSON path of the first NaN/Infinity (or overflowed, e.g. 1e400) number outside the
    weight lists, which are checked with their count; None if every number is finite."""
    if isinstance(node, float):
        return None if math.isfinite(node) else path
    if depth > 64:  # deeper than any model object; the nesting limit reports it
        return None
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "weights" and isinstance(value, list):
                continue
            found = _first_nonfinite(value, f"{path}.{key}" if path else str(key), depth + 1)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _first_nonfinite(value, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None


def _layer_count(arch: str, config: dict[str, Any]) -> int:
    """Layers declared by a raw config (before validation walks them): WaveNet dilations
    over every layer array, ConvNet blocks; 0 where the config has none or is malformed."""
    arrays = config.get("layers") if arch == "WaveNet" else [config]
    if arch not in ("WaveNet", "ConvNet") or not isinstance(arrays, list):
        return 0
    return sum(len(a["dilations"]) for a in arrays
               if isinstance(a, dict) and isinstance(a.get("dilations"), list))


def parse_nam(doc: Any, *, source: str = "<dict>", prefix: str = "", depth: int = 0
              ) -> NamModel:
    """Validate a decoded `.nam` JSON object; `prefix` is its JSON path inside a parent and
    `depth` its nesting level (models inside containers and condition DSPs)."""

    def at(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    lim = limits()
    if depth > lim.max_nesting:
        raise NamFileError(source, prefix, refusal("max_nesting", depth, "model nesting depth"))
    if not isinstance(doc, dict):
        where = "at the top level" if not prefix else "for a model"
        raise NamFileError(
            source, prefix, f"expected a JSON object {where}, got {type(doc).__name__}"
        )
    for key in ("version", "architecture", "config", "weights"):
        if key not in doc:
            raise NamFileError(source, at(key), "required key is missing")
    version = _parse_version(doc["version"], source, at("version"))
    arch = doc["architecture"]
    if arch not in ARCHITECTURES:
        raise NamFileError(
            source,
            at("architecture"),
            f"unknown architecture {_short(arch)} (expected one of {', '.join(ARCHITECTURES)})",
        )
    if not isinstance(doc["config"], dict):
        raise NamFileError(source, at("config"), "expected an object")
    if not isinstance(doc["weights"], list):
        raise NamFileError(source, at("weights"),
                           f"expected a list of numbers, got {type(doc['weights']).__name__}")
    if depth == 0:
        bad = _first_nonfinite({k: v for k, v in doc.items() if k != "weights"}, prefix)
        if bad:
            raise NamFileError(source, bad, "not a finite number (NaN, Infinity, or beyond "
                               "float64 range such as 1e400)")
    n_layers = _layer_count(arch, doc["config"])
    if n_layers > lim.max_layers:
        raise NamFileError(source, at("config"), refusal("max_layers", n_layers, "layer count"))
    try:
        config = CONFIG_SCHEMAS[arch].model_validate(doc["config"])
    except ValidationError as exc:
        _raise_from_validation(exc, source, at("config"))

    sample_rate = doc.get("sample_rate")
    if sample_rate is not None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)):
            raise NamFileError(source, at("sample_rate"),
                               f"expected a number, got {_short(sample_rate)}")
        if not math.isfinite(sample_rate) or sample_rate <= 0:
            raise NamFileError(
                source, at("sample_rate"), f"expected a positive rate, got {sample_rate}"
            )
        sample_rate = float(sample_rate)
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise NamFileError(source, at("metadata"), "expected an object")
    for key in ("loudness", "gain", "input_level_dbu", "output_level_dbu"):
        value = metadata.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise NamFileError(
                source, at(f"metadata.{key}"), f"expected a number or null, got {_short(value)}"
            )

    condition_dsp = None
    submodels: tuple[Submodel, ...] = ()
    if isinstance(config, WaveNetConfig) and config.condition_dsp is not None:
        condition_dsp = parse_nam(
            config.condition_dsp, source=source, prefix=at("config.condition_dsp"),
            depth=depth + 1,
        )
    if isinstance(config, ContainerConfig):
        submodels = tuple(
            Submodel(
                entry.max_value,
                parse_nam(entry.model, source=source, prefix=at(f"config.submodels[{i}].model"),
                          depth=depth + 1),
            )
            for i, entry in enumerate(config.submodels)
        )
    raw_weights = doc["weights"]
    model = NamModel(
        source=source,
        data=doc,
        version=version,
        architecture=arch,
        config=config,
        weights=np.zeros(0),  # parsed below, once the config is known to be sound
        sample_rate=sample_rate,
        metadata=metadata,
        condition_dsp=condition_dsp,
        submodels=submodels,
    )
    _check_structure(model, prefix)
    expected = expected_weight_count(model)
    if expected is not None:
        if expected > lim.max_parameters:
            raise NamFileError(source, at("config"),
                               refusal("max_parameters", expected, "weight count of this config"))
        if expected != len(raw_weights):
            raise NamFileError(
                source,
                at("weights"),
                f"expected {expected} weights for this config, found {len(raw_weights)}",
            )
    rf = receptive_field(model)
    if rf > lim.max_receptive_field:
        raise NamFileError(source, at("config"),
                           refusal("max_receptive_field", rf, "receptive field (samples)"))
    object.__setattr__(model, "weights", _parse_weights(raw_weights, source, at("weights")))
    warnings = _warnings(model, prefix)
    for child in ([condition_dsp] if condition_dsp else []) + [s.model for s in submodels]:
        warnings.extend(child.warnings)
    object.__setattr__(model, "warnings", tuple(warnings))
    return model


def _check_structure(model: NamModel, prefix: str) -> None:
    """Cross-field rules of the runtime (raises NamFileError with the JSON path)."""
    source = model.source
    cfg_path = f"{prefix}.config" if prefix else "config"

    def fail(rel: str, message: str) -> None:
        raise NamFileError(source, f"{cfg_path}.{rel}" if rel else cfg_path, message)

    cfg = model.config
    if isinstance(cfg, WaveNetConfig):
        _check_wavenet(model, cfg, fail)
    elif isinstance(cfg, ConvNetConfig):
        if cfg.channels % cfg.groups or cfg.in_channels % cfg.groups:
            fail("groups", f"groups {cfg.groups} must divide in_channels and channels")
    elif isinstance(cfg, LSTMConfig):
        if cfg.input_size != cfg.in_channels:
            fail("input_size", f"expected {cfg.in_channels} (in_channels: the LSTM's first "
                 f"layer reads the model's input), found {cfg.input_size}")
    elif isinstance(cfg, ContainerConfig):
        _check_container(model, cfg, fail)


def _warnings(model: NamModel, prefix: str) -> list[NamWarning]:
    """Legal but noteworthy content: head_scale config vs tail, a negative head_scale."""
    cfg_path = f"{prefix}.config" if prefix else "config"
    warnings: list[NamWarning] = []
    cfg = model.config
    if isinstance(cfg, WaveNetConfig):
        tail = model.head_scale
        assert tail is not None
        if abs(cfg.head_scale - tail) > HEAD_SCALE_REL_TOL * max(abs(tail), abs(cfg.head_scale)):
            warnings.append(
                NamWarning(
                    f"{cfg_path}.head_scale",
                    f"config head_scale {cfg.head_scale!r} differs from weights[-1] {tail!r}; "
                    "the runtime uses weights[-1]",
                )
            )
        if tail < 0:
            warnings.append(
                NamWarning(
                    f"{cfg_path}.head_scale",
                    f"negative head_scale (weights[-1] = {tail!r}, config {cfg.head_scale!r}): "
                    "a polarity-inverted model",
                )
            )
    return warnings


def _check_container(model: NamModel, cfg: ContainerConfig, fail: Callable[..., None]) -> None:
    if not cfg.submodels:
        fail("submodels", "a SlimmableContainer needs at least one submodel")
    values = [s.max_value for s in cfg.submodels]
    for i in range(1, len(values)):
        if not values[i] > values[i - 1]:
            fail(
                f"submodels[{i}].max_value",
                f"max_value must be strictly ascending, got {values[i - 1]!r} then {values[i]!r}",
            )
    if not values[-1] >= 1.0:
        fail(
            f"submodels[{len(values) - 1}].max_value",
            f"the last max_value must be >= 1.0, got {values[-1]!r}",
        )
    for i, sub in enumerate(model.submodels):
        rate, sub_rate = model.sample_rate, sub.model.sample_rate
        if rate is not None and sub_rate is not None and rate != sub_rate:
            fail(
                f"submodels[{i}].model.sample_rate",
                f"sample rate {sub_rate:g} differs from the container's {rate:g}",
            )


def _check_wavenet(model: NamModel, cfg: WaveNetConfig, fail: Callable[..., None]) -> None:
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
    else:
        dsp_in = input_channels(model.condition_dsp)
        if dsp_in != cfg.in_channels:
            fail("condition_dsp.config.in_channels", f"the condition DSP reads the model's "
                 f"input: expected {cfg.in_channels} input(s), found {dsp_in}")
    prev: LayerArrayConfig | None = None
    for a, la in enumerate(cfg.layers):
        p = f"layers[{a}]"
        n = la.num_layers
        if (la.kernel_size is None) == (la.kernel_sizes is None):
            fail(p, "exactly one of kernel_size and kernel_sizes is required")
        if la.kernel_sizes is not None and len(la.kernel_sizes) != n:
            fail(f"{p}.kernel_sizes", f"expected {n} entries (one per dilation), found "
                 f"{len(la.kernel_sizes)}")
        for key in ("activation", "secondary_activation", "gating_mode"):
            value = getattr(la, key)
            if isinstance(value, (list, tuple)) and len(value) != n:
                fail(f"{p}.{key}", f"expected {n} entries (one per dilation), found {len(value)}")
        if la.head is None and la.head_size is None:
            fail(p, "no head rechannel: expected 'head' (or legacy 'head_size')")
        C, B = la.channels, la.bottleneck_channels
        for i in range(n):
            gating = la.gating_of(i)
            for which, act in (("activation", la.activation_of(i)),
                               ("secondary_activation", la.secondary_of(i))):
                if which == "secondary_activation" and gating == "none":
                    continue
                if act.slopes is not None and len(act.slopes) != B:
                    fail(f"{p}.{which}", f"PReLU negative_slopes has {len(act.slopes)} entries, "
                         f"the layer applies it to {B} channels")
            Z = 2 * B if gating != "none" else B
            if C % la.groups_input or Z % la.groups_input:
                fail(f"{p}.groups_input", f"{la.groups_input} must divide channels {C} and the "
                     f"conv output {Z}")
            if la.condition_size % la.groups_input_mixin or Z % la.groups_input_mixin:
                fail(f"{p}.groups_input_mixin", f"{la.groups_input_mixin} must divide "
                     f"condition_size {la.condition_size} and {Z}")
        if la.layer1x1_active:
            g = la.layer1x1_groups
            if B % g or C % g:
                fail(f"{p}.layer1x1.groups", f"{g} must divide bottleneck {B} and channels {C}")
        elif B != C:
            fail(f"{p}.bottleneck", f"with layer1x1 inactive the bottleneck ({B}) must equal "
                 f"channels ({C})")
        if la.head1x1_active:
            assert la.head1x1 is not None
            g = la.head1x1.groups
            if B % g or la.head1x1.out_channels % g:
                fail(f"{p}.head1x1.groups", f"{g} must divide bottleneck {B} and "
                     f"out_channels {la.head1x1.out_channels}")
        for slot in FILM_SLOTS:
            film = la.film(slot)
            if film is None:
                continue
            if slot == "layer1x1_post_film" and not la.layer1x1_active:
                fail(f"{p}.{slot}", "active while layer1x1 is inactive")
            if slot == "head1x1_post_film" and not la.head1x1_active:
                fail(f"{p}.{slot}", "active while head1x1 is inactive")
            out = film_dim(la, slot, 0) * (2 if film.shift else 1)
            if la.condition_size % film.groups or out % film.groups:
                fail(f"{p}.{slot}.groups", f"{film.groups} must divide condition_size "
                     f"{la.condition_size} and the FiLM's {out} outputs")
        if prev is not None:
            if la.input_size != prev.channels:
                fail(f"{p}.input_size", f"expected {prev.channels} (channels of layers[{a - 1}]),"
                     f" found {la.input_size}")
            if la.channels != prev.head_out_channels:
                fail(f"{p}.channels", f"expected {prev.head_out_channels} (head size of "
                     f"layers[{a - 1}]), found {la.channels}")
            if la.layer_head_width != prev.head_out_channels:
                fail(p, f"per-layer head width {la.layer_head_width} must equal the head size "
                     f"{prev.head_out_channels} of layers[{a - 1}]")
        _check_slimmable(la, p, fail, cfg)
        prev = la
    if cfg.head is not None:
        last = cfg.layers[-1].head_out_channels
        if cfg.head.in_channels is not None and cfg.head.in_channels != last:
            fail("head.in_channels", f"expected {last} (head size of the last layer array)")
        act = cfg.head.activation
        if isinstance(act, tuple):
            fail("head.activation", "the post-stack head takes a single activation")
    if model.condition_dsp is not None:
        dsp = model.condition_dsp
        if model.sample_rate is not None and dsp.sample_rate is not None and (
            dsp.sample_rate != model.sample_rate
        ):
            fail("condition_dsp.sample_rate", f"{dsp.sample_rate:g} differs from the model's "
                 f"{model.sample_rate:g}")
        n_out = output_channels(dsp)
        for a, la in enumerate(cfg.layers):
            if la.condition_size != n_out:
                fail(f"layers[{a}].condition_size", f"expected {n_out} (the condition DSP's "
                     f"outputs), found {la.condition_size}")


def _check_slimmable(
    la: LayerArrayConfig, p: str, fail: Callable[..., None], cfg: WaveNetConfig
) -> None:
    if la.slimmable is None:
        return
    if la.slimmable.method != "slice_channels_uniform":
        fail(f"{p}.slimmable.method", f"unknown slimming method {la.slimmable.method!r} "
             "(the runtime knows 'slice_channels_uniform')")
    allowed = la.allowed_channels
    assert allowed is not None
    if not allowed or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0
                              for c in allowed):
        fail(f"{p}.slimmable.kwargs.allowed_channels", "expected a list of positive integers")
    if any(b <= a for a, b in itertools.pairwise(allowed)):
        fail(f"{p}.slimmable.kwargs.allowed_channels", "must be strictly ascending")
    if allowed[-1] != la.channels:
        fail(f"{p}.slimmable.kwargs.allowed_channels", f"last entry {allowed[-1]} must equal "
             f"channels {la.channels}")
    if cfg.head is not None:
        fail("head", "a slimmable WaveNet cannot have a post-stack head")
    groups = (la.groups_input, la.groups_input_mixin, la.layer1x1_groups,
              la.head1x1.groups if la.head1x1_active and la.head1x1 else 1)
    if any(g != 1 for g in groups):
        fail(p, "a slimmable layer array needs all groups = 1")
    if len(allowed) > 1 and la.head_kernel != 1:
        fail(f"{p}.head.kernel_size", "a slimmable layer array needs a head kernel of 1")


# --------------------------------------------------------------------------- files


# Integers longer than this are read as floats (huge ones become inf and are refused with
# their path) instead of meeting Python's 4300-digit int-string limit, or overflowing later.
_MAX_INT_DIGITS = 300


def _json_int(text: str) -> int | float:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


def decode_json(text: str, name: str) -> Any:
    """Decode `.nam` JSON text: NaN/Infinity tokens and overflowing numbers become float
    inf/nan (reported with their JSON path by parse_nam); nesting too deep for the parser
    is one error line, not a RecursionError."""
    try:
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise NamFileError(
            name, "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise NamFileError(name, "", "JSON nested too deeply to be a model") from None
    except MemoryError:
        raise NamFileError(name, "", "out of memory while decoding the JSON") from None


def read_nam(source: str | os.PathLike[str] | dict[str, Any] | NamModel) -> NamModel:
    """Read and validate a `.nam` file (or an already-decoded dict).

    The file size is checked against the limits before it is read (models/limits.py)."""
    if isinstance(source, NamModel):
        return source
    if isinstance(source, dict):
        try:
            return parse_nam(copy.deepcopy(source))
        except RecursionError:
            raise NamFileError("<dict>", "", "nested too deeply to be a model") from None
    path = Path(source)
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise NamFileError(name, "", "is a directory, not a .nam file")
        if size > limits().max_file_bytes:
            raise NamFileError(name, "", refusal("max_file_bytes", size, "file size (bytes)"))
        data = path.read_bytes()
    except FileNotFoundError:
        raise NamFileError(name, "", "no such file") from None
    except OSError as exc:
        raise NamFileError(name, "", f"cannot read: {exc.strerror}") from None
    return read_nam_bytes(data, name)


def read_nam_bytes(data: bytes, name: str) -> NamModel:
    """A `.nam` file's bytes, named `name` in messages (e.g. shipped to another machine)."""
    if len(data) > limits().max_file_bytes:
        raise NamFileError(name, "", refusal("max_file_bytes", len(data), "file size (bytes)"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NamFileError(name, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise NamFileError(name, "", "empty file (expected a JSON object)")
    return parse_nam(decode_json(text, name), source=name)


def write_nam(model: NamModel | dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Validate and write atomically (models/atomic.py): the destination is either the old
    file or the complete new one, and a killed write leaves nothing behind.

    Before the file gets its name, its bytes are read back from the written file itself and
    must decode to the same document (so a concurrent writer cannot cause a false alarm).
    """
    doc = model.to_dict() if isinstance(model, NamModel) else model
    target = Path(path)
    parse_nam(doc, source=str(target))  # never write a file the reader would refuse
    data = json.dumps(doc, allow_nan=False).encode("utf-8")

    def check(handle: Any) -> None:
        if json.loads(handle.read()) != doc:
            raise OSError("the bytes read back differ from those written")

    return atomic_write(target, lambda handle: handle.write(data), check=check)
