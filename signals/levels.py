"""Level measures: NAM's loudness definition and gain heuristic, in one place each."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from namcheck.models.engines import Engine
from namcheck.models.reference.batched import ModelBatch

GAIN_STEPS = 11  # input gains 0, 0.1, ..., 1 (upstream's heuristic)


def rms(y: torch.Tensor | np.ndarray | Sequence[float]) -> float:
    """Root mean square of the samples (linear, full scale = 1.0), accumulated in float64
    whatever the dtype; a tensor, a NumPy array or a sequence of numbers, any shape.
    Raises ValueError for no samples."""
    y64 = _float64(y)
    if y64.numel() == 0:
        raise ValueError("rms of no samples")
    return math.sqrt(float(torch.mean(y64 * y64)))


def rms_rows(y: torch.Tensor, dims: int = 1) -> list[float]:
    """rms() of every row of `y` (the last `dims` axes form a row), accumulated in float64,
    read back in one transfer (one device sync for a whole batch)."""
    y64 = y.detach().double().flatten(-dims) if dims > 1 else y.detach().double()
    return torch.sqrt(torch.mean(y64 * y64, dim=-1)).reshape(-1).cpu().tolist()


def crest_factor(y: torch.Tensor | np.ndarray) -> float:
    """Peak over RMS (1 for silence): converts a peak-relative error into an RMS-relative one."""
    level = rms(y)
    return float(_float64(y).abs().max()) / level if level > 0 else 1.0


def _float64(y: torch.Tensor | np.ndarray | Sequence[float]) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        return y.detach().double()
    return torch.from_numpy(np.asarray(y, dtype=np.float64))


def to_db(value: float) -> float:
    """20*log10(value) in dB (-inf for 0)."""
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def loudness_of_output(y: torch.Tensor | np.ndarray) -> float:
    """NAM's `metadata.loudness` of an output already computed: 20*log10(rms(y)) in dB."""
    return to_db(rms(y))


def loudness(engine: Engine, signal: np.ndarray | torch.Tensor, gain: float = 1.0) -> float:
    """NAM's `metadata.loudness`: the loudness of the model's output for `gain * signal`
    with zero history before it (receptive field - 1 zeros prepended)."""
    return loudness_of_output(_output(engine, signal, gain))


def _output(engine: Engine, signal: np.ndarray | torch.Tensor, gain: float) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(signal)) if not isinstance(signal, torch.Tensor) else signal
    return engine(gain * x.to(torch.float64))


def output_rms(engine: Engine, signal: np.ndarray | torch.Tensor, gain: float = 1.0) -> float:
    """RMS of the model's output for `gain * signal` (zero history)."""
    return rms(_output(engine, signal, gain))


def gain_from_levels(levels: list[float]) -> float:
    """Upstream's normalisation of the RMS at 11 input gains: 0 when the output grows
    linearly with the input ("triangle", sum = 0.5 * 11 * top), 1 when it is constant from
    the first step ("square", sum = 11 * top); clipped to [0, 1]."""
    top = levels[-1] * len(levels)
    low = 0.5 * top
    if top - low <= 0:
        return 0.0
    return float(np.clip((sum(levels) - low) / (top - low), 0.0, 1.0))


GAIN_INPUTS = np.linspace(0.0, 1.0, GAIN_STEPS)


def gain_sweep(engine: Engine, signal: np.ndarray | torch.Tensor
               ) -> tuple[torch.Tensor, list[float]]:
    """The gain heuristic's 11 input levels in ONE engine call: the rows g * signal as a
    (B, N) batch, each row from zero history, run the engine's fastest way (models/engines.py:
    the reference joins them in time, the fast engine copies its prewarm per row). Gain 0 is
    no row where the model is not stateful: silence after zero history gives one constant
    output sample, so one sample of it has the level of all n.
    Returns (the output at gain 1.0, which is the loudness run itself, and the RMS at each
    level). Each level equals a single run within the forward's rounding bound
    (tests/test_levels.py)."""
    x = torch.as_tensor(np.asarray(signal)) if not isinstance(signal, torch.Tensor) else signal
    x = x.to(torch.float64).reshape(-1)
    gains = torch.from_numpy(GAIN_INPUTS)
    if engine.stateful:  # every level, silence included, from the start state
        outs = list(engine(gains[:, None] * x[None, :]))
        return outs[-1], [rms(out) for out in outs]
    silent = engine(x.new_zeros(1))
    outs = list(engine(gains[1:, None] * x[None, :]))  # (1.0 * x is x exactly)
    return outs[-1], [rms(silent)] + [rms(out) for out in outs]


def gain_levels(engine: Engine, signal: np.ndarray | torch.Tensor) -> list[float]:
    """RMS of the output at input gains 0, 0.1, ..., 1 (one batched forward)."""
    return gain_sweep(engine, signal)[1]


def gain(engine: Engine, signal: np.ndarray | torch.Tensor) -> float:
    """NAM's `metadata.gain` heuristic (between 0 and 1: how compressed the model seems)."""
    return gain_from_levels(gain_levels(engine, signal))


def gain_sweeps(batch: ModelBatch, signal: np.ndarray | torch.Tensor, with_gain: bool = True
                ) -> list[tuple[torch.Tensor, list[float] | None]]:
    """gain_sweep for every model of a ModelBatch, in its order, in two batched forwards
    (the ten nonzero gains for every model at once, and silence: one sample after zero
    history). Each model's (output at gain 1.0, levels) equals its own gain_sweep within
    the forward's rounding bound (tests/test_batched_forward.py). `with_gain=False`: the
    output alone (one forward of the signal), levels None."""
    x = torch.as_tensor(np.asarray(signal)) if not isinstance(signal, torch.Tensor) else signal
    x = x.to(torch.float64).reshape(-1)
    dims = 1 if batch.out_channels == 1 else 2
    if not with_gain:
        outs = batch(x)
        return [(outs[m, 0].clone(), None) for m in range(len(batch))]
    gains = torch.from_numpy(GAIN_INPUTS)
    quiet = rms_rows(batch(x.new_zeros(1)), dims)
    outs = batch(gains[1:, None] * x[None, :])  # (M, 10, N): 1.0 * x is x exactly
    levels = rms_rows(outs, dims)
    steps = GAIN_STEPS - 1
    return [(outs[m, -1].clone(), [quiet[m], *levels[m * steps : (m + 1) * steps]])
            for m in range(len(batch))]


# --------------------------------------------------------------------------- streaming
# Signals longer than STREAM_SAMPLES are measured in STREAM_CHUNK-sample blocks through the
# engine's stream (which continues every state, so the blocks join into the offline
# output): the output is never held, only what the checks need of it (OutputStats), so
# memory is flat in the signal's length. 1 << 18 samples is 5.5 s at 48 kHz (NAM's standard
# input, 1 s, is measured whole as before).
STREAM_SAMPLES = 1 << 18
STREAM_CHUNK = 1 << 15


@dataclass
class OutputStats:
    """What the checks need of one output, accumulated over blocks in float64: how many
    samples, their sum of squares, the largest finite |sample|, the non-finite samples
    (how many, the first's index and value) and, with `lufs_meter`, BS.1770 loudness."""

    samples: int = 0
    sum_squares: float = 0.0
    peak: float = 0.0
    non_finite: int = 0
    first_non_finite: int | None = None
    first_non_finite_value: float | None = None
    lufs: float | None = None
    whole_rms: float | None = None  # rms() of a whole output (OutputStats.of), as before

    def add(self, block: torch.Tensor | np.ndarray) -> None:
        y = _float64(block).reshape(-1)
        finite = torch.isfinite(y)
        bad = int((~finite).sum())
        if bad and self.first_non_finite is None:
            first = int(torch.nonzero(~finite)[0])
            self.first_non_finite = self.samples + first
            self.first_non_finite_value = float(y[first])
        self.non_finite += bad
        self.sum_squares += float(torch.sum(y * y))
        good = y[finite] if bad else y
        if good.numel():
            self.peak = max(self.peak, float(good.abs().max()))
        self.samples += int(y.numel())

    @property
    def rms(self) -> float:
        if self.whole_rms is not None:
            return self.whole_rms
        if self.samples == 0:
            raise ValueError("rms of no samples")
        return math.sqrt(self.sum_squares / self.samples)

    @classmethod
    def of(cls, y: torch.Tensor | np.ndarray) -> OutputStats:
        stats = cls()
        stats.add(y)
        if stats.samples:
            stats.whole_rms = rms(y)
        return stats


def _blocks(signal: Any, chunk: int) -> Iterator[torch.Tensor]:
    if hasattr(signal, "blocks"):  # signals/wav.py: WavSamples, read in blocks
        for block in signal.blocks(chunk):
            yield torch.from_numpy(np.ascontiguousarray(block, dtype=np.float64))
        return
    x = torch.as_tensor(np.asarray(signal)) if not isinstance(signal, torch.Tensor) else signal
    x = x.reshape(-1)
    for i in range(0, x.shape[0], chunk):
        yield x[i : i + chunk].to(torch.float64)


def stream_output(engine: Engine, signal: np.ndarray | torch.Tensor,
                  chunk: int = STREAM_CHUNK) -> Iterator[torch.Tensor]:
    """The engine's output over `signal` (gain 1.0) block by block, never whole."""
    stream = engine.stream(1)
    for block in _blocks(signal, chunk):
        yield torch.as_tensor(stream.process(block[None, :]))[0]


def stream_sweep(engine: Engine, signal: np.ndarray | torch.Tensor, with_gain: bool,
                 lufs_meter: Any = None, chunk: int = STREAM_CHUNK
                 ) -> tuple[OutputStats, list[float] | None]:
    """gain_sweep (with_gain) or the plain forward, over a long signal in `chunk`-sample
    blocks through one engine stream of all gains at once: (the output's OutputStats at
    gain 1.0, the RMS at each of the 11 input levels or None). Memory: the rows of one
    block, whatever the signal's length. `lufs_meter`: a signals.metering.StreamingLufs fed
    the gain-1.0 output (its value stored in the stats)."""
    gains = GAIN_INPUTS if with_gain else np.ones(1)
    if with_gain and not engine.stateful:
        gains = GAIN_INPUTS[1:]  # gain 0: one sample after zero history, as gain_sweep
    g = torch.from_numpy(np.asarray(gains, dtype=np.float64))
    rows = [OutputStats() for _ in gains]
    stream = engine.stream(len(gains))
    for block in _blocks(signal, chunk):
        y = stream.process(g[:, None] * block[None, :])
        y = torch.as_tensor(y)
        for row, stats in zip(y, rows, strict=True):
            stats.add(row)
        if lufs_meter is not None:
            lufs_meter.add(y[-1])
    top = rows[-1]
    if lufs_meter is not None:
        top.lufs = lufs_meter.value() if top.non_finite == 0 else None
    if not with_gain:
        return top, None
    levels = [s.rms for s in rows]
    if not engine.stateful:
        levels = [rms(engine(torch.zeros(1, dtype=torch.float64))), *levels]
    return top, levels
