"""Parsing a decoded `.nam` document into a :class:`NamModel`.

A `.nam` file means what the C++ runtime (NeuralAmpModelerCore) does with it: defaults,
legacy forms and the weight count follow the runtime. Validation runs in two phases:
pydantic checks types and shapes (its error locations become JSON paths), then the rules
(:mod:`.rules`) check the cross-field constraints with explicit paths. Nested models
(condition DSP, container submodels) are parsed the same way, with their JSON path as
prefix. Every error is one line, ``FILE: JSON.PATH: message``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import ValidationError

from namcheck.models.format.errors import NamFileError
from namcheck.models.format.errors import short as _short
from namcheck.models.format.limits import limits, refusal
from namcheck.models.format.model import NamModel, Submodel
from namcheck.models.format.rules import check_structure, warnings_of
from namcheck.models.format.schema import (
    ARCHITECTURES,
    CONFIG_SCHEMAS,
    ContainerConfig,
    Schema,
    WaveNetConfig,
)

# The runtime loads 0.5.0 .. 0.7.x (0.7.x newer than 0.7.0: "partial support" warning).
OLDEST_VERSION = (0, 5, 0)
LATEST_VERSION = (0, 7, 0)


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


def _schema_classes() -> list[type]:
    out, todo = [], list(Schema.__subclasses__())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


_SCHEMA_NAMES = frozenset(cls.__name__ for cls in _schema_classes())

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


def _reparse(doc: dict[str, Any], source: str) -> NamModel:
    return parse_nam(doc, source=source)


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
        reparse=_reparse,
    )
    check_structure(model, prefix)
    expected = model.expected_weight_count
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
    rf = model.receptive_field
    if rf > lim.max_receptive_field:
        raise NamFileError(source, at("config"),
                           refusal("max_receptive_field", rf, "receptive field (samples)"))
    object.__setattr__(model, "weights", _parse_weights(raw_weights, source, at("weights")))
    warnings = warnings_of(model, prefix)
    for child in ([condition_dsp] if condition_dsp else []) + [s.model for s in submodels]:
        warnings.extend(child.warnings)
    object.__setattr__(model, "warnings", tuple(warnings))
    return model

