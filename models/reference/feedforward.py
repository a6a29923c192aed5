"""Reference Linear (an FIR filter) and ConvNet forwards (NAM_FORMAT §6)."""

from __future__ import annotations

import torch
from torch import nn

from namcheck.models.format.layout import ConvSpec, convnet_specs
from namcheck.models.format.schema import ConvNetConfig, LinearConfig
from namcheck.models.reference.activations import make_activation
from namcheck.models.reference.base import NamModule
from namcheck.models.reference.conv import CausalConv, StreamState, WeightStream, weight_as_taps


class Linear(NamModule):
    """y[t] = bias + sum_i h[i] x[t-i]: weights[0] multiplies the newest sample (runtime)."""

    def __init__(self, cfg: LinearConfig, stream: WeightStream) -> None:
        super().__init__()
        R = cfg.receptive_field
        self.conv = CausalConv(ConvSpec(1, 1, R, 1, 1, bias=cfg.bias), stream)
        with torch.no_grad():  # stored newest-first; conv1d's last tap is the newest sample
            self.conv.weight.copy_(self.conv.weight.flip(-1))
            self.conv.taps.copy_(weight_as_taps(self.conv.weight))
        stream.finish()
        self.receptive_field = R

    def forward_valid(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        return self.conv(x, state)


class ConvNet(NamModule):
    """Blocks of conv(K=2, d) -> batchnorm folded to scale/shift -> activation; 1x1 head."""

    def __init__(self, cfg: ConvNetConfig, stream: WeightStream) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        scales, shifts = [], []
        for spec in convnet_specs(cfg):
            self.blocks.append(CausalConv(spec, stream))
            if cfg.batchnorm:
                C = cfg.channels
                mean, var, weight, bias = (stream.take(C) for _ in range(4))
                eps = stream.take(1)
                scale = weight / torch.sqrt(eps + var)
                scales.append(scale)
                shifts.append(bias - scale * mean)
        self.register_buffer("bn_scale", torch.stack(scales)[..., None] if scales else None)
        self.register_buffer("bn_shift", torch.stack(shifts)[..., None] if shifts else None)
        self.head = CausalConv(ConvSpec(cfg.channels, cfg.out_channels), stream)
        stream.finish()
        self.act = make_activation(cfg.activation)
        self.receptive_field = 1 + sum(cfg.dilations)
        self.out_channels = cfg.out_channels

    def forward_valid(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        for i, conv in enumerate(self.blocks):
            x = conv(x, state)
            if self.bn_scale is not None:
                x = self.bn_scale[i] * x + self.bn_shift[i]
            x = self.act(x)
        return self.head(x)
