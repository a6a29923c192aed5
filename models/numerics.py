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

import math
from typing import Any

import numpy as np
import torch

from namcheck.models.format import NamModel
from namcheck.models.format.layout import WaveNetSpec
from namcheck.models.format.schema import ContainerConfig, ConvNetConfig, LSTMConfig, WaveNetConfig
from namcheck.models.tolerances import ENVELOPE_FACTOR, EPS_PER_STAGE


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


# ---- a bound that follows how the network amplifies rounding ------------------------------
#
# forward_tolerance() counts stages; it does not see that a high-gain network amplifies the
# rounding of its early stages (a deep, high-gain WaveNet rounds to 2.5..4.4e-5 of its peak
# in float32 where depth x 8 eps allows 2.1..2.7e-5). rounding_envelope() follows the
# network instead: first-order error analysis says a forward's error is
#     y~ - y = sum over operations s of  J_s r_s  (+ O(u^2)),
# r_s the rounding of operation s, J_s the network's (signed) derivative from s to the
# output. Worst-case |J_s| |r_s| bounds (|W| in place of W at every layer) grow as the
# product of the layers' absolute row sums, 1e18 on a 24-layer model whose real error is
# 2e-6: useless. So we propagate the roundings through the real, signed network, in the
# probabilistic model of rounding (Higham & Mary, SIAM J. Sci. Comput. 41 (2019)): each
# rounding is fl(v) = v (1 + delta), delta independent, mean 0, uniform in [-u, u]
# (u = eps(dtype)/2). One float64 forward of the reference's own modules carries, beside
# each exact value v, a deviation d drawn from that model and propagated exactly:
#
#   input          d = delta |x|                    (the signal rounded to dtype)
#   conv / 1x1     y = b + sum_j t_j, t_j = w_j x_j over n = K Cin/G terms (+ bias, + one for
#                  the weights' own rounding: n + 2). The sum rounds each partial sum s_k;
#                  for terms in random order E[s_k^2] ~ (k/n)^2 y^2 + (k/n)(1 - k/n) |t|_2^2,
#                  summed over k: n (y^2/3 + |t|_2^2/6), so
#                  d_y = W * d_x + delta sqrt(n (y^2/3 + |t|_2^2/6))  (|t|_2^2 = W^2 * x^2)
#                  In a layer, conv and mixer both count the terms of conv + mixer: an
#                  engine that fuses them (models/fast) rounds that longer sum.
#   add, product   d_z = d_a + d_b + delta |z|;  d_p = a d_s + (s + d_s) d_a + delta |p|
#                  (FiLM, gating: the product rule, kept exact)
#   activation f   d = f(z + d_z) - f(z) + delta |f(z)| + sqrt(3) delta' approx
#                  (the real slope where the unit works: a saturated tanh passes almost
#                  nothing on, which is what keeps a high-gain model's error small);
#                  `approx`: an engine's RMS error of an approximated tanh/sigmoid
#                  (absolute; SiLU's times 1 + |z|), FAST_TANH_RMS for models/fast
#   blended        y = s f + (1 - s) z1 recomputed with the deviations, + 2 delta (|sf| +
#                  |(1-s) z1|)
#   head_scale     d = hs d_h + 2 delta |out|       (hs itself rounded)
#
# max_t |d(t)| / max_t |y(t)| is the peak of ONE realisation of the modelled error; a real
# float32 forward is another. The model's variance is conservative (uniform delta is the
# worst spread of round-to-nearest's relative error; library tanh rounds to ~0.4 u rms where
# the model draws 0.58 u), and the peak over thousands of samples concentrates, so the
# bound is ENVELOPE_FACTOR (1.75) x that peak per rounding implementation (signal_tolerance,
# never below forward_tolerance).
# What is approximated: this is a statistical bound, not a worst case: roundings are
# assumed independent and mean zero (true of round-to-nearest on non-degenerate data, not of
# adversarial inputs), partial sums are modelled for a random summation order, and the
# factor 1.75 is calibrated on the deep/high-gain models of tests/test_rounding_envelope.py
# (where real float32 errors are 0.4..0.95 of the envelope's peak). Only WaveNets (FiLM,
# gating, post-head, a WaveNet condition DSP, a container's selected WaveNet) get an
# envelope; other architectures keep forward_tolerance (their chains are short).
# Cost: one float64 pass of about three convolutions per conv, chunked as the reference is;
# the draw is seeded, so the bound is reproducible.


class _Envelope:
    """The float64 forward of a reference WaveNet module with its rounding envelope."""

    def __init__(self, u: float, approx: float, seed: int) -> None:
        self.u, self.approx = u, approx
        self.gen = torch.Generator().manual_seed(seed)

    def delta(self, like: torch.Tensor) -> torch.Tensor:
        """Independent uniform draws in [-1, 1], one per value (a rounding's delta / u)."""
        return 2.0 * torch.rand(like.shape, generator=self.gen, dtype=torch.float64) - 1.0

    def conv(self, conv: Any, v: torch.Tensor, e: torch.Tensor, n: int | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        import torch.nn.functional as F

        w, b, s = conv.weight.double(), conv.bias, conv.spec
        b = b.double() if b is not None else None
        terms = n if n is not None else w.shape[1] * w.shape[2]
        y = F.conv1d(v, w, b, dilation=s.dilation, groups=s.groups)
        sq = F.conv1d(v * v, w * w, b * b if b is not None else None,
                      dilation=s.dilation, groups=s.groups)
        ey = F.conv1d(e, w, None, dilation=s.dilation, groups=s.groups)
        n = terms + 2
        return y, ey + self.delta(y) * self.u * (n * (y * y / 3 + sq / 6)).sqrt()

    def act(self, spec: Any, z: torch.Tensor, e: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
        from namcheck.models.reference.activations import make_activation

        fn = make_activation(spec)
        f = fn(z)
        ef = (fn(z + e) - f + self.delta(f) * self.u * f.abs()
              + self.delta(f) * math.sqrt(3.0) * self.approx * self.approximated(spec, z))
        return f, ef

    def approximated(self, spec: Any, z: torch.Tensor) -> torch.Tensor | float:
        """Where an engine approximates this activation: 1 for tanh and sigmoid (an
        absolute error), 1 + |z| for SiLU (relative to its input); else 0."""
        if spec.name in ("Tanh", "Sigmoid"):
            return 1.0
        return 1.0 + z.abs() if spec.name == "SiLU" else 0.0

    def product(self, a: torch.Tensor, ea: torch.Tensor, s: torch.Tensor, es: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        p = a * s
        return p, a * es + (s + es) * ea + self.delta(p) * self.u * p.abs()

    def add(self, a: torch.Tensor, ea: torch.Tensor, b: torch.Tensor, eb: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
        z = a + b
        return z, ea + eb + self.delta(z) * self.u * z.abs()

    def film(self, layer: Any, slot: str, v: torch.Tensor, e: torch.Tensor,
             c: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        from namcheck.models.reference.conv import right_align

        if slot not in layer.films:
            return v, e
        film = layer.films[slot]
        cv, ce = (right_align(t, v.shape[-1]) for t in c)
        s, es = self.conv(film.conv, cv, ce)
        d = film.dim
        if film.shift:
            p, ep = self.product(v, e, s[:, :d], es[:, :d])
            return self.add(p, ep, s[:, d : 2 * d], es[:, d : 2 * d])
        return self.product(v, e, s, es)

    def layer(self, layer: Any, v: torch.Tensor, e: torch.Tensor,
              c: tuple[torch.Tensor, torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        from namcheck.models.reference.conv import right_align

        w1, w2 = layer.conv.weight, layer.mixer.weight
        n = w1.shape[1] * w1.shape[2] + w2.shape[1] * w2.shape[2]
        uv, ue = self.film(layer, "conv_pre_film", v, e, c)
        a, ea = self.conv(layer.conv, uv, ue, n)
        T = a.shape[-1]
        cT = (right_align(c[0], T), right_align(c[1], T))
        a, ea = self.film(layer, "conv_post_film", a, ea, cT)
        mv, me = self.film(layer, "input_mixin_pre_film", *cT, cT)
        m, em = self.conv(layer.mixer, mv, me, n)
        m, em = self.film(layer, "input_mixin_post_film", m, em, cT)
        z, ez = self.add(a, ea, m, em)
        z, ez = self.film(layer, "activation_pre_film", z, ez, cT)
        B, spec = layer.B, layer.spec_acts
        if layer.gating == "none":
            y, ey = self.act(spec[0], z, ez)
        elif layer.gating == "gated":
            f, ef = self.act(spec[0], z[:, :B], ez[:, :B])
            s, es = self.act(spec[1], z[:, B:], ez[:, B:])
            y, ey = self.product(f, ef, s, es)
        else:  # blended: s f + (1 - s) z1
            f, ef = self.act(spec[0], z[:, :B], ez[:, :B])
            s, es = self.act(spec[1], z[:, B:], ez[:, B:])
            z1, e1 = z[:, :B], ez[:, :B]
            y = s * f + (1.0 - s) * z1
            ey = ((s + es) * (f + ef) + (1.0 - s - es) * (z1 + e1) - y
                  + self.delta(y) * 2 * self.u * ((s * f).abs() + ((1.0 - s) * z1).abs()))
        y, ey = self.film(layer, "activation_post_film", y, ey, cT)
        rv, re = right_align(v, T), right_align(e, T)
        if layer.layer1x1 is not None:
            r, er = self.conv(layer.layer1x1, y, ey)
            if layer.use_layer1x1_film:
                r, er = self.film(layer, "layer1x1_post_film", r, er, cT)
            rv, re = self.add(r, er, rv, re)
        h, eh = y, ey
        if layer.head1x1 is not None:
            h, eh = self.conv(layer.head1x1, y, ey)
            h, eh = self.film(layer, "head1x1_post_film", h, eh, cT)
        return rv, re, h, eh

    def wavenet(self, net: Any, v: torch.Tensor, e: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """forward_valid of a reference WaveNet (models/reference/wavenet.py), offline."""
        from namcheck.models.reference.conv import right_align

        if net.condition_dsp is None:
            c = (v, e)
        else:
            dsp = _wavenet_of(net.condition_dsp)
            if dsp is None:
                raise _NoEnvelopeError
            pad = v.new_zeros(v.shape[0], v.shape[1], dsp.receptive_field - 1)
            c = self.wavenet(dsp, torch.cat((pad, v), -1), torch.cat((pad, e), -1))
        acc: tuple[torch.Tensor, torch.Tensor] | None = None
        for array in net.arrays:
            r, er = self.conv(array.rechannel, v, e)
            for layer in array.layers:
                r, er, h, eh = self.layer(layer, r, er, c)
                if acc is None:
                    acc = (h, eh)
                else:
                    n = min(h.shape[-1], acc[0].shape[-1])
                    acc = self.add(right_align(h, n), right_align(eh, n),
                                   right_align(acc[0], n), right_align(acc[1], n))
            assert acc is not None
            v, e = r, er
            acc = self.conv(array.head_rechannel, *acc)
        assert acc is not None
        hs = float(net.head_scale)
        out = hs * acc[0]
        eo = hs * acc[1] + self.delta(out) * 2 * self.u * out.abs()
        for conv in net.post_head:
            a, ea = self.act(net.post_act_spec, out, eo)
            out, eo = self.conv(conv, a, ea)
        return out, eo


class _NoEnvelopeError(Exception):
    """A part of the model the envelope does not model (the caller falls back)."""


def _wavenet_of(net: Any) -> Any:
    from namcheck.models.reference.container import Container
    from namcheck.models.reference.wavenet import WaveNet

    while isinstance(net, Container):
        net = net.selected
    return net if isinstance(net, WaveNet) else None


def rounding_envelope(model: NamModel, x: torch.Tensor | np.ndarray, dtype: torch.dtype,
                      slim: float | None = None, approx: float = 0.0, seed: int = 0
                      ) -> float | None:
    """Peak-relative bound on |a `dtype` forward of `model` on `x` - the exact output|, for
    one rounding implementation (the envelope above), or None where the model is not a
    WaveNet the envelope covers. `approx`: an engine's absolute activation error."""
    from namcheck.models.reference.base import OFFLINE_CHUNK
    from namcheck.models.reference.loader import build

    net = _wavenet_of(build(model, torch.float64, torch.device("cpu"), slim, 64))
    if net is None or net.out_channels != 1:
        return None
    env = _Envelope(eps(dtype) / 2, approx, seed)
    x64 = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1)
    pad = net.receptive_field - 1
    xp = torch.cat((x64.new_zeros(pad), x64))
    worst, peak = 0.0, 0.0
    try:
        with torch.no_grad():
            for i in range(0, x64.numel(), OFFLINE_CHUNK):
                seg = xp[i : i + OFFLINE_CHUNK + pad][None, None]
                y, e = env.wavenet(net, seg, env.delta(seg) * env.u * seg.abs())
                worst, peak = max(worst, float(e.abs().max())), max(peak, float(y.abs().max()))
    except _NoEnvelopeError:
        return None
    return worst / peak if peak > 0 else None


def signal_tolerance(model: NamModel, x: torch.Tensor | np.ndarray, dtype: torch.dtype,
                     implementations: int = 1, slim: float | None = None,
                     approx: float = 0.0) -> float:
    """The peak-relative bound of `implementations` rounding forwards of `model` on `x`:
    forward_tolerance's per-stage allowance, or the rounding envelope where it is larger
    (a network that amplifies its rounding)."""
    base = forward_tolerance(model, dtype, implementations)
    if dtype == torch.float64:
        return base
    env = rounding_envelope(model, x, dtype, slim, approx)
    return base if env is None else max(base, implementations * ENVELOPE_FACTOR * env)
