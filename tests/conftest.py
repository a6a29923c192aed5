"""Shared test helpers: where the fixtures are, and skips that say why."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
UPSTREAM = FIXTURES / "upstream"
NAMCORE = FIXTURES / "namcore-examples"

needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"fixtures folder {FIXTURES} is absent (../shared/fixtures)"
)
HAS_CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not HAS_CUDA, reason="cuda: no CUDA device on this machine"))]


def stalled_file(path: Path) -> Path:
    """A `.nam` (or `.wav`) whose read would never return: a FIFO no process writes to,
    as a stalled network mount looks to a reader. namcheck must refuse it unread."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("os.mkfifo: no FIFOs on this platform")
    os.mkfifo(path)
    return path


BUSY_TAPS = 1_000_000
LONG_SIGNAL_SECONDS = 60


def busy_model(path: Path, seed: int = 0) -> Path:
    """A valid Linear of BUSY_TAPS taps (distinct contents per seed). On a
    LONG_SIGNAL_SECONDS signal (`long_signal`) its forward is 1e6 x 2.88e6 = 2.9e12
    multiply-adds: about 2 minutes on this project's 2-core machine, so still far beyond
    the few seconds of --timeout or of an interrupt's wait on a machine 10x faster."""
    from namcheck.models import write_nam

    taps = BUSY_TAPS + seed
    write_nam({"version": "0.5.0", "architecture": "Linear", "sample_rate": 48000,
               "config": {"receptive_field": taps, "bias": False},
               "weights": [1e-6] * taps}, path)
    return path


def long_signal(path: Path) -> Path:
    """LONG_SIGNAL_SECONDS of the built-in signal at 48 kHz, as a FLOAT WAV."""
    import numpy as np
    import soundfile as sf

    from namcheck.signals.generate import default_signal

    sf.write(str(path), np.tile(default_signal(), LONG_SIGNAL_SECONDS), 48000,
             subtype="FLOAT")
    return path


def _sigint_state() -> tuple[object, frozenset[int]]:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None, frozenset()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, []) if hasattr(signal, "pthread_sigmask") \
        else set()
    return signal.getsignal(signal.SIGINT), frozenset(int(s) for s in mask)


@pytest.fixture(autouse=True)
def _sigint_untouched() -> object:
    """Every test leaves this process's Ctrl-C as it found it: handler and signal mask.
    namcheck runs in-process (the pytest plugin, the API), so code that left SIGINT
    ignored or blocked would take Ctrl-C from the user's own test run; and a child started
    later would inherit it (tests/test_interrupts.py sends real Ctrl-Cs)."""
    before = _sigint_state()
    yield
    after = _sigint_state()
    assert after == before, f"SIGINT handling changed by this test: {before} -> {after}"


def checked_upstream_loader_fact(path: Path, capsys: Any) -> str | None:
    """`inspect --json`'s upstream_loader fact for `path`, asserted to name a cause exactly
    where upstream's own init_from_nam fails on the file (the test skips without the
    `upstream` extra)."""
    init_from_nam = pytest.importorskip("nam.models").init_from_nam
    from namcheck.harness.cli import main

    assert main(["inspect", "--json", str(path)]) == 0
    fact = json.loads(capsys.readouterr().out)[0]["upstream_loader"]
    try:
        init_from_nam(json.loads(path.read_text()))
        loads = True
    except Exception:
        loads = False
    assert (fact is None) == loads, fact
    return fact
