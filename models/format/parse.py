"""Parsing a decoded `.nam` document into a :class:`NamModel`, as the runtime reads it.

A `.nam` file means what the C++ runtime (NeuralAmpModelerCore) does with it
(`nam::get_dsp` in NAM/get_dsp.cpp; RUNTIME_READING.md). The top-level keys are read as
`populate_dsp_data` reads them (version gate, weights, architecture, metadata,
sample_rate), the config by its architecture's reader (:mod:`.schema`), then the
cross-field rules (:mod:`.rules`) and the weight count. Nested models (condition DSP,
container submodels) are read the same way, with their JSON path as prefix. Every error is
one line, ``FILE: JSON.PATH: message``; where the runtime plays a value it reads
differently from how it is written, the model carries a warning naming the path.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from namcheck.models.format.access import INT_MAX, Node, Reading, describe, type_name
from namcheck.models.format.errors import NamFileError, join, short
from namcheck.models.format.limits import limits, refusal
from namcheck.models.format.model import NamModel, Submodel
from namcheck.models.format.rules import check_structure, warnings_of
from namcheck.models.format.schema import (
    ARCHITECTURES,
    CONFIG_READERS,
    ContainerConfig,
    LSTMConfig,
    WaveNetConfig,
)

# get_dsp.h: EARLIEST_SUPPORTED "0.5.0", LATEST_FULLY_SUPPORTED "0.7.0"; a newer patch of
# 0.7 plays with a "partial support" warning, a newer minor or major is refused.
OLDEST_VERSION = (0, 5, 0)
LATEST_VERSION = (0, 7, 0)
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")  # std::regex ^\d+\.\d+\.\d+$ (ASCII digits)
FLOAT32_MAX = float(np.finfo(np.float32).max)
# The metadata values the runtime converts to double (a wrong type refuses the file), and
# those namcheck reads that the runtime ignores (a wrong type is a warning).
RUNTIME_METADATA = ("loudness", "input_level_dbu", "output_level_dbu")
NAMCHECK_METADATA = ("gain",)
UNKNOWN_RATE = -1.0  # NAM_UNKNOWN_EXPECTED_SAMPLE_RATE


def _reparse(doc: dict[str, Any], source: str) -> NamModel:
    return parse_nam(doc, source=source)


def parse_nam(doc: Any, *, source: str = "<dict>", prefix: str = "", depth: int = 0,
              reading: Reading | None = None) -> NamModel:
    """Validate a decoded `.nam` JSON object; `prefix` is its JSON path inside a parent and
    `depth` its nesting level (models inside containers and condition DSPs). `reading`
    carries the file's name and the warnings so far (those of decoding the text)."""
    reading = reading if reading is not None else Reading(source)
    first_warning = 0 if depth == 0 else len(reading.warnings)
    node = Node(doc, prefix, reading)

    def at(key: str) -> str:
        return join(prefix, key)

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
    if depth == 0:
        bad = _first_nonfinite({k: v for k, v in doc.items() if k != "weights"}, prefix)
        if bad:
            raise NamFileError(source, bad, "not a finite number (NaN, Infinity, or beyond "
                               "float64 range such as 1e400: the runtime's JSON parser "
                               "refuses it)")
    version = _read_version(node.child("version"))
    weights_node = node.child("weights")
    if not isinstance(weights_node.value, list):
        weights_node.fail(f"expected a list of numbers, got {type_name(weights_node.value)}")
    arch = node.child("architecture").to_str()
    if arch not in ARCHITECTURES:
        raise NamFileError(source, at("architecture"), f"unknown architecture {short(arch)} "
                           f"(expected one of {', '.join(ARCHITECTURES)})")
    metadata, metadata_issues = _read_metadata(node)
    expected_rate = _read_sample_rate(node)
    config_node = node.child("config")
    config_node.require_object()
    n_layers = _layer_count(arch, doc["config"])
    if n_layers > lim.max_layers:
        raise NamFileError(source, at("config"), refusal("max_layers", n_layers, "layer count"))
    config = CONFIG_READERS[arch](config_node)

    condition_dsp = None
    submodels: tuple[Submodel, ...] = ()
    if isinstance(config, WaveNetConfig) and config.condition_dsp is not None:
        condition_dsp = parse_nam(config.condition_dsp, source=source,
                                  prefix=at("config.condition_dsp"), depth=depth + 1,
                                  reading=reading)
    if isinstance(config, ContainerConfig):
        submodels = tuple(
            Submodel(entry.max_value,
                     parse_nam(entry.model, source=source,
                               prefix=at(f"config.submodels[{i}].model"), depth=depth + 1,
                               reading=reading))
            for i, entry in enumerate(config.submodels)
        )
    raw_weights = weights_node.value
    model = NamModel(
        source=source,
        data=doc,
        version=version,
        architecture=arch,
        config=config,
        weights=np.zeros(0),  # parsed below, once the config is known to be sound
        sample_rate=expected_rate if expected_rate > 0 else None,
        metadata=metadata,
        condition_dsp=condition_dsp,
        submodels=submodels,
        expected_sample_rate=expected_rate,
        metadata_issues=metadata_issues,
        reparse=_reparse,
    )
    check_structure(model, prefix)
    used = len(raw_weights)
    expected = model.expected_weight_count
    if expected is not None:
        if expected > lim.max_parameters:
            raise NamFileError(source, at("config"),
                               refusal("max_parameters", expected, "weight count of this config"))
        used = _check_weight_count(model, expected, len(raw_weights), weights_node)
    rf = model.receptive_field
    if rf > lim.max_receptive_field:
        raise NamFileError(source, at("config"),
                           refusal("max_receptive_field", rf, "receptive field (samples)"))
    object.__setattr__(model, "weights", _read_weights(weights_node, used))
    reading.warnings.extend(warnings_of(model, prefix))
    object.__setattr__(model, "warnings", tuple(reading.warnings[first_warning:]))
    return model


def _check_weight_count(model: NamModel, expected: int, found: int, node: Node) -> int:
    """How many weights the runtime reads; refuses a count it refuses or reads past."""
    if found == expected:
        return found
    if isinstance(model.config, LSTMConfig):
        if found > expected:
            node.warn(f"{found - expected} weights beyond the {expected} this config reads; "
                      "the runtime ignores them (its count check is an assertion, compiled "
                      "out of release builds)")
            return expected
        node.fail(f"expected {expected} weights for this config, found {found}: the runtime "
                  "would read past the end of the list (its count check is an assertion, "
                  "compiled out of release builds: undefined behaviour)")
    node.fail(f"expected {expected} weights for this config, found {found}")


def _read_version(node: Node) -> tuple[int, int, int]:
    """`verify_config_version` (NAM/get_dsp.cpp): a string of three integers, 0.5.0 up to
    0.7.x; a 0.7 patch newer than 0.7.0 plays with a warning."""
    text = node.to_str()
    if not _VERSION.fullmatch(text):
        node.fail(f"expected a version 'MAJOR.MINOR.PATCH', got {short(text)}")
    parts = text.split(".")
    if any(len(p.lstrip("0")) > len(str(INT_MAX)) or int(p) > INT_MAX for p in parts):
        node.fail(f"version {short(text)} is out of the runtime's integer range")
    version = (int(parts[0]), int(parts[1]), int(parts[2]))
    latest = LATEST_VERSION
    if version < OLDEST_VERSION or version[0] > latest[0] or version[:2] > latest[:2]:
        node.fail(f"version {text} is not supported by the runtime (supported: "
                  f"{'.'.join(map(str, OLDEST_VERSION))} to {latest[0]}.{latest[1]}.x)")
    if version > latest:
        node.warn(f"version {text} is newer than {'.'.join(map(str, latest))}, the latest the "
                  "runtime fully supports: it plays the file \"with partial support\"")
    return version


def _read_metadata(node: Node) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, wrong-typed values the runtime ignores by JSON path). A null or absent
    `metadata` is empty; one that is not an object is ignored by the runtime (warning); of
    its values the runtime converts only loudness and the input/output levels (a wrong type
    there refuses the file)."""
    if not node.has_value("metadata"):
        return {}, {}
    meta = node.child("metadata")
    if not isinstance(meta.value, dict):
        meta.warn(f"metadata is {describe(meta.value)}, not an object: "
                  "the runtime ignores it")
        return {}, {meta.path: meta.value}
    for key in RUNTIME_METADATA:
        if meta.has_value(key):
            meta.child(key).to_double()
    issues: dict[str, Any] = {}
    for key in NAMCHECK_METADATA:
        value = meta.value.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            sub = meta.child(key)
            sub.warn(f"expected a number, got {describe(value)}; the runtime "
                     "does not read it, namcheck treats it as missing")
            issues[sub.path] = value
    return meta.value, issues


def _read_sample_rate(node: Node) -> float:
    """`get_sample_rate_from_nam_file`: absent is -1 (unknown); otherwise a number (null,
    booleans and strings are refused). The runtime treats every rate <= 0 as unknown."""
    if not node.has("sample_rate"):
        return UNKNOWN_RATE
    rate_node = node.child("sample_rate")
    rate = rate_node.to_double()
    if rate <= 0 and rate != UNKNOWN_RATE:
        rate_node.warn(f"{short(rate_node.value)}: the runtime takes a rate <= 0 as unknown "
                       "(as -1 or no sample_rate)")
    return rate


def _read_weights(node: Node, used: int) -> np.ndarray:
    """The weights as float64 (the first `used`; the runtime converts all of them): numbers
    and booleans (read as 1/0, a warning); a value beyond float32 range plays as inf in the
    runtime (a warning)."""
    value = node.value
    first_bool = None
    for i, w in enumerate(value):
        if isinstance(w, bool):
            first_bool = i if first_bool is None else first_bool
        elif not isinstance(w, (int, float)):
            node.child(i).fail(f"expected a number, got {short(w)}")
    if first_bool is not None:
        count = sum(1 for w in value if isinstance(w, bool))
        node.child(first_bool).warn(f"a boolean weight ({count} in all): the runtime reads "
                                    "true as 1.0 and false as 0.0")
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an integer beyond float64 (the decoder turns those into inf first)
        i = next(i for i, w in enumerate(value) if isinstance(w, int) and abs(w) > 2**1023)
        node.child(i).fail("weight is beyond float64 range")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        node.child(int(bad[0])).fail(f"weight is {array[bad[0]]} ({bad.size} non-finite; "
                                     "NaN/Infinity literals and numbers beyond float64 range "
                                     "are not JSON the runtime reads)")
    big = np.flatnonzero(np.abs(array) > FLOAT32_MAX)
    if big.size:
        node.child(int(big[0])).warn(f"{array[big[0]]!r} is beyond float32 range ({big.size} "
                                     "such weights): the runtime reads it as inf, so its "
                                     "output is not finite")
    array = array[:used].copy() if used < array.size else array
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
            found = _first_nonfinite(value, join(path, str(key)), depth + 1)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _first_nonfinite(value, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None


def _layer_count(arch: str, config: dict[str, Any]) -> int:
    """Layers declared by a raw config (before it is read): WaveNet dilations over every
    layer array, ConvNet blocks; 0 where the config has none or is malformed."""
    arrays = config.get("layers") if arch == "WaveNet" else [config]
    if arch not in ("WaveNet", "ConvNet") or not isinstance(arrays, list):
        return 0
    return sum(len(a["dilations"]) for a in arrays
               if isinstance(a, dict) and isinstance(a.get("dilations"), list))
