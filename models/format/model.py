"""The parsed model: :class:`NamModel`, what a `.nam` file means once read.

A NamModel keeps the original JSON (``data``) so that unknown keys (``notes``, trainer
metadata, ...) survive a round trip; changes are made on a copy of the document and parsed
again (:func:`namcheck.models.format.parse.replace_data`). Its weight layout is computed
once, on first use (``layout``); every size fact below derives from it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from namcheck.models.format.errors import NamWarning
from namcheck.models.format.layout import ModelLayout, layout_of
from namcheck.models.format.schema import ArchConfig, WaveNetConfig


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
    sample_rate: float | None  # Hz; None when unknown (absent, or <= 0 as the runtime reads)
    metadata: dict[str, Any]  # the `metadata` object ({} if absent, null or not an object)
    condition_dsp: NamModel | None = None
    submodels: tuple[Submodel, ...] = ()
    warnings: tuple[NamWarning, ...] = field(default_factory=tuple)
    # The rate as the runtime holds it (`GetExpectedSampleRate`): the file's number, or -1
    # without one; rate rules between nested models compare these exactly.
    expected_sample_rate: float = -1.0
    # Wrong-typed metadata the runtime ignores, by JSON path (e.g. {"metadata.gain": "high"},
    # or {"metadata": "n/a"} for a metadata that is not an object): played, warned, audited.
    metadata_issues: dict[str, Any] = field(default_factory=dict)
    # The parser that made this model (parse.parse_nam): edits are parsed by the same rules.
    reparse: Callable[[dict[str, Any], str], NamModel] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        """One short line: source, architecture, version, size, rate, loudness."""
        rate = f"{self.sample_rate:g} Hz" if self.sample_rate else "no sample_rate"
        loud = f"{self.loudness:.2f} dB" if self.loudness is not None else "no loudness"
        subs = f", {len(self.submodels)} submodels" if self.submodels else ""
        return (f"NamModel({self.source!r}, {self.architecture} "
                f"{'.'.join(map(str, self.version))}, {self.parameter_count} weights{subs}, "
                f"{rate}, {loud})")

    # ---- the weight layout, computed once
    @cached_property
    def layout(self) -> ModelLayout | None:
        """The config's weight layout (layout.py); None for a container."""
        return layout_of(self.config)

    @property
    def expected_weight_count(self) -> int | None:
        """Weights the config needs in `weights`; None where the runtime ignores them."""
        return self.layout.n_weights if self.layout is not None else None

    @property
    def receptive_field(self) -> int:
        """Samples of input that one output sample depends on (1 = memoryless).

        LSTM has unbounded memory; its receptive field is reported as 1 (it is prewarmed
        separately, NAM_FORMAT §5). A container reports its largest submodel's; a WaveNet
        adds its condition DSP's.
        """
        if self.layout is None:
            return self.submodels[-1].model.receptive_field if self.submodels else 1
        extra = self.condition_dsp.receptive_field - 1 if self.condition_dsp else 0
        return self.layout.receptive_field + extra

    @property
    def in_channels(self) -> int:
        """Input signals the model reads (a container reads one, like the runtime's)."""
        return self.layout.in_channels if self.layout is not None else 1

    @property
    def out_channels(self) -> int:
        """Output signals of the model (a container has one)."""
        return self.layout.out_channels if self.layout is not None else 1

    @property
    def flops_per_sample(self) -> int:
        """Multiply-adds x 2 of the convolutions (or LSTM gates) per output sample;
        activations and element-wise adds are not counted. A container counts its largest
        submodel."""
        if self.layout is None:
            return self.submodels[-1].model.flops_per_sample if self.submodels else 0
        extra = self.condition_dsp.flops_per_sample if self.condition_dsp else 0
        return 2 * self.layout.macs_per_sample + extra

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
    def loudness(self) -> float | None:
        """metadata.loudness in dB, None if absent or null."""
        return _number(self.metadata.get("loudness"))

    @property
    def gain(self) -> float | None:
        """metadata.gain, None if absent, null or not a number (see metadata_issues)."""
        return _number(self.metadata.get("gain"))

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the JSON document (unknown keys included)."""
        return copy.deepcopy(self.data)

    def replace_data(self, edit: Callable[[dict[str, Any]], None]) -> NamModel:
        """Apply `edit` to a copy of the JSON document and parse the result as a new model
        (same source name); raises NamFileError if the edited document is refused."""
        assert self.reparse is not None, "a NamModel is made by parse_nam"
        doc = self.to_dict()
        edit(doc)
        return self.reparse(doc, self.source)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
