"""One dilated causal conv layer: implementations of the conv core side by side."""

from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import DEVICES, DTYPES, RATE, record
from namcheck.harness.bench import synchronize
from namcheck.models.reference.conv import CONV_IMPLEMENTATIONS

DILATIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("dilation", DILATIONS)
@pytest.mark.parametrize("kernel", [3, 6])
@pytest.mark.parametrize("channels", [16, 8])
@pytest.mark.parametrize("impl", sorted(CONV_IMPLEMENTATIONS))
def test_conv_layer(benchmark, impl: str, channels: int, kernel: int, dilation: int,
                    dtype: str, device: str, threads: int) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, RATE + (kernel - 1) * dilation, generator=gen)
    w = torch.randn(channels, channels, kernel, generator=gen)
    b = torch.randn(channels, generator=gen)
    x, w, b = (t.to(device=device, dtype=DTYPES[dtype]) for t in (x, w, b))
    prepare, conv = CONV_IMPLEMENTATIONS[impl]
    stored = prepare(w)

    def run() -> torch.Tensor:
        y = conv(x, stored, b, dilation, 1)
        synchronize(device)
        return y

    y = benchmark(run)
    assert y.shape == (1, channels, RATE)
    record(benchmark, flops_per_sample=2 * channels * channels * kernel, samples=RATE,
           device=device, dtype=dtype, threads=threads)
