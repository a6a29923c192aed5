"""Shared test helpers: where the fixtures are, and skips that say why."""

from __future__ import annotations

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
