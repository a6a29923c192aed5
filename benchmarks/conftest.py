"""Shared parameters and the extra_info every benchmark records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

RATE = 48000
DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="cuda: no CUDA device on this machine"))]


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n}thr")
def threads(request: pytest.FixtureRequest) -> Iterator[int]:
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def record(benchmark: Any, *, flops_per_sample: int, samples: int, device: str,
           dtype: str, threads: int) -> None:
    """FLOPs/sample, achieved GFLOP/s and real-time factor from the median time (absent
    under --benchmark-disable, where each case runs once as a smoke test)."""
    info = benchmark.extra_info
    info.update(flops_per_sample=flops_per_sample, device=device, dtype=dtype,
                threads=threads, torch=torch.__version__, samples=samples)
    stats = getattr(benchmark, "stats", None)
    if stats:
        median = stats.stats.median
        info["realtime_factor"] = samples / RATE / median
        info["gflops"] = flops_per_sample * samples / median / 1e9
