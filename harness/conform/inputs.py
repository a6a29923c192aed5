"""Input signals of the conformance suite, seeded and deterministic on every machine.

Every signal is rounded to float32 (what a runtime reads from the float WAV it is given),
so namcheck's float64 reference and the runtime start from the same samples.

- ``composite``: silence (prewarm and start-up), then a step (the DC response), white
  noise, and a full-scale log sweep (every frequency, loud), in that order;
- ``silence_step``, ``noise``, ``loud_sweep``: each of those parts alone.
"""

from __future__ import annotations

import numpy as np

from namcheck.signals.generate import log_sweep

KINDS = ("composite", "silence_step", "noise", "loud_sweep")
STEP_LEVEL = 0.5
NOISE_LEVEL = 0.5
SWEEP_LEVEL = 1.0  # full scale: drives every activation beyond its linear region


def _silence_step(n: int) -> np.ndarray:
    x = np.zeros(n)
    x[n // 2:] = STEP_LEVEL
    return x


def _noise(n: int, seed: int) -> np.ndarray:
    return NOISE_LEVEL * np.random.default_rng(seed).uniform(-1.0, 1.0, n)


def _sweep(n: int, rate: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0)
    return log_sweep(20.0, 0.45 * rate, n / rate, rate, SWEEP_LEVEL)[:n]


def make_input(kind: str, samples: int, rate: int, seed: int) -> np.ndarray:
    """`samples` samples of signal `kind` at `rate` Hz (float32 values, as float64).

    composite: the first quarter silence then a step of 0.5 (the silence is the start-up
    window), then uniform white noise of peak 0.5, then a 20 Hz to 0.45*rate log sweep at
    full scale. Raises ValueError for an unknown kind or a length below 1."""
    if samples < 1:
        raise ValueError(f"an input needs at least one sample, got {samples}")
    if kind == "composite":
        q = samples // 4
        x = np.concatenate([_silence_step(2 * q), _noise(q, seed), _sweep(samples - 3 * q, rate)])
    elif kind == "silence_step":
        x = _silence_step(samples)
    elif kind == "noise":
        x = _noise(samples, seed)
    elif kind == "loud_sweep":
        x = _sweep(samples, rate)
    else:
        raise ValueError(f"unknown input kind {kind!r} (known: {', '.join(KINDS)})")
    return x.astype(np.float32).astype(np.float64)
