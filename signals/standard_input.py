"""NAM's standard loudness input: how namcheck recognises it and where it finds it.

`metadata.loudness` is defined on one signal, `loudness_input.wav` shipped inside
`neural-amp-modeler` (nam/models/_resources/, MIT): 48,000 samples at 48 kHz, 24-bit PCM.
A WAV is recognised as that signal by the SHA-256 of its decoded samples (float64,
little-endian), so a re-encoded copy (float WAV, FLAC) is recognised too; any other signal
is not, and stored loudness is then not compared against it.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

STANDARD_RATE = 48000
# sha256 of loudness_input.wav's samples as float64 little-endian bytes.
STANDARD_SAMPLES_SHA256 = "89088441110b3b2ad4b4c97e5c244bc49ffe12571e7df546f7f0369f7b228347"


def samples_sha256(samples: np.ndarray) -> str:
    """SHA-256 of samples as float64 little-endian bytes (independent of the file format)."""
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<f8").tobytes()).hexdigest()


def is_standard_input(samples: np.ndarray, rate: int | None) -> bool:
    """Whether these samples (at `rate` Hz) are NAM's standard loudness input."""
    return rate == STANDARD_RATE and samples_sha256(samples) == STANDARD_SAMPLES_SHA256


def find_standard_input() -> Path | None:
    """The copy inside an installed `neural-amp-modeler`, if any. Located without importing
    the package (importing it loads PyTorch Lightning: seconds)."""
    try:
        spec = importlib.util.find_spec("nam")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "models" / "_resources" / "loudness_input.wav"
        if path.is_file():
            return path
    return None
