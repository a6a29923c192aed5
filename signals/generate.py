"""Generated test signals (seeded, deterministic on every machine) and the default input."""

from __future__ import annotations

import numpy as np

DEFAULT_RATE = 48000
DEFAULT_SIGNAL_NAME = "built-in default (1 s: decaying 110 Hz tone, log sweep, pink noise; seed 0)"


def sine(freq: float, seconds: float = 1.0, rate: int = DEFAULT_RATE,
         amplitude: float = 0.5) -> np.ndarray:
    """A sine of `freq` Hz, `seconds` long at `rate` Hz, peak `amplitude`."""
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def log_sweep(f0: float = 20.0, f1: float = 20000.0, seconds: float = 1.0,
              rate: int = DEFAULT_RATE, amplitude: float = 0.5) -> np.ndarray:
    """Exponential sine sweep from f0 to f1 Hz."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    k = np.log(f1 / f0)
    return amplitude * np.sin(2 * np.pi * f0 * seconds / k * (np.exp(t / seconds * k) - 1))


def pink_noise(seconds: float = 1.0, rate: int = DEFAULT_RATE, amplitude: float = 0.5,
               seed: int = 0) -> np.ndarray:
    """1/f noise: white noise shaped by 1/sqrt(f) in the frequency domain, peak `amplitude`."""
    n = round(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    peak = np.max(np.abs(x))
    return amplitude * x / peak if peak > 0 else x


def silence(seconds: float = 1.0, rate: int = DEFAULT_RATE) -> np.ndarray:
    """`seconds` of zeros at `rate` Hz."""
    return np.zeros(round(seconds * rate))


def default_signal(rate: int = DEFAULT_RATE) -> np.ndarray:
    """The input used when no WAV is given: 1 s at `rate`, a third each of a decaying
    110 Hz tone, a 20 Hz-20 kHz log sweep and pink noise, peak 0.5 (seed 0). It is NOT
    NAM's standard loudness input, so stored loudness cannot be compared against it."""
    third = rate // 3
    tone = sine(110.0, third / rate, rate) * np.exp(-np.arange(third) / (0.1 * rate))
    sweep = log_sweep(20.0, min(20000.0, 0.45 * rate), third / rate, rate)
    noise = pink_noise((rate - 2 * third) / rate, rate, seed=0)
    return np.concatenate([tone, sweep, noise])
