"""What a conforming runtime does with each case, decided by namcheck itself.

A case is written to its folder (`model.nam`, `input.wav`, `case.json`, and for a model
that plays `expected.wav`). Whether the runtime should play the file is what namcheck's
reader says about those bytes (`read_nam`: a file it refuses, the runtime must refuse), so
the suite follows the reader as it tracks the runtime. The expected output is namcheck's
float64 reference on the float32 input; the bound is the derived float32 bound of the
runtime's forward (`forward_tolerance`, peak-relative) times the expected output's peak.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from namcheck.harness.conform.inputs import make_input
from namcheck.harness.conform.suite import Case
from namcheck.harness.report import strict
from namcheck.models import NamFileError, load, read_nam
from namcheck.models.atomic import atomic_write
from namcheck.models.numerics import forward_tolerance
from namcheck.signals.wav import write_mono

# The buffer a runtime uses when the template passes none: NeuralAmpModelerCore's render
# processes 64 samples at a time. Only the LSTM prewarm depends on it (rounded up to whole
# buffers: 24,000 zeros at 48 kHz either way).
RUNTIME_BLOCK = 64


class SuiteError(RuntimeError):
    """A case the suite itself got wrong (a non-finite or silent expected output)."""


@dataclass
class Prepared:
    """A case on disk with its expectation: `plays` (else the reader's `refusal`), and for
    a model that plays the expected output, its peak and the absolute `bound` on
    |runtime - expected| (`bound_rel` x peak)."""

    case: Case
    folder: Path
    rate: int
    plays: bool
    refusal: str | None = None
    expected: np.ndarray | None = None
    receptive_field: int | None = None
    bound_rel: float | None = None
    bound: float | None = None
    peak: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_path(self) -> Path:
        return self.folder / "model.nam"

    @property
    def input_path(self) -> Path:
        return self.folder / "input.wav"

    @property
    def output_path(self) -> Path:
        return self.folder / "output.wav"

    def info(self) -> dict[str, Any]:
        """case.json: everything needed to rerun and judge the case by hand."""
        c = self.case
        return {"case": c.name, "feature": c.feature, "isolates": c.isolates,
                "expected": "plays" if self.plays else "refuses",
                "namcheck_refusal": self.refusal, "slim": c.slim, "block": c.block,
                "signal": c.signal, "samples": c.samples, "sample_rate": self.rate,
                "receptive_field": self.receptive_field, "peak": self.peak,
                "bound_peak_relative": self.bound_rel, "bound": self.bound,
                "files": {"model": "model.nam", "input": "input.wav",
                          "expected": "expected.wav" if self.plays else None,
                          "output": "output.wav"},
                **self.extra}

    def write_info(self) -> None:
        text = json.dumps(strict(self.info()), indent=2, allow_nan=False) + "\n"
        atomic_write(self.folder / "case.json", lambda h: h.write(text.encode("utf-8")))


def prepare(case: Case, root: Path) -> Prepared:
    """Write `case` below `root` (root/NAME/...) and compute what the runtime should do.

    Raises SuiteError when the expected output is not finite or is silent (a case that
    could not tell a right runtime from a wrong one)."""
    folder = root / case.name
    folder.mkdir(parents=True, exist_ok=True)
    data = case.model_bytes()
    atomic_write(folder / "model.nam", lambda h: h.write(data))
    rate = case.input_rate()
    x = make_input(case.signal, case.samples, rate, case.seed)
    write_mono(folder / "input.wav", x, rate)
    (folder / "output.wav").unlink(missing_ok=True)
    (folder / "expected.wav").unlink(missing_ok=True)
    try:
        model = read_nam(folder / "model.nam")
    except NamFileError as exc:
        prepared = Prepared(case, folder, rate, plays=False,
                            refusal=f"{exc.path}: {exc.message}" if exc.path else exc.message)
        prepared.write_info()
        return prepared
    net = load(model, dtype=torch.float64, slim=case.slim,
               buffer_size=case.block or RUNTIME_BLOCK)
    y = np.asarray(net(x), dtype=np.float64).reshape(-1)
    peak = float(np.max(np.abs(y)))
    if not np.all(np.isfinite(y)) or peak == 0.0 or y.size != x.size:
        raise SuiteError(f"{case.name}: the expected output is not finite, silent or of "
                         "the wrong length (a bug in the suite)")
    rel = forward_tolerance(model, torch.float32)
    prepared = Prepared(case, folder, rate, plays=True, expected=y,
                        receptive_field=int(net.receptive_field), bound_rel=rel,
                        bound=rel * peak, peak=peak)
    _write_double(folder / "expected.wav", y, rate)
    prepared.write_info()
    return prepared


def _write_double(path: Path, samples: np.ndarray, rate: int) -> None:
    """The expected output as a 64-bit float WAV (no rounding of namcheck's reference)."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="DOUBLE")
    atomic_write(path, lambda h: h.write(buffer.getbuffer()))


def esr(output: np.ndarray, target: np.ndarray) -> float:
    """NAM's error-to-signal ratio: mean squared error over mean squared target, no
    pre-emphasis (`nam.models.losses.esr`); inf for a silent target with any error."""
    num = float(np.mean((output - target) ** 2))
    den = float(np.mean(target ** 2))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den
