"""Model identity: a content hash of what plays.

Two files share a `content_hash` when the runtime plays the same thing from them, whatever
their metadata (loudness, gain, calibration, names, dates), their formatting (whitespace,
key order, number spelling such as 1 vs 1.0 vs 1e0) or their `version` string. The hash is
SHA-256 of one canonical JSON document (compact, keys sorted, floats as Python's shortest
round-trip repr), built from the model as the runtime reads it (models/format/):

    {"architecture": "WaveNet",
     "config": <the parsed config: every value the runtime's config reader resolves,
                defaults filled in; WaveNet without head_scale, which the runtime never
                plays (NAM_FORMAT §3.3: it plays weights[-1]), and without its nested
                condition DSP, which is hashed as a model of its own>,
     "sample_rate": <the rate the runtime expects: the file's number, -1 without one>,
     "weights": <SHA-256 of the weights as float32 little-endian bytes, -0.0 as 0.0:
                 the runtime holds weights as float32>,
     "condition_dsp": <content_hash of the condition DSP, or null>,
     "submodels": [[max_value, <content_hash of the submodel>], ...]}   (containers)

A submodel's own metadata is excluded as the container's is. See docs/model_identity.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from namcheck.models.format import NamModel
from namcheck.models.format.schema import ContainerConfig, WaveNetConfig

IDENTITY_VERSION = 1  # changes whenever the canonical document changes


def content_hash(model: NamModel) -> str:
    """SHA-256 (64 hex digits) of the canonical document of what `model` plays (see the
    module docstring); metadata and formatting excluded."""
    text = json.dumps(canonical_document(model), sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_document(model: NamModel) -> dict[str, Any]:
    """The document content_hash hashes (JSON-ready)."""
    weights = np.ascontiguousarray(model.weights, dtype="<f4") + np.float32(0.0)  # -0.0 -> 0.0
    return {
        "identity_version": IDENTITY_VERSION,
        "architecture": model.architecture,
        "config": _config(model),
        "sample_rate": float(model.expected_sample_rate),
        "weights": hashlib.sha256(weights.tobytes()).hexdigest(),
        "condition_dsp": (content_hash(model.condition_dsp)
                          if model.condition_dsp is not None else None),
        "submodels": [[float(s.max_value), content_hash(s.model)] for s in model.submodels],
    }


def _config(model: NamModel) -> Any:
    config = model.config
    if isinstance(config, ContainerConfig):
        return {}  # the submodels are hashed as models (their metadata excluded)
    if isinstance(config, WaveNetConfig):
        config = dataclasses.replace(config, head_scale=0.0, condition_dsp=None)
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    """Tuples as lists, numpy scalars as Python numbers (JSON-ready, order kept)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
