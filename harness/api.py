"""The harness as Python functions, for notebooks and other test suites: each returns the
same per-model report the command line prints (`report.status`, `report.checks`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from namcheck.harness.audit import audit_model
from namcheck.harness.compare import compare_render, compare_upstream, upstream_loader
from namcheck.harness.stamp import Plan, require_standard_input, stamp_file
from namcheck.harness.verify import ModelReport, Options, Signal, verify_model
from namcheck.models.format import NamModel, read_nam

ModelSource = str | os.PathLike[str] | dict[str, Any] | NamModel
SignalSource = Signal | str | os.PathLike[str] | None


def default_signal() -> Signal:
    """NAM's standard loudness input where `neural-amp-modeler` is installed, else the
    built-in generated signal (against which stored loudness is not compared)."""
    return Signal.choose()


def as_signal(signal: SignalSource) -> Signal:
    """A Signal from a Signal, a WAV path, or None (default_signal())."""
    if signal is None:
        return default_signal()
    return signal if isinstance(signal, Signal) else Signal.from_wav(signal)


def verify(model: ModelSource, scales: Sequence[float] = (0.5, 2.0), *,
           hook: str = "reference", signal: SignalSource = None,
           options: Options | None = None) -> ModelReport:
    """Apply `hook` ('reference' or 'upstream') at each scale and check its claims by
    running the model (loudness shift in dB, linearity, stored metadata, gain)."""
    return verify_model(read_nam(model), list(scales), hook, as_signal(signal),
                        options or Options())


def audit(path: str | os.PathLike[str], *, signal: SignalSource = None,
          options: Options | None = None) -> ModelReport:
    """A file as it is: measured vs stored loudness (dB) and gain, container levels."""
    return audit_model(path, as_signal(signal), options or Options())


def compare(model: ModelSource, *, render: str | os.PathLike[str] | None = None,
            signal: SignalSource = None, options: Options | None = None) -> ModelReport:
    """Upstream's PyTorch forward (or a render WAV of `signal`) vs the reference."""
    nam, sig = read_nam(model), as_signal(signal)
    if render is not None:
        return compare_render(nam, render, sig, options or Options())
    upstream_loader()
    return compare_upstream(nam, sig, options or Options())


def stamp(path: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
          signal: SignalSource = None, options: Options | None = None) -> ModelReport:
    """Write measured metadata.loudness/gain into `output` (a file path; `path` itself
    only when output == path; None: a dry run). Needs NAM's standard loudness input."""
    sig = as_signal(signal)
    require_standard_input(sig)
    target = Path(output) if output is not None else None
    return stamp_file(Plan(Path(path), target), sig, options or Options())
