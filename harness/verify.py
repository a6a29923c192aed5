"""Run the checks on models: `verify` (a hook at several scales) and `audit` (files as-is)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from namcheck.harness import checks as C
from namcheck.harness.hooks import (
    HookRefusedError,
    linearity_obstacle,
    scale_output,
    upstream_scale_output,
)
from namcheck.models import NamFileError, load, read_nam
from namcheck.models.nam_file import NamModel
from namcheck.models.numerics import forward_tolerance
from namcheck.signals.generate import DEFAULT_SIGNAL_NAME, default_signal
from namcheck.signals.levels import crest_factor
from namcheck.signals.wav import SignalError, read_mono

HOOKS: dict[str, Callable[[NamModel, float], NamModel]] = {
    "reference": scale_output,
    "upstream": upstream_scale_output,
}


@dataclass
class Signal:
    samples: np.ndarray
    rate: int | None
    name: str
    standard_input: bool  # may stored loudness be compared against it?

    @classmethod
    def from_wav(cls, path: str | os.PathLike[str]) -> Signal:
        samples, rate = read_mono(path)
        return cls(samples, rate, f"{path} (treated as NAM's standard loudness input)", True)

    @classmethod
    def default(cls) -> Signal:
        return cls(default_signal(), None, DEFAULT_SIGNAL_NAME, False)


def standard_input_path() -> Path | None:
    """NAM's standard loudness input from an installed `neural-amp-modeler`, if any."""
    try:
        import nam  # type: ignore[import-not-found]
    except Exception:
        return None
    path = Path(nam.__file__).parent / "models" / "_resources" / "loudness_input.wav"
    return path if path.is_file() else None


@dataclass
class Options:
    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    slim: float | None = None
    with_gain: bool = True


@dataclass
class ModelReport:
    path: str
    architecture: str | None
    checks: list[C.CheckResult] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed is not False for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "architecture": self.architecture,
                             "checks": [c.to_dict() for c in self.checks],
                             "passed": self.passed}
        if self.error:
            d["error"] = self.error
        return d


def _check_rate(model: NamModel, signal: Signal) -> None:
    if signal.rate is not None and model.sample_rate is not None and (
            signal.rate != model.sample_rate):
        raise SignalError(f"{signal.name.split(' (')[0]}: sample rate {signal.rate} Hz differs "
                          f"from the model's {model.sample_rate:g} Hz ({model.source})")


def _measure(model: NamModel, signal: Signal, opts: Options, slim: float | None = None
             ) -> C.Measurement:
    net = load(model, dtype=opts.dtype, device=opts.device, slim=slim)
    return C.measure(net, signal.samples, opts.with_gain)


def _tag(name: str, scale: float) -> str:
    return f"{name}[s={scale:g}]"


def _retag(result: C.CheckResult, name: str) -> C.CheckResult:
    return C.CheckResult(name, result.passed, result.measured, result.expected, result.error,
                         result.tolerance, result.detail)


def verify_model(model: NamModel, scales: Iterable[float], hook: str, signal: Signal,
                 opts: Options) -> ModelReport:
    """All checks of one model under `hook` at each scale."""
    _check_rate(model, signal)
    report = ModelReport(model.source, model.architecture)
    out = report.checks
    out.append(C.head_scale_tail(model))
    if model.submodels:
        out.append(C.container_metadata(model))
    before = _measure(model, signal, opts, opts.slim)
    out.append(C.metadata_loudness(model, before, signal.standard_input, opts.dtype))
    for s in scales:
        forced = False
        try:
            hooked = HOOKS[hook](model, s)
        except HookRefusedError as exc:
            obstacle = linearity_obstacle(model)
            out.append(C.CheckResult(_tag("hook", s), None, None, None, None, None,
                                     f"not applicable: {hook} hook refused: {exc}"))
            if obstacle is None or model.architecture != "WaveNet":
                continue
            hooked, forced = scale_output(model, s, force=True), True  # measure anyway
        after = _measure(hooked, signal, opts, opts.slim)
        shift = C.loudness_shift(before, after, s, opts.dtype)
        out.append(_retag(shift, _tag("loudness_shift", s)))
        out.append(_retag(C.linearity(model, before, after, s, opts.dtype), _tag("linearity", s)))
        if opts.with_gain:
            out.append(_retag(C.gain_invariant(before, after, opts.dtype),
                              _tag("gain_invariant", s)))
        if forced:
            continue  # the file was scaled by us with force: its metadata claims nothing
        out.append(_retag(C.metadata_shift(model, hooked, s), _tag("metadata_shift", s)))
        out.append(_retag(C.metadata_loudness(hooked, after, signal.standard_input, opts.dtype),
                          _tag("metadata_loudness", s)))
        out.append(_retag(C.metadata_gain_kept(model, hooked), _tag("metadata_gain_kept", s)))
        out.append(_retag(C.head_scale_tail(hooked), _tag("head_scale_tail", s)))
        if model.submodels:
            out.append(_retag(C.container_metadata(hooked), _tag("container_metadata", s)))
            for i, (sub0, sub1) in enumerate(zip(model.submodels, hooked.submodels, strict=True)):
                b = _measure(sub0.model, signal, opts)
                a = _measure(sub1.model, signal, opts)
                out.append(_retag(C.loudness_shift(b, a, s, opts.dtype),
                                  _tag(f"submodel{i}.loudness_shift", s)))
                out.append(_retag(C.metadata_shift(sub0.model, sub1.model, s),
                                  _tag(f"submodel{i}.metadata_shift", s)))
    return report


def audit_model(path: str | os.PathLike[str], signal: Signal, opts: Options) -> ModelReport:
    """A file as it is: stored vs measured loudness and gain, head_scale, container metadata."""
    try:
        model = read_nam(path)
        _check_rate(model, signal)
    except (NamFileError, SignalError) as exc:
        return ModelReport(str(path), None, error=str(exc))
    report = ModelReport(str(path), model.architecture)
    out = report.checks
    out.append(C.head_scale_tail(model))
    targets = [("", model)] + [(f".submodel{i}", s.model) for i, s in enumerate(model.submodels)]
    for label, m in targets:
        measured = _measure(m, signal, opts)
        out.append(C.metadata_loudness(m, measured, signal.standard_input, opts.dtype, label))
        if opts.with_gain:
            out.append(stored_gain(m, measured, signal.standard_input, label))
    if model.submodels:
        out.append(C.container_metadata(model))
    return report


def stored_gain(model: NamModel, m: C.Measurement, standard_input: bool, label: str
                ) -> C.CheckResult:
    """Stored `metadata.gain` vs the heuristic measured on the standard input.

    Tolerance: levels carry the float32 forward error of metadata_loudness (relative, at the
    crest factor); the normalised gain moves by up to 2 * that relative error."""
    name = f"metadata_gain{label}"
    if model.gain is None:
        return C.not_applicable(name, "no metadata.gain stored")
    if not standard_input:
        return C.not_applicable(name, "the signal is not NAM's standard loudness input")
    assert m.levels is not None
    rel = forward_tolerance(model, torch.float32, implementations=2) * crest_factor(m.output)
    # + the float64 rounding of the stored number itself (gain is written as a Python float)
    tol = 2 * 2 * rel + abs(model.gain) * float(torch.finfo(torch.float64).eps)
    return C.result(name, C.gain_from_levels(m.levels), model.gain, tol,
                     "stored metadata.gain vs measured on the standard input")
