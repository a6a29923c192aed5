"""The causal dilated convolution every feed-forward architecture is built from.

Offline, convolutions run "valid" (no padding): the caller prepends R-1 zeros to the input,
which reproduces the runtime's prewarmed zero history exactly (NAM_FORMAT §2.4), and each
conv's output is shorter than its input by its context. Streaming, each conv keeps the
last `context` samples of its input in a state slot, so every block of n samples gives n
outputs and no receptive field is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from namcheck.models.layout import ConvSpec

StreamState = dict[int, torch.Tensor]


class WeightStream:
    """Reads consecutive tensors from a `.nam` weight list, in the file's order."""

    def __init__(self, weights: np.ndarray, dtype: torch.dtype, device: torch.device | str):
        self.values = torch.tensor(np.array(weights, dtype=np.float64))
        self.dtype, self.device, self.pos = dtype, device, 0

    def take(self, *shape: int) -> torch.Tensor:
        n = int(np.prod(shape))
        if self.pos + n > self.values.numel():
            raise ValueError("weight stream exhausted (the layout and the file disagree)")
        chunk = self.values[self.pos : self.pos + n].reshape(shape)
        self.pos += n
        return chunk.to(dtype=self.dtype, device=self.device)

    def finish(self) -> None:
        if self.pos != self.values.numel():
            raise ValueError(f"{self.values.numel() - self.pos} weights left unread")


def conv_torch(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
               dilation: int, groups: int) -> torch.Tensor:
    """Valid causal conv by `torch.nn.functional.conv1d` (any groups)."""
    return F.conv1d(x, weight, bias, dilation=dilation, groups=groups)


def conv_taps(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
              dilation: int, groups: int) -> torch.Tensor:
    """Valid causal conv as one matmul per kernel tap on shifted views (no copies), summed.

    Faster than conv1d for NAM's small channel counts on CPU (benchmarks/); groups 1 only.
    """
    assert groups == 1
    K = weight.shape[-1]
    n = x.shape[-1] - (K - 1) * dilation
    if x.shape[0] == 1:  # 2-D matmuls: the fast BLAS path
        x2 = x[0]
        y = torch.mm(weight[:, :, 0], x2[:, 0:n])
        for k in range(1, K):
            y.addmm_(weight[:, :, k], x2[:, k * dilation : k * dilation + n])
        if bias is not None:
            y += bias[:, None]
        return y[None]
    y = torch.matmul(weight[:, :, 0], x[..., 0:n])
    for k in range(1, K):
        y += torch.matmul(weight[:, :, k], x[..., k * dilation : k * dilation + n])
    return y if bias is None else y + bias[:, None]


CONV_IMPLEMENTATIONS = {"torch": conv_torch, "taps": conv_taps}


class CausalConv(nn.Module):
    """`y[t] = b + sum_k W[:, :, k] x[t - (K-1-k) d]` with grouped channels."""

    _counter = 0
    implementation = "taps"  # the fastest within the forward's bounds (benchmarks/)

    def __init__(self, spec: ConvSpec, stream: WeightStream) -> None:
        super().__init__()
        self.spec = spec
        self.weight = nn.Parameter(stream.take(*spec.weight_shape), requires_grad=False)
        self.bias = (
            nn.Parameter(stream.take(spec.cout), requires_grad=False) if spec.bias else None
        )
        CausalConv._counter += 1
        self.slot = CausalConv._counter  # key of this conv's history in a StreamState

    @property
    def context(self) -> int:
        return self.spec.context

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        ctx = self.context
        if state is not None and ctx:
            history = state.get(self.slot)
            if history is None:
                history = x.new_zeros(x.shape[0], x.shape[1], ctx)
            x = torch.cat((history, x), dim=-1)
            state[self.slot] = x[..., -ctx:]
        impl = CausalConv.implementation if self.spec.groups == 1 else "torch"
        return CONV_IMPLEMENTATIONS[impl](x, self.weight, self.bias, self.spec.dilation,
                                          self.spec.groups)


def right_align(x: torch.Tensor, length: int) -> torch.Tensor:
    """The last `length` samples (offline tensors shrink from the left as convs consume)."""
    return x if x.shape[-1] == length else x[..., x.shape[-1] - length :]


def convs_of(module: nn.Module) -> Iterator[CausalConv]:
    for m in module.modules():
        if isinstance(m, CausalConv):
            yield m
