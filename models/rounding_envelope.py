"""A float32 error bound that follows how a WaveNet amplifies its rounding, on one signal.

`numerics.forward_tolerance` counts stages (depth x 8 eps). It does not see that a network
whose layers have gain > 1 amplifies the rounding of its early stages: on a deep, high-gain
WaveNet namcheck's own float32 engines err by up to 5.7e-5 of the peak where depth x 8 eps
allows 2.7e-5. `envelope` derives the bound from the network and the signal instead.

Derivation
----------
1. First order (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 3):
   a float32 forward's error is ``e_t = sum_s J_ts r_s + O(u^2)``, ``r_s`` the rounding of
   operation s (or an implementation's error in an activation it approximates), ``J_ts``
   the network's signed derivative from s to output sample t at this signal. The pass
   carries the exact values (batch 1) and the deviations they would have, one row per draw,
   through the real network (slopes of the activations where they work, the product rule
   for FiLM and gating), so amplification and saturation are the network's own.
2. Deterministic parts, exact and the same in every draw: the float32 rounding of the
   weights, of head_scale and of the signal (every float32 implementation of the file
   shares them), and an implementation's approximated activations, evaluated by its own
   function (`approximated`: models/fast's tanh).
3. Roundings (Higham & Mary, SIAM J. Sci. Comput. 41 (2019) A2815: independent, mean zero):
   rounding a result v to nearest leaves an error uniform in +/- ulp(v)/2 (the
   quantisation-noise model; Widrow & Kollar, *Quantization Noise*, 2008), variance
   ulp(v)^2/12, exact per value since the pass knows v. A library's activation is allowed
   LIBRARY_ULPS (uniform in +/- 1 ulp). A dot product of n terms (+ bias) rounds n + 1
   partial sums s_k whose values depend on the summation order: for terms in no
   particular order E[s_k^2] ~ (k/n)^2 y^2 + (k/n)(1 - k/n) |t|^2 (|t|^2 = W^2 * x^2),
   summed over k ``n (y^2/3 + |t|^2/6)``, each at the largest variance a rounding of s can
   have, u^2 s^2 / 3 (ulp(s) <= 2 u |s|). In a layer the conv and the input mixer count
   the terms of both, and a 1x1 whose result is added to the residual or to the head
   accumulator is taken as accumulating into it (its partial sums start from the addend):
   engines that fuse them (models/fast does) round those longer or larger sums, and one
   that does not rounds less. Independent roundings stay a variance through elementwise
   operations (times the squared derivative) and are drawn where a convolution mixes
   elements.
4. Per sample: e_t is a sum of very many small independent terms, so Gaussian (Lindeberg),
   of mean mu_t and standard deviation sigma_t. ENVELOPE_DRAWS draws estimate both; a new
   draw (a real forward) predicted from K draws is Student's t with K - 1 degrees of
   freedom, scale sd sqrt(1 + 1/K). By the union bound, which holds whatever the
   dependence between samples, P(max_t |e_t| > b) <= sum_t P(|e_t| > b); the bound is the
   smallest b with that sum at ENVELOPE_FALSE_FAILURE (`union_bound`). Two rounding
   implementations (their difference): the shared deterministic part cancels and the
   random variances add.

So a correct float32 forward exceeds the bound with probability at most
ENVELOPE_FALSE_FAILURE under the model. No factor is fitted: every number is a stated
probability, follows from float32's format, or is a library's documented accuracy.

What is approximated: first order only (second-order terms are u^2 of the signal's scale);
independence and zero mean of the roundings (true of round-to-nearest on non-degenerate
data, not of adversarial inputs); partial sums of a random summation order; the Gaussian
limit per sample; the union over samples is conservative where neighbouring samples'
errors are correlated. Checked against the real errors of the reference (float32 BLAS),
the fast engine (FMA chains, its own tanh) and NeuralAmpModelerCore's render
(tests/test_rounding_envelope.py): their per-sample errors measure 0.5..1.1 of the
envelope's sigma. The pass runs in float32 (magnitudes and slopes need no more; deviations
propagate linearly), about ENVELOPE_DRAWS + 3 convolutions per conv, so callers compute it
only where the depth bound does not already hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from namcheck.models.format import NamModel
from namcheck.models.format.activations import ActivationSpec
from namcheck.models.tolerances import (
    APPROX_NEIGHBOURS,
    ENVELOPE_DRAWS,
    ENVELOPE_FALSE_FAILURE,
    LIBRARY_ULPS,
)

# An engine's activation as it computes it, (spec, float32 pre-activations) -> its outputs,
# or None where it computes the exact formula (whose float32 rounding the model draws).
ApproximatedActivation = Callable[[ActivationSpec, np.ndarray], "np.ndarray | None"]


class EnvelopeUnavailableError(Exception):
    """A part of the model the envelope does not model (the caller keeps its other bound)."""


class _Value:
    """A tensor of the forward as the pass carries it: the exact value `v` (batch 1), the
    deviations `e` already drawn (one row per draw) and `p`, the variance (batch 1) of the
    roundings not drawn yet. Roundings are independent per element, so `p` passes through
    elementwise operations exactly (times the squared derivative); it is drawn where a
    convolution mixes elements. The first `const` samples are the same value at every time
    (the zero history and what a model computes from it): each operation rounds them alike,
    so one draw serves all of them."""

    __slots__ = ("const", "e", "p", "v")

    def __init__(self, v: torch.Tensor, e: torch.Tensor, p: torch.Tensor, const: int) -> None:
        self.v, self.e, self.p, self.const = v, e, p, const

    def tail(self, n: int) -> _Value:
        """The last n samples (offline tensors shrink from the left)."""
        from namcheck.models.reference.conv import right_align

        return _Value(right_align(self.v, n), right_align(self.e, n), right_align(self.p, n),
                      max(0, self.const - (self.v.shape[-1] - n)))

    def rows(self, sl: slice) -> _Value:
        """Channels `sl`."""
        return _Value(self.v[:, sl], self.e[:, sl], self.p[:, sl], self.const)


class _Pass:
    """An offline forward of a reference WaveNet in float32 carrying, beside each exact
    value, ENVELOPE_DRAWS rows of modelled deviations (module docstring, steps 1-3)."""

    def __init__(self, u: float, draws: int, seed: int,
                 approximated: ApproximatedActivation | None) -> None:
        self.u, self.draws, self.approximated = u, draws, approximated
        self.rng = np.random.default_rng(seed)

    def draw(self, x: _Value) -> torch.Tensor:
        """x's deviations with its pending variance drawn: uniform, one per element and
        draw (a uniform of variance p spans +/- sqrt(3 p))."""
        shape = (self.draws, *x.p.shape[1:])
        uniform = self.rng.random(shape, dtype=np.float32)
        if x.const > 1:
            uniform[..., 1 : x.const] = uniform[..., :1]
        noise = torch.from_numpy(uniform)
        return noise.sub_(0.5).mul_((12.0 * x.p).sqrt()).add_(x.e)

    def rounded(self, v: torch.Tensor) -> torch.Tensor:
        """The variance of rounding the result `v` to float32: uniform in +/- ulp(v)/2,
        i.e. (u 2^(E-1))^2 / 3 where |v| = m 2^E, m in [1/2, 1) (0 where v is 0: exact)."""
        m, ex = torch.frexp(v)
        half_ulp = torch.ldexp(torch.full_like(v, self.u), ex - 1)
        return torch.where(m == 0, torch.zeros_like(v), half_ulp * half_ulp / 3.0)

    def conv(self, conv: Any, x: _Value, n: int | None = None,
             addend: _Value | None = None) -> _Value:
        """y = b + W * x (+ `addend`): the incoming deviations through W, the weights' own
        float32 rounding (exact, the same in every draw), and the variance of the n + 1
        partial sums' roundings (at most u^2 s^2 / 3 each, for sums s whose value depends
        on the summation order). With an addend the sum is taken as starting from it, as an
        engine that accumulates into the residual or the head does (an add rounds less)."""
        w64, b64, s = conv.weight, conv.bias, conv.spec
        w = w64.float()
        b = b64.float() if b64 is not None else None
        kw = {"dilation": s.dilation, "groups": s.groups}
        y = F.conv1d(x.v, w, b, **kw)
        sq = F.conv1d(x.v * x.v, w * w, b * b if b is not None else None, **kw)
        terms = (n if n is not None else w.shape[1] * w.shape[2]) + 1
        dw = (w64 - w.double()).float()
        db = (b64 - b64.float().double()).float() if b64 is not None else None
        e = F.conv1d(self.draw(x), w, None, **kw) + F.conv1d(x.v, dw, db, **kw)
        sums = y * y / 3 + sq / 6
        p_in = torch.zeros_like(y)
        const = max(0, x.const - s.context)
        if addend is not None:
            a = addend.tail(y.shape[-1])
            sums = sums + a.v * a.v + a.v * y
            y, e, p_in, const = y + a.v, e + a.e, a.p, min(const, a.const)
        return _Value(y, e, p_in + (self.u * self.u / 3.0) * terms * sums.abs(), const)

    def act(self, spec: ActivationSpec, z: _Value) -> _Value:
        """f(z): deviations and pending variance through f's slope at z, and f's own error:
        the result's rounding, or where the implementation approximates f, its error
        around z (`_approximation`)."""
        from namcheck.models.reference.activations import make_activation

        fn = make_activation(spec)
        zg = z.v.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            f = fn(zg)
            (slope,) = torch.autograd.grad(f.sum(), zg)
        f = f.detach()
        e, p = slope * z.e, slope * slope * z.p
        own = self._approximation(spec, fn, z.v)
        if own is None:
            return _Value(f, e, p + LIBRARY_ULPS**2 * 4.0 * self.rounded(f), z.const)
        bias, var = own
        return _Value(f, e + bias, p + var, z.const)

    def _approximation(self, spec: ActivationSpec, fn: Any, z: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """An approximating implementation's error at z, from its own function evaluated
        at z and at the APPROX_NEIGHBOURS float32 values on each side (the input the
        implementation sees is z give or take its own deviation): their mean, a smooth
        part the same in every draw, and their variance, which is drawn (it includes the
        rounding of the result). None where the implementation computes f exactly."""
        if self.approximated is None:
            return None
        z32 = z.numpy().astype(np.float32)
        errs = []
        for direction in (-np.inf, np.inf):
            zj = z32
            for _ in range(APPROX_NEIGHBOURS):
                zj = np.nextafter(zj, np.float32(direction))
                theirs = self.approximated(spec, zj)
                if theirs is None:
                    return None
                exact = fn(torch.from_numpy(zj.astype(np.float64))).numpy()
                errs.append(theirs.astype(np.float64) - exact)
        stack = np.stack(errs)
        return (torch.from_numpy(stack.mean(0)).float(),
                torch.from_numpy(stack.var(0)).float())

    def product(self, a: _Value, s: _Value) -> _Value:
        pv = a.v * s.v
        return _Value(pv, a.v * s.e + s.v * a.e,
                      s.v * s.v * a.p + a.v * a.v * s.p + self.rounded(pv), min(a.const, s.const))

    def add(self, a: _Value, b: _Value) -> _Value:
        z = a.v + b.v
        return _Value(z, a.e + b.e, a.p + b.p + self.rounded(z), min(a.const, b.const))

    def film(self, layer: Any, slot: str, x: _Value, c: _Value) -> _Value:
        if slot not in layer.films:
            return x
        film = layer.films[slot]
        s = self.conv(film.conv, c.tail(x.v.shape[-1]))
        d = film.dim
        if film.shift:
            return self.add(self.product(x, s.rows(slice(0, d))), s.rows(slice(d, 2 * d)))
        return self.product(x, s)

    def layer(self, layer: Any, x: _Value, c: _Value, acc: _Value | None
              ) -> tuple[_Value, _Value]:
        """One layer (models/reference/wavenet.py `Layer.forward`): the residual, and the
        head accumulator `acc` (None before the first layer) with this layer's head added."""
        w1, w2 = layer.conv.weight, layer.mixer.weight
        n = w1.shape[1] * w1.shape[2] + w2.shape[1] * w2.shape[2]
        a = self.conv(layer.conv, self.film(layer, "conv_pre_film", x, c), n)
        T = a.v.shape[-1]
        cT = c.tail(T)
        a = self.film(layer, "conv_post_film", a, cT)
        m = self.conv(layer.mixer, self.film(layer, "input_mixin_pre_film", cT, cT), n)
        m = self.film(layer, "input_mixin_post_film", m, cT)
        z = self.film(layer, "activation_pre_film", self.add(a, m), cT)
        B, (primary, secondary) = layer.B, layer.spec_acts
        if layer.gating == "none":
            y = self.act(primary, z)
        elif layer.gating == "gated":
            y = self.product(self.act(primary, z.rows(slice(0, B))),
                             self.act(secondary, z.rows(slice(B, None))))
        else:  # blended: s f + (1 - s) z1
            f = self.act(primary, z.rows(slice(0, B)))
            s = self.act(secondary, z.rows(slice(B, None)))
            z1 = z.rows(slice(0, B))
            one_minus = _Value(1.0 - s.v, -s.e, s.p + self.rounded(1.0 - s.v), s.const)
            y = self.add(self.product(s, f), self.product(one_minus, z1))
        y = self.film(layer, "activation_post_film", y, cT)
        if y.p.any():  # y feeds two convs (layer1x1, head1x1): one draw for both
            y = _Value(y.v, self.draw(y), torch.zeros_like(y.p), y.const)
        residual = x.tail(T)
        if layer.layer1x1 is not None:
            if layer.use_layer1x1_film:
                r = self.film(layer, "layer1x1_post_film", self.conv(layer.layer1x1, y), cT)
                residual = self.add(r, residual)
            else:
                residual = self.conv(layer.layer1x1, y, addend=residual)
        if layer.head1x1 is None:
            return residual, y if acc is None else self.add(y, acc.tail(T))
        if "head1x1_post_film" in layer.films or acc is None:
            h = self.film(layer, "head1x1_post_film", self.conv(layer.head1x1, y), cT)
            return residual, h if acc is None else self.add(h, acc.tail(T))
        return residual, self.conv(layer.head1x1, y, addend=acc)

    def wavenet(self, net: Any, x: _Value) -> _Value:
        """`forward_valid` of a reference WaveNet (models/reference/wavenet.py), offline."""
        if net.condition_dsp is None:
            c = x
        else:
            dsp = wavenet_of(net.condition_dsp)
            if dsp is None:
                raise EnvelopeUnavailableError
            pad = dsp.receptive_field - 1
            c = self.wavenet(dsp, _Value(F.pad(x.v, (pad, 0)), F.pad(x.e, (pad, 0)),
                                         F.pad(x.p, (pad, 0)), x.const + pad))
        if c.p.any():  # the condition feeds every layer's mixer: one draw for all
            c = _Value(c.v, self.draw(c), torch.zeros_like(c.p), c.const)
        acc: _Value | None = None
        for array in net.arrays:
            r = self.conv(array.rechannel, x)
            for layer in array.layers:
                r, acc = self.layer(layer, r, c, acc)
            assert acc is not None
            x = r
            acc = self.conv(array.head_rechannel, acc)
        assert acc is not None
        hs = float(net.head_scale)
        hs32 = float(np.float32(hs))  # head_scale's own rounding: exact, every draw alike
        out_v = hs32 * acc.v
        out = _Value(out_v, hs32 * acc.e + (hs32 - hs) * acc.v,
                     hs32 * hs32 * acc.p + self.rounded(out_v), acc.const)
        for conv in net.post_head:
            out = self.conv(conv, self.act(net.post_act_spec, out))
        return out


def wavenet_of(net: Any) -> Any:
    """The WaveNet a reference module plays (a container's selected submodel), or None."""
    from namcheck.models.reference.container import Container
    from namcheck.models.reference.wavenet import WaveNet

    while isinstance(net, Container):
        net = net.selected
    return net if isinstance(net, WaveNet) else None


@dataclass(frozen=True)
class Envelope:
    """The modelled error of one float32 forward on a signal, per output sample: `mean`
    (the deterministic part: the weights', the signal's and head_scale's own rounding, an
    approximated activation) and `sd` (the roundings'), shapes (N,), over `draws` draws;
    `peak` = max_t |y_t|."""

    mean: np.ndarray
    sd: np.ndarray
    peak: float
    draws: int

    def bound(self, window: slice = slice(None), implementations: int = 1) -> float:
        """Absolute bound on max_t |error_t| over `window` (union_bound). Two rounding
        implementations: their difference, in which the deterministic part they share
        (weights, signal, head_scale) cancels and the random parts' variances add."""
        mean, sd = self.mean[window], self.sd[window]
        if implementations == 2:
            mean, sd = np.zeros_like(mean), sd * math.sqrt(2.0)
        return union_bound(mean, sd, self.draws)


def envelope(model: NamModel, x: np.ndarray, slim: float | None = None,
             approximated: ApproximatedActivation | None = None,
             draws: int = ENVELOPE_DRAWS, seed: int = 0) -> Envelope | None:
    """The Envelope of a float32 forward of `model` on `x` (shape (N,), any float dtype,
    played from zero history as the reference plays it), or None where `model` plays no
    single-output WaveNet. `approximated`: the implementation's own activations, where it
    approximates some (models/fast/activations.py: `approximated`)."""
    from namcheck.models.reference.base import OFFLINE_CHUNK
    from namcheck.models.reference.loader import build

    net = wavenet_of(build(model, torch.float64, torch.device("cpu"), slim, 64))
    if net is None or net.out_channels != 1:
        return None
    run = _Pass(2.0**-24, draws, seed, approximated)
    x64 = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1)
    pad = net.receptive_field - 1
    xp64 = F.pad(x64, (pad, 0))
    nonzero = torch.nonzero(xp64).flatten()
    silent = int(nonzero[0]) if nonzero.numel() else xp64.numel()  # zero history + silence
    means, sds, peak = [], [], 0.0
    try:
        with torch.no_grad():
            for i in range(0, x64.numel(), OFFLINE_CHUNK):
                exact = xp64[i : i + OFFLINE_CHUNK + pad][None, None]
                seg = exact.float()
                # the signal's own rounding to float32 (exact, the same in every draw)
                e0 = (seg.double() - exact).float().expand(draws, -1, -1)
                out = run.wavenet(net, _Value(seg, e0, torch.zeros_like(seg),
                                              max(0, silent - i)))
                # a condition DSP's receptive field is padded twice, as the reference does
                out = out.tail(seg.shape[-1] - pad)
                e64 = out.e[:, 0].double()
                means.append(e64.mean(0).numpy())
                # the output's pending variance is known exactly: added, not drawn
                sds.append((e64.var(0) + out.p[0, 0].double()).sqrt().numpy())
                peak = max(peak, float(out.v.abs().max()))
    except EnvelopeUnavailableError:
        return None
    return Envelope(np.concatenate(means), np.concatenate(sds), peak, draws)


def union_bound(mean: np.ndarray, sd: np.ndarray, draws: int,
                false_failure: float = ENVELOPE_FALSE_FAILURE) -> float:
    """The smallest b with sum_t P(|e_t| > b) <= `false_failure` (module docstring, step 4),
    e_t a new draw at sample t predicted from `draws` draws of mean `mean` and standard
    deviation `sd` (shapes (N,)): Student's t with draws - 1 degrees of freedom, scale
    sd sqrt(1 + 1/draws). Same units as `mean`; 0 for an empty window."""
    from scipy.stats import t as student

    floor = float(np.max(np.abs(mean), initial=0.0))
    keep = sd > 0
    mu, scale = np.abs(mean[keep]), sd[keep] * math.sqrt(1.0 + 1.0 / draws)
    if mu.size == 0:
        return floor

    def risk(b: float) -> float:
        return float(np.sum(student.sf((b - mu) / scale, draws - 1)
                            + student.sf((b + mu) / scale, draws - 1)))

    lo, hi = floor, floor + float(scale.max())
    while risk(hi) > false_failure:
        lo, hi = hi, floor + 2 * (hi - floor)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if risk(mid) > false_failure else (lo, mid)
    return hi
