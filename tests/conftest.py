"""Shared test helpers: where the fixtures are, and skips that say why."""

from __future__ import annotations

import os
from pathlib import Path

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
    """A `.nam` whose read never returns: a FIFO no process writes to. A reader blocks in
    open() as it would on a stalled network mount, on any machine, however fast, so a
    timeout or an interrupt always finds the audit still on it (a slow model would be
    fast enough on some machine)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("os.mkfifo: no FIFOs on this platform, so no file that never reads")
    os.mkfifo(path)
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
