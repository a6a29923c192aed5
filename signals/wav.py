"""Mono audio input/output via soundfile; the format follows the file's extension."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from namcheck.models.atomic import atomic_write
from namcheck.models.format.limits import limits, refusal

# Extension -> (soundfile format, subtype written). WAV-like files are float32 (exact for a
# float32 forward); FLAC and AIFF hold integers, so they get their deepest PCM (24-bit).
WRITE_FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("WAV", "FLOAT"),
    ".w64": ("W64", "FLOAT"),
    ".rf64": ("RF64", "FLOAT"),
    ".flac": ("FLAC", "PCM_24"),
    ".aif": ("AIFF", "PCM_24"),
    ".aiff": ("AIFF", "PCM_24"),
    ".caf": ("CAF", "FLOAT"),
}


class SignalError(ValueError):
    """A signal file that cannot be used (unreadable, not mono, empty, too long, wrong rate)."""


def _checked_info(path: str | os.PathLike[str]) -> Any:
    """soundfile's header of a usable signal file; SignalError for a folder, a missing or
    unreadable file, more than one channel, no samples, a bad rate, or more than
    max_signal_seconds (checked before any sample is read)."""
    if os.path.isdir(path):
        raise SignalError(f"{path}: is a folder, not an audio file")
    if not os.path.exists(path):
        raise SignalError(f"{path}: no such file")
    if not os.path.isfile(path):  # a FIFO or device: a read could block for ever
        raise SignalError(f"{path}: not a regular file (a FIFO, socket or device), not an "
                          "audio file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise SignalError(f"{path}: cannot read audio: {exc}") from None
    if info.channels != 1:
        raise SignalError(f"{path}: expected mono audio, found {info.channels} channels")
    if info.frames <= 0:
        raise SignalError(f"{path}: the audio has no samples")
    if info.samplerate <= 0:
        raise SignalError(f"{path}: invalid sample rate {info.samplerate}")
    seconds = info.frames / info.samplerate
    if seconds > limits().max_signal_seconds:
        raise SignalError(f"{path}: " + refusal("max_signal_seconds", round(seconds, 1),
                                                "signal length (s)"))
    return info


def read_mono(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Samples as float64 and the rate (Hz). Refuses multi-channel, empty, non-finite and
    over-long files (limit max_signal_seconds), the length checked before the read."""
    info = _checked_info(path)
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise SignalError(f"{path}: cannot read audio: {exc}") from None
    except MemoryError:
        raise SignalError(f"{path}: out of memory reading {info.frames:,} samples") from None
    samples = data[:, 0]
    bad = np.flatnonzero(~np.isfinite(samples))
    if bad.size:
        raise SignalError(f"{path}: sample {bad[0]} is {samples[bad[0]]} "
                          f"({bad.size} non-finite samples)")
    return samples, int(rate)


def output_format(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(format, subtype) for an output file's extension; SignalError if none is known."""
    ext = Path(path).suffix.lower()
    if ext not in WRITE_FORMATS:
        known = ", ".join(sorted(WRITE_FORMATS))
        raise SignalError(f"{path}: cannot write audio with extension {ext or '(none)'!r} "
                          f"(known: {known})")
    return WRITE_FORMATS[ext]


def write_mono(path: str | os.PathLike[str], samples: np.ndarray, rate: int) -> int:
    """Write mono audio atomically (models/atomic.py), format from the extension. Integer
    formats hold [-1, 1] only: returns how many samples had to be clipped (0 for float)."""
    fmt, subtype = output_format(path)
    data = np.asarray(samples, dtype=np.float32)
    clipped = 0
    if subtype.startswith("PCM"):
        clipped = int(np.count_nonzero(np.abs(data) > 1.0))
        data = np.clip(data, -1.0, 1.0)
    # Encoded in memory first: soundfile's file callbacks swallow write errors (a full disk
    # would surface as an unrelated libsndfile error), our own handle.write reports them.
    encoded = io.BytesIO()
    sf.write(encoded, data, rate, format=fmt, subtype=subtype)
    atomic_write(path, lambda handle: handle.write(encoded.getbuffer()))
    return clipped


class WavSamples:
    """A long mono file's samples, read in blocks where they are used (signals/levels.py:
    stream_sweep), never held whole: memory flat in the file's length. `np.asarray` of it
    reads it whole (for the commands that need every sample at once). Made by
    read_mono_blocks, which has already checked every sample."""

    def __init__(self, path: str | os.PathLike[str], frames: int, rate: int) -> None:
        self.path, self.frames, self.rate = str(path), int(frames), int(rate)

    def __len__(self) -> int:
        return self.frames

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        """The samples as float64, `size` at a time."""
        try:
            for block in sf.blocks(self.path, blocksize=size, dtype="float64",
                                   always_2d=True):
                yield block[:, 0]
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise SignalError(f"{self.path}: cannot read audio: {exc}") from None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        samples, _ = read_mono(self.path)
        return samples if dtype is None else samples.astype(dtype, copy=False)


def read_mono_blocks(path: str | os.PathLike[str], size: int = 1 << 16
                     ) -> tuple[WavSamples, int, str]:
    """read_mono's checks (mono, not empty, not too long, finite) and refusal of a silent
    or constant signal, in one pass over `size`-sample blocks: (the samples, to be read in
    blocks again where used; the rate; the SHA-256 of the samples as float64
    little-endian bytes, as standard_input.samples_sha256 of the whole)."""
    info = _checked_info(path)
    samples = WavSamples(path, info.frames, info.samplerate)
    digest, first, varies, seen = hashlib.sha256(), None, False, 0
    bad_count, bad_at, bad_value = 0, None, 0.0
    for block in samples.blocks(size):
        bad = np.flatnonzero(~np.isfinite(block))
        if bad.size and bad_at is None:
            bad_at, bad_value = seen + int(bad[0]), float(block[bad[0]])
        bad_count += int(bad.size)
        if first is None and block.size:
            first = float(block[0])
        varies = varies or bool(np.any(block != first))
        digest.update(np.ascontiguousarray(block, dtype="<f8").tobytes())
        seen += block.size
    if bad_count:
        raise SignalError(f"{path}: sample {bad_at} is {bad_value} ({bad_count} non-finite "
                          "samples)")
    if not varies:
        what = "silent (every sample is 0)" if first == 0 else (
            f"constant (every sample is {first:g})")
        raise SignalError(f"{path}: the signal is {what}: it tests nothing; give a signal "
                          "that varies (e.g. NAM's loudness_input.wav)")
    return samples, int(info.samplerate), digest.hexdigest()
