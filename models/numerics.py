"""Rounding-error bounds for the reference forward, derived from depth and dtype.

Each stage of a model (one WaveNet layer: dilated conv + mixer + activation + 1x1s; one
ConvNet block; one LSTM step's gates) rounds its result to within a few units of the
dtype's epsilon of the signal's scale; we allow 8 eps per stage (the dot products here are
at most a few hundred terms, summed by blocked BLAS kernels whose error grows with the
log of the length, well inside 8). Errors pass through activations with slope <= 1 and
add up along the deepest chain of stages, so the peak-relative error of a forward is
bounded by ``depth * 8 * eps``. Two implementations that both round carry twice that.
"""

from __future__ import annotations

import torch

from namcheck.models.format import NamModel
from namcheck.models.format.layout import WaveNetSpec
from namcheck.models.format.schema import ContainerConfig, ConvNetConfig, LSTMConfig, WaveNetConfig
from namcheck.models.tolerances import EPS_PER_STAGE


def eps(dtype: torch.dtype) -> float:
    """Machine epsilon of `dtype` (relative spacing of numbers near 1)."""
    return float(torch.finfo(dtype).eps)


def chain_depth(model: NamModel) -> int:
    """Stages on the deepest path from input to output (at least 1)."""
    cfg = model.config
    if isinstance(cfg, WaveNetConfig):
        spec = model.layout
        assert isinstance(spec, WaveNetSpec)
        depth = sum(len(a.layers) + 2 for a in spec.arrays) + len(spec.post_head)
        if model.condition_dsp is not None:
            depth += chain_depth(model.condition_dsp)
        return depth
    if isinstance(cfg, ConvNetConfig):
        return len(cfg.dilations) + 1
    if isinstance(cfg, LSTMConfig):
        return cfg.num_layers + 1
    if isinstance(cfg, ContainerConfig):
        return max(chain_depth(s.model) for s in model.submodels)
    return 1  # Linear: one dot product


def forward_tolerance(model: NamModel, dtype: torch.dtype, implementations: int = 1) -> float:
    """Peak-relative bound on |ours - exact|; `implementations=2` when both sides round."""
    return implementations * chain_depth(model) * EPS_PER_STAGE * eps(dtype)


def peak_relative_error(y: torch.Tensor, ref: torch.Tensor) -> float:
    """max|y - ref| / max|ref| (the scale of the output, not per sample: outputs cross 0)."""
    y64, r64 = y.detach().double().cpu(), ref.detach().double().cpu()
    scale = float(r64.abs().max())
    return float((y64 - r64).abs().max()) / (scale if scale > 0 else 1.0)
