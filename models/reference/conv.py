"""The causal dilated convolution every feed-forward architecture is built from.

Offline, convolutions run "valid" (no padding): the caller prepends R-1 zeros to the input,
which reproduces the runtime's prewarmed zero history exactly (NAM_FORMAT §2.4), and each
conv's output is shorter than its input by its context. Streaming, each conv keeps the
last `context` samples of its input in a state slot, so every block of n samples gives n
outputs and no receptive field is recomputed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from namcheck.models.format.layout import ConvSpec

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
    """Valid causal conv by `torch.nn.functional.conv1d`; weight `(O, I/G, K)`, any groups."""
    return F.conv1d(x, weight, bias, dilation=dilation, groups=groups)


def conv_taps(x: torch.Tensor, taps: torch.Tensor, bias: torch.Tensor | None,
              dilation: int, groups: int) -> torch.Tensor:
    """Valid causal conv as one matmul per kernel tap on shifted views (no copies), summed.

    `taps` is the weight as `(K, O, I)`, contiguous so each tap is a plain matrix. Faster
    than conv1d for NAM's small channel counts on CPU (benchmarks/); groups 1 only.
    """
    assert groups == 1
    K = taps.shape[0]
    n = x.shape[-1] - (K - 1) * dilation
    if x.shape[0] == 1:  # 2-D matmuls: the fast BLAS path
        x2 = x[0]
        y = torch.mm(taps[0], x2[:, 0:n])
        for k in range(1, K):
            y.addmm_(taps[k], x2[:, k * dilation : k * dilation + n])
        if bias is not None:
            y += bias[:, None]
        return y[None]
    return conv_matmul(x, taps, bias, dilation, groups)


def conv_matmul(x: torch.Tensor, taps: torch.Tensor, bias: torch.Tensor | None,
                dilation: int, groups: int) -> torch.Tensor:
    """conv_taps with broadcast matmuls whatever the batch size: every op has a
    `torch.func.vmap` batching rule (`addmm_` has none), so under vmap (models/reference/
    batched.py) each tap is one batched matmul over every model; groups 1 only."""
    assert groups == 1
    K = taps.shape[0]
    n = x.shape[-1] - (K - 1) * dilation
    y = torch.matmul(taps[0], x[..., 0:n])
    for k in range(1, K):
        y += torch.matmul(taps[k], x[..., k * dilation : k * dilation + n])
    return y if bias is None else y + bias[:, None]


def weight_as_taps(weight: torch.Tensor) -> torch.Tensor:
    """`(O, I, K)` -> `(K, O, I)`, always a copy (`contiguous()` may return a view)."""
    return weight.permute(2, 0, 1).clone(memory_format=torch.contiguous_format)


# name -> (how the `(O, I/G, K)` weight is stored for it, the conv itself)
CONV_IMPLEMENTATIONS = {
    "torch": (lambda w: w, conv_torch),
    "taps": (weight_as_taps, conv_taps),
    "matmul": (weight_as_taps, conv_matmul),
}


class CausalConv(nn.Module):
    """`y[t] = b + sum_k W[:, :, k] x[t - (K-1-k) d]` with grouped channels."""

    _counter = 0
    implementation = "taps"  # the fastest within the forward's bounds (benchmarks/)
    # (CONV_IMPLEMENTATIONS: "taps", "matmul" or "torch")

    def __init__(self, spec: ConvSpec, stream: WeightStream) -> None:
        super().__init__()
        self.spec = spec
        self.weight = nn.Parameter(stream.take(*spec.weight_shape), requires_grad=False)
        self.bias = (
            nn.Parameter(stream.take(spec.cout), requires_grad=False) if spec.bias else None
        )
        self.register_buffer("taps", weight_as_taps(self.weight.data), persistent=False)
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
        # (an instance may override the class's choice: a ModelBatch's template does)
        if self.implementation != "torch" and self.spec.groups == 1:
            conv = conv_taps if self.implementation == "taps" else conv_matmul
            return conv(x, self.taps, self.bias, self.spec.dilation, 1)
        return conv_torch(x, self.weight, self.bias, self.spec.dilation, self.spec.groups)


def right_align(x: torch.Tensor, length: int) -> torch.Tensor:
    """The last `length` samples (offline tensors shrink from the left as convs consume)."""
    return x if x.shape[-1] == length else x[..., x.shape[-1] - length :]
