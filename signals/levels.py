"""Level measures: NAM's loudness definition and gain heuristic, in one place each."""

from __future__ import annotations

import math

import numpy as np
import torch

from namcheck.models.reference.base import NamModule

GAIN_STEPS = 11  # input gains 0, 0.1, ..., 1 (upstream's heuristic)


def rms(y: torch.Tensor) -> float:
    """Root mean square, accumulated in float64 whatever the output dtype."""
    y64 = y.detach().double()
    return math.sqrt(float(torch.mean(y64 * y64)))


def crest_factor(y: torch.Tensor) -> float:
    """Peak over RMS (1 for silence): converts a peak-relative error into an RMS-relative one."""
    level = rms(y)
    return float(y.detach().double().abs().max()) / level if level > 0 else 1.0


def to_db(value: float) -> float:
    """20*log10(value) in dB (-inf for 0)."""
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def loudness_of_output(y: torch.Tensor) -> float:
    """NAM's `metadata.loudness` of an output already computed: 20*log10(rms(y)) in dB."""
    return to_db(rms(y))


def loudness(model: NamModule, signal: np.ndarray | torch.Tensor, gain: float = 1.0) -> float:
    """NAM's `metadata.loudness`: the loudness of the model's output for `gain * signal`
    with zero history before it (receptive field - 1 zeros prepended)."""
    return loudness_of_output(_output(model, signal, gain))


def _output(model: NamModule, signal: np.ndarray | torch.Tensor, gain: float) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(signal)) if not isinstance(signal, torch.Tensor) else signal
    return model(gain * x.to(torch.float64))


def output_rms(model: NamModule, signal: np.ndarray | torch.Tensor, gain: float = 1.0) -> float:
    """RMS of the model's output for `gain * signal` (zero history)."""
    return rms(_output(model, signal, gain))


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


def gain_sweep(model: NamModule, signal: np.ndarray | torch.Tensor
               ) -> tuple[torch.Tensor, list[float]]:
    """The gain heuristic's 11 input levels in ONE forward. On the reference it is joined:
    the signals g * signal follow each other in time, each after receptive_field - 1 zeros,
    which is exactly zero history for a model whose output depends only on its receptive
    field (a (B, N) batch is the same arithmetic, but the reference runs it 3.5x slower per
    signal than one long signal). The fast engine (`prefers_batch`) takes the (B, N) batch,
    its rows starting from a copied prewarm. A stateful model (LSTM) runs each level from
    its start state. Gain 0 is no forward: silence after zero history gives one constant.
    Returns (the output at gain 1.0, which is the loudness run itself, and the RMS at each
    level). Each level equals a single run within the forward's rounding bound
    (tests/test_levels.py)."""
    x = torch.as_tensor(np.asarray(signal)) if not isinstance(signal, torch.Tensor) else signal
    x = x.to(torch.float64).reshape(-1)
    levels = [x if g == 1.0 else g * x for g in GAIN_INPUTS]  # 1.0 * x: the signal itself
    if model.stateful:
        outputs = [model(level) for level in levels]
        return outputs[-1], [rms(out) for out in outputs]
    # Gain 0 is silence after zero history: every output sample is the same number (the
    # biases propagated), so one sample of it has the level of all n (no forward repeated).
    silent = model(x.new_zeros(1))
    live = [level for g, level in zip(GAIN_INPUTS, levels, strict=True) if g != 0.0]
    n = x.shape[0]
    if getattr(model, "prefers_batch", False):  # the fast engine: rows at no extra cost
        rows = model(torch.stack(live))
        outs = [rows[k] for k in range(len(live))]
    else:
        gap = x.new_zeros(model.receptive_field - 1)
        span = n + gap.shape[0]
        y = model(torch.cat([part for level in live for part in (gap, level)]))
        outs = [y[k * span + gap.shape[0] : k * span + gap.shape[0] + n]
                for k in range(len(live))]
    outputs = iter(outs)
    rms_levels = [rms(silent) if g == 0.0 else rms(next(outputs)) for g in GAIN_INPUTS]
    return outs[-1], rms_levels


def gain_levels(model: NamModule, signal: np.ndarray | torch.Tensor) -> list[float]:
    """RMS of the output at input gains 0, 0.1, ..., 1 (one batched forward)."""
    return gain_sweep(model, signal)[1]


def gain(model: NamModule, signal: np.ndarray | torch.Tensor) -> float:
    """NAM's `metadata.gain` heuristic (between 0 and 1: how compressed the model seems)."""
    return gain_from_levels(gain_levels(model, signal))
