"""Activation functions as the runtime computes them (exact tanh/sigmoid, NAM_FORMAT §4)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from namcheck.models.format.activations import ActivationSpec

Activation = Callable[[torch.Tensor], torch.Tensor]

# Coefficients of the runtime's rational tanh approximation (`fast_tanh`, NAM/activations.h).
_FT = (2.45550750702956, 0.893229853513558, 0.821226666969744, 2.44506634652299,
       0.814642734961073)


def fast_tanh(x: torch.Tensor) -> torch.Tensor:
    """The runtime's rational tanh approximation (NAM/activations.h), elementwise."""
    ax, x2 = x.abs(), x * x
    num = x * (_FT[0] + _FT[0] * ax + (_FT[1] + _FT[2] * ax) * x2)
    return num / (_FT[3] + (_FT[3] + x2) * (x + _FT[4] * x * ax).abs())


def leaky_hardtanh(x: torch.Tensor, lo: float, hi: float, lo_slope: float,
                   hi_slope: float) -> torch.Tensor:
    """Slope `min_slope`/`max_slope` outside [min_val, max_val], identity inside."""
    below = (x - lo) * lo_slope + lo
    above = (x - hi) * hi_slope + hi
    return torch.where(x < lo, below, torch.where(x > hi, above, x))


def make_activation(spec: ActivationSpec) -> Activation:
    """A function of a `(batch, channels, time)` tensor."""
    name = spec.name
    if name == "Tanh":
        return torch.tanh
    if name == "Fasttanh":
        return fast_tanh
    if name == "Hardtanh":
        return lambda x: x.clamp(-1.0, 1.0)
    if name == "ReLU":
        return torch.relu
    if name == "Sigmoid":
        return torch.sigmoid
    if name == "SiLU":
        return lambda x: x * torch.sigmoid(x)
    if name == "Hardswish":
        return lambda x: x * (x + 3.0).clamp(0.0, 6.0) / 6.0
    if name == "Softsign":
        return lambda x: x / (1.0 + x.abs())
    if name == "LeakyHardtanh":
        p = dict(spec.params)
        return lambda x: leaky_hardtanh(x, p["min_val"], p["max_val"], p["min_slope"],
                                        p["max_slope"])
    if name in ("LeakyReLU", "PReLU"):
        if spec.slopes is not None:
            slopes = spec.slopes

            def prelu(x: torch.Tensor) -> torch.Tensor:
                s = torch.tensor(slopes, dtype=x.dtype, device=x.device).view(1, -1, 1)
                return torch.where(x > 0, x, s * x)

            return prelu
        slope = spec.param("negative_slope")
        return lambda x: torch.where(x > 0, x, slope * x)
    raise ValueError(f"no implementation for activation {name!r}")
