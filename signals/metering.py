"""A level meter for plain audio: NumPy arrays and audio files, no model involved.

Three measures of one mono signal, each in its field's standard terms:

- RMS level, dBFS: 20*log10(rms), full scale 1.0 (a full-scale sine is -3.01 dBFS);
- NAM's loudness, dB: the same number; `metadata.loudness` is this measure taken on a
  model's output for NAM's standard input;
- integrated loudness, LUFS: ITU-R BS.1770-4 (K-weighting, 400 ms blocks with 75 %
  overlap, absolute gate -70 LUFS, relative gate -10 LU), computed by pyloudnorm.

On a short signal BS.1770's gating sees few blocks: 1 s (NAM's standard input) gives 7
blocks; a signal shorter than one 400 ms block has no integrated loudness (None here).
See docs/levels.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyloudnorm
import torch

from namcheck.signals.levels import rms, to_db
from namcheck.signals.wav import read_mono

# BS.1770-4's gating block and step (pyloudnorm's defaults, stated here so they are ours).
BLOCK_SECONDS = 0.4
OVERLAP = 0.75


def lufs(samples: torch.Tensor | np.ndarray | Sequence[float], rate: float) -> float | None:
    """Integrated loudness of mono `samples` (full scale 1.0) at `rate` Hz, in LUFS, per
    ITU-R BS.1770-4 (pyloudnorm.Meter). -inf where every block is gated out (silence
    or below -70 LUFS); None where the signal is shorter than one 400 ms block or not
    finite. Raises ValueError for a rate <= 0."""
    if not rate > 0:
        raise ValueError(f"sample rate must be > 0 Hz, got {rate}")
    x = (samples.detach().double().cpu().numpy() if isinstance(samples, torch.Tensor)
         else np.asarray(samples, dtype=np.float64)).reshape(-1)
    if x.size <= BLOCK_SECONDS * rate or not np.all(np.isfinite(x)):
        return None
    meter = pyloudnorm.Meter(rate, block_size=BLOCK_SECONDS)
    with np.errstate(divide="ignore"):  # an all-gated signal is log10(0) = -inf
        value = float(meter.integrated_loudness(x))
    return value if not math.isnan(value) else None


@dataclass(frozen=True)
class SignalLevels:
    """What the meter reads on one mono signal."""

    samples: int
    sample_rate: float  # Hz
    peak_dbfs: float  # 20*log10(max |x|); -inf for silence
    rms_dbfs: float  # 20*log10(rms); -inf for silence
    nam_loudness_db: float  # NAM's loudness definition: the RMS level in dB
    lufs: float | None  # BS.1770-4 integrated loudness; None: shorter than one block

    @property
    def lufs_minus_rms_db(self) -> float | None:
        """Integrated loudness minus the RMS level, dB (None where either is not finite)."""
        if self.lufs is None or not math.isfinite(self.lufs) or not math.isfinite(
                self.rms_dbfs):
            return None
        return self.lufs - self.rms_dbfs

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lufs_minus_rms_db": self.lufs_minus_rms_db}


def meter(samples: torch.Tensor | np.ndarray | Sequence[float], rate: float) -> SignalLevels:
    """Peak, RMS, NAM loudness (dB) and LUFS of mono `samples` (full scale 1.0) at `rate`
    Hz. Raises ValueError for no samples or a rate <= 0."""
    x = np.asarray(samples.detach().double().cpu().numpy() if isinstance(samples, torch.Tensor)
                   else samples, dtype=np.float64).reshape(-1)
    level = rms(x)
    return SignalLevels(int(x.size), float(rate), to_db(float(np.max(np.abs(x)))),
                        to_db(level), to_db(level), lufs(x, rate))


def meter_file(path: str | os.PathLike[str]) -> SignalLevels:
    """The meter on a mono audio file (signals/wav.py: read_mono; raises SignalError)."""
    samples, rate = read_mono(path)
    return meter(samples, rate)


class StreamingLufs:
    """lufs() of an output fed in blocks (signals/levels.py: stream_sweep): pyloudnorm's
    K-weighting filters run block by block with their state kept (scipy's lfilter with
    `zi`: the same filtered samples as one call), and its gating blocks' mean squares are
    taken from the running sum of squares at each block's bounds (pyloudnorm's bounds for a
    signal of `samples` samples). Memory: two numbers per 100 ms block."""

    def __init__(self, rate: float, samples: int) -> None:
        import scipy.signal

        self._lfilter = scipy.signal.lfilter
        self.rate, self.samples = float(rate), int(samples)
        self.meter = pyloudnorm.Meter(rate, block_size=BLOCK_SECONDS)
        self.stages = [(f.b, f.a, f.passband_gain, np.zeros(max(len(f.a), len(f.b)) - 1))
                       for f in self.meter._filters.values()]
        t_g, step = BLOCK_SECONDS, 1.0 - OVERLAP
        seconds = self.samples / self.rate
        self.valid = self.samples > BLOCK_SECONDS * self.rate
        count = int(np.round((seconds - t_g) / (t_g * step))) + 1 if self.valid else 0
        j = np.arange(count)
        self.lower = np.array([int(t_g * (k * step) * self.rate) for k in j], dtype=np.int64)
        self.upper = np.array([int(t_g * (k * step + 1) * self.rate) for k in j],
                              dtype=np.int64)
        self.bounds = np.unique(np.concatenate((self.lower, self.upper)))
        self.at = np.zeros(len(self.bounds))  # running sum of squares at each bound
        self.seen, self.total, self.next = 0, 0.0, 0

    def add(self, block: torch.Tensor | np.ndarray) -> None:
        x = (block.detach().double().cpu().numpy() if isinstance(block, torch.Tensor)
             else np.asarray(block, dtype=np.float64)).reshape(-1)
        for k, (b, a, gain, zi) in enumerate(self.stages):
            y, zf = self._lfilter(b, a, x, zi=zi)
            self.stages[k] = (b, a, gain, zf)
            x = gain * y
        cum = self.total + np.concatenate(([0.0], np.cumsum(x * x)))
        end = self.seen + len(x)
        while self.next < len(self.bounds) and self.bounds[self.next] <= end:
            index = self.bounds[self.next] - self.seen
            self.at[self.next] = cum[min(index, len(x))]
            self.next += 1
        self.total, self.seen = float(cum[-1]), end

    def value(self) -> float | None:
        """The integrated loudness, LUFS, as lufs() gives on the whole output."""
        if not self.valid:
            return None
        where = {int(b): self.at[i] for i, b in enumerate(self.bounds)}
        z = np.array([(where[int(u)] - where[int(lo)]) for lo, u in
                      zip(self.lower, self.upper, strict=True)]) / (BLOCK_SECONDS * self.rate)
        with np.errstate(divide="ignore"):
            loud = -0.691 + 10.0 * np.log10(z)
            gated = z[loud >= -70.0]
            if gated.size == 0:
                return -math.inf
            relative = -0.691 + 10.0 * np.log10(np.mean(gated)) - 10.0
            kept = z[(loud > relative) & (loud > -70.0)]
            mean = float(np.mean(kept)) if kept.size else 0.0
            value = -0.691 + 10.0 * math.log10(mean) if mean > 0 else -math.inf
        return value
