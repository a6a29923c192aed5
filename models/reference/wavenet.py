"""Reference WaveNet forward (A1 and A2 options), following the runtime (NAM_FORMAT §3)."""

from __future__ import annotations

import torch
from torch import nn

from namcheck.models.format.layout import ArraySpec, FiLMSpec, LayerSpec, WaveNetSpec
from namcheck.models.reference.activations import make_activation
from namcheck.models.reference.base import NamModule
from namcheck.models.reference.conv import CausalConv, StreamState, WeightStream, right_align


class FiLM(nn.Module):
    """x * scale(c) (+ shift(c)); the scale rows come first in the conv's output."""

    def __init__(self, spec: FiLMSpec, stream: WeightStream) -> None:
        super().__init__()
        self.conv = CausalConv(spec.conv, stream)
        self.dim, self.shift = spec.dim, spec.shift

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s = self.conv(c)
        if self.shift:
            return x * s[:, : self.dim] + s[:, self.dim : 2 * self.dim]
        return x * s


class Layer(nn.Module):
    """One WaveNet layer (NAM_FORMAT §3.4)."""

    def __init__(self, spec: LayerSpec, stream: WeightStream) -> None:
        super().__init__()
        self.conv = CausalConv(spec.conv, stream)
        self.mixer = CausalConv(spec.mixer, stream)
        self.layer1x1 = CausalConv(spec.layer1x1, stream) if spec.layer1x1 else None
        self.head1x1 = CausalConv(spec.head1x1, stream) if spec.head1x1 else None
        self.films = nn.ModuleDict({k: FiLM(f, stream) for k, f in spec.films.items()})
        self.act = make_activation(spec.activation)
        self.sec = make_activation(spec.secondary)
        self.spec_acts = (spec.activation, spec.secondary)  # models/rounding_envelope.py
        self.gating, self.B = spec.gating, spec.bottleneck
        # The runtime applies layer1x1_post_film only in blended layers (NAM_FORMAT §8.2).
        self.use_layer1x1_film = spec.gating == "blended" and "layer1x1_post_film" in self.films

    def _film(self, slot: str, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.films[slot](x, c) if slot in self.films else x

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, state: StreamState | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        u = self._film("conv_pre_film", x, right_align(c, x.shape[-1]))
        a = self.conv(u, state)
        T = a.shape[-1]
        cT = right_align(c, T)
        a = self._film("conv_post_film", a, cT)
        m = self.mixer(self._film("input_mixin_pre_film", cT, cT))
        z = a + self._film("input_mixin_post_film", m, cT)
        z = self._film("activation_pre_film", z, cT)
        B = self.B
        if self.gating == "none":
            y = self.act(z)
        elif self.gating == "gated":
            y = self.act(z[:, :B]) * self.sec(z[:, B:])
        else:  # blended
            s = self.sec(z[:, B:])
            y = s * self.act(z[:, :B]) + (1.0 - s) * z[:, :B]
        y = self._film("activation_post_film", y, cT)
        residual = right_align(x, T)
        if self.layer1x1 is not None:  # inactive: the runtime adds nothing (§8.1)
            r = self.layer1x1(y)
            if self.use_layer1x1_film:
                r = self.films["layer1x1_post_film"](r, cT)
            residual = r.add_(residual)  # r is freshly computed: add in place
        h = y
        if self.head1x1 is not None:
            h = self._film("head1x1_post_film", self.head1x1(y), cT)
        return residual, h


class LayerArray(nn.Module):
    """One WaveNet layer array (NAM_FORMAT §3.5)."""

    def __init__(self, spec: ArraySpec, stream: WeightStream) -> None:
        super().__init__()
        self.rechannel = CausalConv(spec.rechannel, stream)
        self.layers = nn.ModuleList(Layer(layer, stream) for layer in spec.layers)
        self.head_rechannel = CausalConv(spec.head_rechannel, stream)

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, acc: torch.Tensor | None,
        state: StreamState | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.rechannel(x)
        for layer in self.layers:
            r, h = layer(r, c, state)
            if acc is None:
                acc = h
            elif h.shape[-1] <= acc.shape[-1]:  # h is fresh (not used after): in place
                acc = h.add_(right_align(acc, h.shape[-1]))
            else:  # offline, the previous array's head output may be the shorter one
                n = acc.shape[-1]
                acc = acc + right_align(h, n)
        assert acc is not None
        return r, self.head_rechannel(acc, state)


class WaveNet(NamModule):
    """A WaveNet: its layer arrays, head, condition DSP (NAM_FORMAT §3)."""

    def __init__(
        self, spec: WaveNetSpec, stream: WeightStream, condition_dsp: NamModule | None = None
    ) -> None:
        super().__init__()
        self.arrays = nn.ModuleList(LayerArray(a, stream) for a in spec.arrays)
        self.post_head = nn.ModuleList(CausalConv(c, stream) for c in spec.post_head)
        self.post_act = (
            make_activation(spec.post_head_activation) if spec.post_head_activation else None
        )
        self.post_act_spec = spec.post_head_activation  # models/rounding_envelope.py
        self.head_scale = nn.Parameter(stream.take(1)[0], requires_grad=False)
        stream.finish()
        self.condition_dsp = condition_dsp
        self.receptive_field = spec.receptive_field + (
            condition_dsp.receptive_field - 1 if condition_dsp is not None else 0
        )
        self.out_channels = spec.out_channels

    def forward_valid(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        if self.condition_dsp is None:
            cond = x
        elif state is None:  # offline: the DSP gets its own zero history, same length as x
            dsp = self.condition_dsp
            pad = x.new_zeros(x.shape[0], x.shape[1], dsp.receptive_field - 1)
            cond = dsp.forward_valid(torch.cat((pad, x), dim=-1), None)
        else:
            cond = self.condition_dsp.forward_valid(x, state)
        h: torch.Tensor | None = None
        for array in self.arrays:
            x, h = array(x, cond, h, state)
        assert h is not None
        out = self.head_scale * h
        for conv in self.post_head:
            assert self.post_act is not None
            out = conv(self.post_act(out), state)
        return out
