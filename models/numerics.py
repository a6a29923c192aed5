"""Rounding-error bounds for the reference forward, derived from depth and dtype.

Each stage of a model (one WaveNet layer: dilated conv + mixer + activation + 1x1s; one
ConvNet block; one LSTM step's gates) rounds its result to within a few units of the
dtype's epsilon of the signal's scale; we allow 8 eps per stage (the dot products here are
at most a few hundred terms, summed by blocked BLAS kernels whose error grows with the
log of the length, well inside 8). Errors pass through activations with slope <= 1 and
add up along the deepest chain of stages, so the peak-relative error of a forward is
bounded by ``depth * 8 * eps``, except where a recurrence feeds errors back: an LSTM
counts as the stages its state makes of each step's rounding (`rounding_stages`). Two
implementations that both round carry twice that.
"""

from __future__ import annotations

import math

import torch

from namcheck.models.format import NamModel
from namcheck.models.format.layout import WaveNetSpec
from namcheck.models.format.schema import ContainerConfig, ConvNetConfig, LSTMConfig, WaveNetConfig
from namcheck.models.tolerances import EPS_PER_STAGE, WIDEST_BOUND


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


def rounding_stages(model: NamModel) -> float:
    """`chain_depth`, with each LSTM counted by what its state makes of its steps' rounding.

    An LSTM carries every step's rounding in its state for as long as it remembers, so its
    depth (layers + head) understates it: NeuralAmpModelerCore's float32 render of
    namcore-examples/lstm.nam errs by 2.2e-6 of the peak and the reference's own float32
    forward by 2.7e-6, where depth x 8 eps allows 1.9e-6. Its stages here are 1 (the head)
    + G, G the operating-point gain from a step's local error to the output
    (`fast.lstm.lstm_tolerance` is linear in the step bound: G = (tolerance - head) / step;
    errors of successive steps add in root-sum-square, as that bound's derivation says),
    and never fewer than its depth. An LSTM whose operating point amplifies its own errors
    has no such bound (G infinite): it keeps its depth, a bound that does not hold there
    (`unjudgeable` makes the checks that would use it n/a)."""
    cfg = model.config
    if isinstance(cfg, LSTMConfig):
        from namcheck.models.fast.lstm import lstm_gain

        gain = lstm_gain(model)
        depth = float(chain_depth(model))
        return max(depth, gain + 1.0) if math.isfinite(gain) else depth
    if isinstance(cfg, ContainerConfig):
        return max(rounding_stages(s.model) for s in model.submodels)
    if isinstance(cfg, WaveNetConfig) and model.condition_dsp is not None:
        return (chain_depth(model) - chain_depth(model.condition_dsp)
                + rounding_stages(model.condition_dsp))
    return float(chain_depth(model))


def stages_text(model: NamModel) -> str:
    """How `forward_tolerance` counted the model's stages, for reports: "depth", or the
    effective stages of a model with an LSTM."""
    stages = rounding_stages(model)
    if stages == chain_depth(model):
        return "depth"
    return f"{stages:.3g} stages (an LSTM's state carries its steps' rounding)"


def forward_tolerance(model: NamModel, dtype: torch.dtype, implementations: int = 1) -> float:
    """Peak-relative bound on |ours - exact|: `implementations` x `rounding_stages` x 8 eps
    (`implementations=2` when both sides round)."""
    return implementations * rounding_stages(model) * EPS_PER_STAGE * eps(dtype)


def peak_relative_error(y: torch.Tensor, ref: torch.Tensor) -> float:
    """max|y - ref| / max|ref| (the scale of the output, not per sample: outputs cross 0)."""
    y64, r64 = y.detach().double().cpu(), ref.detach().double().cpu()
    scale = float(r64.abs().max())
    return float((y64 - r64).abs().max()) / (scale if scale > 0 else 1.0)


def _lstms(model: NamModel) -> list[NamModel]:
    """The model's LSTMs: itself, its container submodels', its condition DSP's."""
    if isinstance(model.config, LSTMConfig):
        return [model]
    inner = [s.model for s in model.submodels]
    if model.condition_dsp is not None:
        inner.append(model.condition_dsp)
    return [m for sub in inner for m in _lstms(sub)]


def unjudgeable(model: NamModel, bound: float) -> str | None:
    """Why no check can judge `model` with the peak-relative error `bound` it would use
    (None: it can). An LSTM whose operating point is unstable has no error bound at all
    (its rounding errors grow without bound: `fast.lstm.lstm_gain` infinite); any bound
    above WIDEST_BOUND (float16's unit roundoff) is too wide to tell a right result from a
    wrong one. Such checks are n/a, with this text as the reason."""
    from namcheck.models.fast.lstm import lstm_gain

    if any(not math.isfinite(lstm_gain(m)) for m in _lstms(model)):
        return ("its LSTM's state is unstable (rounding errors grow without bound): no "
                "float32 forward of it has an error bound to judge with")
    if not bound <= WIDEST_BOUND:
        return (f"its error bound, {bound:.3g} of the peak from {rounding_stages(model):.3g} "
                f"rounding stages, is wider than float16's rounding ({WIDEST_BOUND:.3g}): "
                "too wide to tell a right result from a wrong one")
    return None
