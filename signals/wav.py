"""Mono WAV input/output via soundfile."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf


class SignalError(ValueError):
    """A signal file that cannot be used (unreadable, not mono, wrong rate)."""


def read_mono(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Samples as float64 in [-1, 1] and the rate; refuses multi-channel files."""
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise SignalError(f"{path}: cannot read audio: {exc}") from None
    if data.shape[1] != 1:
        raise SignalError(f"{path}: expected mono audio, found {data.shape[1]} channels")
    return data[:, 0], int(rate)


def write_mono(path: str | os.PathLike[str], samples: np.ndarray, rate: int) -> None:
    """Float32 WAV, written to a temp file in the same folder and renamed into place."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp.wav")
    try:
        sf.write(str(tmp), np.asarray(samples, dtype=np.float32), rate, subtype="FLOAT")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
