"""Measuring is streaming (issue 16.12): a signal longer than STREAM_SAMPLES is measured in
blocks through the engine's stream, so memory is flat in the signal's length, and every
number the checks use equals the whole-signal measurement within the forward's bound."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from namcheck.harness import checks as C
from namcheck.harness import core
from namcheck.harness.cli import main
from namcheck.harness.core import Options, Signal, measure, measured_level
from namcheck.models import read_nam, write_nam
from namcheck.models.examples import builtin_doc, linear_doc, lstm_doc
from namcheck.models.tolerances import DB_PER_REL
from namcheck.signals.levels import STREAM_CHUNK

RATE = 48000


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    return 0.3 * rng.standard_normal(n) * np.linspace(0.05, 1.0, n)


@pytest.mark.parametrize("doc", [builtin_doc, lstm_doc, linear_doc])
@pytest.mark.parametrize("engine", ["auto", "reference"])
def test_streamed_measurement_equals_the_whole_one(tmp_path: Path, monkeypatch:
                                                   pytest.MonkeyPatch, doc, engine: str
                                                   ) -> None:
    """2.2 s (3+ blocks of STREAM_CHUNK) measured whole, then streamed (threshold lowered):
    loudness, peak, gain levels and BS.1770 loudness agree within the forward's bound
    (bound * crest factor of the RMS, in dB by DB_PER_REL); the output is not kept."""
    x = noise(2.2)
    assert len(x) > 3 * STREAM_CHUNK
    path = tmp_path / "m.nam"
    write_nam(doc(), path)
    model = read_nam(path)
    signal = Signal(x, RATE, "noise", False)
    opts = Options(engine=engine)
    whole = measure(model, signal, opts)
    monkeypatch.setattr(core, "STREAM_SAMPLES", 1000)
    streamed = measure(model, signal, opts)
    assert whole.output is not None and streamed.output is None
    rel = 4 * (whole.bound or 1e-5) * whole.crest + 1e-12
    assert abs(streamed.loudness - whole.loudness) <= DB_PER_REL * rel
    assert abs(streamed.peak - whole.peak) <= rel * whole.peak
    assert whole.levels is not None and streamed.levels is not None
    assert len(streamed.levels) == len(whole.levels) == 11
    for a, b in zip(streamed.levels, whole.levels, strict=True):
        assert abs(a - b) <= rel * max(b, 1e-30)
    lw = measured_level("", model, whole, signal)["loudness_lufs"]
    ls = measured_level("", model, streamed, signal)["loudness_lufs"]
    assert lw is not None and ls is not None and abs(ls - lw) <= DB_PER_REL * rel
    assert C.output_level(streamed).passed
    # the sample-by-sample checks read the streamed output back in blocks
    blocks = list(streamed.blocks())
    assert len(blocks) == math.ceil(len(x) / STREAM_CHUNK)
    joined = torch.cat([torch.as_tensor(b).double() for b in blocks])
    assert float((joined - whole.output.double()).abs().max()) <= rel * whole.peak


def test_verify_on_a_long_signal_streams_every_check(tmp_path: Path, monkeypatch:
                                                     pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    """verify's loudness shift, linearity and gain checks on a streamed signal: they hold
    as on the whole one (the built-in model is linear in head_scale)."""
    wav = tmp_path / "long.wav"
    sf.write(str(wav), noise(2.2).astype(np.float32), RATE, subtype="FLOAT")
    monkeypatch.setattr(core, "STREAM_SAMPLES", 1000)
    assert main(["verify", "--signal", str(wav), "--scale", "0.5"]) == 0
    out = capsys.readouterr().out
    for name in ("loudness_shift", "linearity", "gain_invariant"):
        assert f"PASS  {name}" in out, out


def test_an_allocation_failure_names_the_signal(tmp_path: Path, monkeypatch:
                                                pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """torch's CPU allocator failing while measuring is bad input naming the signal and
    what to do (exit 2), not an internal error blamed on the model file."""
    wav = tmp_path / "long.wav"
    sf.write(str(wav), noise(1.0).astype(np.float32), RATE, subtype="FLOAT")

    def refuse(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 13824000000 bytes.")

    monkeypatch.setattr(core, "gain_sweep", refuse)
    monkeypatch.setattr(core, "stream_sweep", refuse)
    assert main(["verify", "--signal", str(wav)]) == 2
    err = capsys.readouterr().err
    assert f"{wav}: out of memory measuring on this 1 s signal (48000 samples)" in err
    assert "shorter --signal" in err and "internal error" not in err


def peak_rss_mb(args: list[str]) -> float:
    """Peak RSS (ru_maxrss of the child, MB) of `namcheck ARGS` in a fresh interpreter."""
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
            "assert p.returncode in (0, 3), p.stderr[-2000:]\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "namcheck.harness.cli", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1]) / 1024  # Linux: KiB


def test_audit_memory_is_flat_in_signal_length(tmp_path: Path) -> None:
    """Peak RSS of `namcheck audit` on a 60 s signal vs a 5 s one. Above STREAM_SAMPLES
    nothing per sample is held: the file is checked and hashed in blocks and read in
    blocks where measured (WavSamples), outputs are reduced to statistics per block. So the
    60 s run may exceed the 5 s one (which is read and measured whole) only by what the
    per-block work costs whatever the length: 11 rows of a STREAM_CHUNK block in float64
    through the stream and its copies (a few MB), within 32 MB of allocator and
    interpreter noise. Before streaming it grew by ~9.5 MB per second of signal (524 MB
    here: the float64 signal, the gain sweep's (10, N) batch and the outputs)."""
    model = tmp_path / "m.nam"
    write_nam(builtin_doc(), model)
    peaks = {}
    for seconds in (5, 60):
        wav = tmp_path / f"s{seconds}.wav"
        sf.write(str(wav), noise(seconds).astype(np.float32), RATE, subtype="FLOAT")
        peaks[seconds] = peak_rss_mb(["audit", str(model), "--signal", str(wav)])
    bound = 32 + 4 * 11 * STREAM_CHUNK * 8 / 2**20
    assert peaks[60] - peaks[5] <= bound, (peaks, bound)


def test_a_long_file_is_checked_in_blocks_and_not_held(tmp_path: Path, monkeypatch:
                                                       pytest.MonkeyPatch) -> None:
    """Above STREAM_SAMPLES the file is a WavSamples (read in blocks): the same SHA-256 as
    the whole samples', and the same refusals (constant, non-finite) naming the file."""
    from namcheck.signals.standard_input import samples_sha256
    from namcheck.signals.wav import SignalError, WavSamples, read_mono

    monkeypatch.setattr(core, "STREAM_SAMPLES", 1000)
    wav = tmp_path / "long.wav"
    sf.write(str(wav), noise(2.2).astype(np.float32), RATE, subtype="FLOAT")
    signal = Signal.from_wav(wav)
    assert isinstance(signal.samples, WavSamples) and len(signal.samples) == int(2.2 * RATE)
    whole, _ = read_mono(wav)
    assert signal.sha256 == samples_sha256(whole)
    assert np.array_equal(np.asarray(signal.samples, dtype=np.float64), whole)
    flat = tmp_path / "flat.wav"
    sf.write(str(flat), np.full(5000, 0.25, dtype=np.float32), RATE, subtype="FLOAT")
    with pytest.raises(SignalError, match=r"flat\.wav: the signal is constant"):
        Signal.from_wav(flat)
    bad = np.full(5000, 0.25, dtype=np.float32)
    bad[4321] = np.inf
    sf.write(str(flat), bad, RATE, subtype="FLOAT")
    with pytest.raises(SignalError, match=r"flat\.wav: sample 4321 is inf"):
        Signal.from_wav(flat)
