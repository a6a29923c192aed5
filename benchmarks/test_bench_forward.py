"""Whole forwards: A1 presets and A2 offline over 1 s, and streaming at several blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.conftest import DEVICES, DTYPES, RATE, record
from namcheck.harness.bench import synchronize
from namcheck.models import load, read_nam
from namcheck.models.examples import a1_doc, a2_doc

MODELS = {"a1_standard": lambda: a1_doc("standard"), "a1_lite": lambda: a1_doc("lite"),
          "a1_feather": lambda: a1_doc("feather"), "a1_nano": lambda: a1_doc("nano"),
          "a2": a2_doc}


def signal(n: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, n))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_offline_forward(benchmark, name: str, dtype: str, device: str, threads: int) -> None:
    model = read_nam(MODELS[name]())
    net = load(model, dtype=DTYPES[dtype], device=device)
    x = signal(RATE).to(device)

    def run() -> torch.Tensor:
        y = net(x)
        synchronize(device)
        return y

    assert benchmark(run).shape == (RATE,)
    record(benchmark, flops_per_sample=model.flops_per_sample, samples=RATE, device=device,
           dtype=dtype, threads=threads)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("block", [32, 64, 256, 2048])
def test_streaming_forward(benchmark, block: int, dtype: str, device: str,
                           threads: int) -> None:
    """A1 standard, 0.2 s of audio per timed call in blocks, state kept (a fresh prewarmed
    stream per call would time the prewarm too)."""
    model = read_nam(a1_doc("standard"))
    net = load(model, dtype=DTYPES[dtype], device=device)
    samples = max(block, RATE // 5 // block * block)
    blocks = signal(samples).to(device).split(block)
    stream = net.stream()

    def run() -> None:
        for b in blocks:
            stream.process(b)
        synchronize(device)

    benchmark(run)
    record(benchmark, flops_per_sample=model.flops_per_sample, samples=samples,
           device=device, dtype=dtype, threads=threads)
