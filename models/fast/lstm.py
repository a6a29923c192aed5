"""The fast LSTM engine: the C kernel in `lstm.c` behind the engine protocol.

Built from the parsed `NamModel` and its weight stream (NAM_FORMAT §5: per layer W, b, h0,
c0; then the head), never from a reference module. Like the runtime it starts from the
file's h0/c0 and runs `lstm_prewarm_samples(sample_rate)` zeros (the reference's rule,
models/recurrent.py) before the signal; that prewarmed state is computed once per model
and copied for every offline row and every new stream. A second implementation:
tests/test_fast_lstm.py checks it against the float64 reference within `lstm_tolerance()`.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import numpy as np
import torch

from namcheck.models.fast.build import library
from namcheck.models.fast.frontend import KernelEngine, KernelState, pointer, process_function
from namcheck.models.format import NamModel
from namcheck.models.format.schema import LSTMConfig
from namcheck.models.reference.recurrent import DEFAULT_BUFFER, lstm_prewarm_samples
from namcheck.models.tolerances import EPS_PER_STAGE

# float32's epsilon (numerics.eps, which imports this module for an LSTM's stages)
_EPS32 = float(torch.finfo(torch.float32).eps)

MAX_HIDDEN, MAX_INPUT = 1024, 64  # as in lstm.c

_F = ctypes.POINTER(ctypes.c_float)


class _Model(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("nin", "hidden", "hp", "nlayers", "out_ch",
                                              "generic")] + [
        (n, _F) for n in ("w", "b", "whead", "bhead")]


class _State(ctypes.Structure):
    _fields_ = [("h", _F), ("c", _F), ("hs", _F)]


def unsupported(model: NamModel) -> str | None:
    """Why the fast LSTM cannot run this model, or None. An LSTM whose prewarmed state is
    unstable (its errors grow without bound, `lstm_tolerance` infinite) runs on the
    reference, whose float32 forward is no better but states no bound of its own."""
    why = _too_large(model)
    if why:
        return why
    if not math.isfinite(lstm_tolerance(model)):
        return ("its state is unstable at the prewarmed operating point (rounding errors "
                "grow without bound), so the fast engine states no error bound")
    return None


def _too_large(model: NamModel) -> str | None:
    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    if cfg.hidden_size > MAX_HIDDEN:
        return f"hidden_size above {MAX_HIDDEN} is not covered by the fast engine"
    if cfg.input_size > MAX_INPUT:
        return f"input_size above {MAX_INPUT} is not covered by the fast engine"
    return None


def lstm_step_bound(model: NamModel) -> float:
    """Bound on one step's local error (one layer, from an exact state), relative to O(1)
    states: the gate pre-activations are float32 dot products of n = I + H + 1 terms,
    allowed max(EPS_PER_STAGE, sqrt(n)/2) eps (engine.fast_tolerance's rule), then 5
    activations (3 sigmoids, 2 tanh) with the kernel's proven error TANH_ERROR_BOUND each,
    and the cell update's few roundings (EPS_PER_STAGE eps)."""
    from namcheck.models.fast.activations import TANH_ERROR_BOUND

    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    e = _EPS32
    widest = max(cfg.input_size, cfg.hidden_size) + cfg.hidden_size + 1
    return EPS_PER_STAGE * e + max(EPS_PER_STAGE, math.sqrt(widest) / 2) * e \
        + 5 * TANH_ERROR_BOUND


_TOLERANCES: dict[int, tuple[NamModel, float]] = {}  # id -> (model kept alive, bound)


def lstm_tolerance(model: NamModel, buffer_size: int = DEFAULT_BUFFER) -> float:
    """Peak-relative bound on |fast - exact| at the model's operating point (what
    `EngineChoice.bound` reports for an LSTM on the fast engine).

    The local step bound (`lstm_step_bound`) carried through time around the prewarmed
    state, per layer in the Lyapunov metric of `lstm_error_bound` (condition number
    cond(L), per-step gain rho = ||J*||_X < 1), layers chaining through ||B*||, the head
    adding one dot product. Successive steps' errors are taken as independent (the
    probabilistic model of rounding behind the sqrt(n) rule for dot products that every
    bound here uses): they add in root-sum-square, sum_k rho^2k = 1 / (1 - rho^2), so a
    layer amplifies by cond(L) / sqrt(1 - rho^2). Aligned errors would add up to
    cond(L) / (1 - rho), sqrt((1 + rho) / (1 - rho)) times more (x20 for rho = 0.995, a
    slowly forgetting LSTM): that worst case, along a given signal rather than at the
    operating point, is `lstm_error_bound(model, x)`. Infinite where the operating point is
    unstable (the state amplifies its own errors: no bound holds)."""
    cached = _TOLERANCES.get(id(model))
    if cached is not None and cached[0] is model and buffer_size == DEFAULT_BUFFER:
        return cached[1]
    with np.errstate(over="ignore", invalid="ignore"):  # (a state that overflows: inf)
        bound = _operating_point_bound(model, buffer_size)
    if buffer_size == DEFAULT_BUFFER:
        if len(_TOLERANCES) > 16:
            _TOLERANCES.clear()
        _TOLERANCES[id(model)] = (model, bound)
    return bound


def lstm_gain(model: NamModel) -> float:
    """G: how many times a step's local error reaches the output at the operating point
    (`lstm_tolerance` = G x `lstm_step_bound` + the head's dot product; infinite where
    the operating point is unstable). numerics.rounding_stages counts an LSTM by it."""
    return (lstm_tolerance(model) - _head_bound(model)) / lstm_step_bound(model)


def _head_bound(model: NamModel) -> float:
    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    return max(EPS_PER_STAGE, math.sqrt(cfg.hidden_size + 1) / 2) * _EPS32


def _operating_point_bound(model: NamModel, buffer_size: int) -> float:
    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    step = lstm_step_bound(model)
    params = _float64_params(model)
    P = max(lstm_prewarm_samples(model.sample_rate, buffer_size), 1)
    states = _prewarmed_states(params, cfg.input_size, P)
    x = np.zeros((1, cfg.input_size))
    err = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for (W, b, _, _), (h, c) in zip(params["layers"], states, strict=True):
            tr = _Trajectory(x, W, b, h, c)  # one step from the operating point
            L = tr.metric(1)
            Li = np.linalg.inv(L)
            rho = float(_spectral_norms(L @ tr.state_jacobians(0, 1) @ Li)[0])
            if not rho < 1:
                return math.inf
            dc_dx, dh_dx = tr.jacobians(0, 1, slice(0, tr.width))
            B = float(np.sqrt((dc_dx**2).sum() + (dh_dx**2).sum()))
            cond = float(np.linalg.norm(L, 2) * np.linalg.norm(Li, 2))
            err = cond / math.sqrt(1 - rho * rho) * (step + B * err)
            x = h[None]
    return err + _head_bound(model)


def _prewarmed_states(params: dict[str, Any], width: int, n: int
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(h, c) of every layer at its zero-input fixed point, where n zeros of prewarm take
    a stable LSTM: Newton's method from h0/c0 (which the exporter leaves near it), layer by
    layer; where it does not settle, or settles on an unstable fixed point (which the
    prewarm would leave), the state after the n zeros themselves (torch)."""
    out = []
    x = np.zeros((1, width))
    for W, b, h0, c0 in params["layers"]:
        H = h0.shape[0]
        state = np.concatenate([h0, c0])
        for _ in range(50):
            tr = _Trajectory(x, W, b, state[:H], state[H:])
            residual = np.concatenate([tr.h[0], tr.c[0]]) - state
            if not np.all(np.isfinite(residual)):
                break
            if np.abs(residual).max() <= 1e-13 * max(1.0, np.abs(state).max()):
                break
            try:
                state = state - np.linalg.solve(tr.state_jacobians(0, 1)[0]
                                                - np.eye(2 * H), residual)
            except np.linalg.LinAlgError:
                break
        else:
            state = np.full(2 * H, np.nan)
        if not np.all(np.isfinite(state)) or np.abs(residual).max() > 1e-9:
            return _run_zeros(params, width, n)
        J = _Trajectory(x, W, b, state[:H], state[H:]).state_jacobians(0, 1)[0]
        if np.abs(np.linalg.eigvals(J)).max() >= 1:
            return _run_zeros(params, width, n)
        out.append((state[:H], state[H:]))
        x = state[None, :H]
    return out


def _run_zeros(params: dict[str, Any], width: int, n: int
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(h, c) of every layer after n zeros from h0/c0, in float64 (torch's LSTM)."""
    layers = params["layers"]
    H = layers[0][2].shape[0]
    lstm = torch.nn.LSTM(width, H, len(layers), batch_first=True).double()
    lstm.requires_grad_(False)
    for k, (W, b, _, _) in enumerate(layers):
        cols = W.shape[1] - H
        getattr(lstm, f"weight_ih_l{k}").copy_(torch.from_numpy(np.array(W[:, :cols])))
        getattr(lstm, f"weight_hh_l{k}").copy_(torch.from_numpy(np.array(W[:, cols:])))
        getattr(lstm, f"bias_ih_l{k}").copy_(torch.from_numpy(np.array(b)))
        getattr(lstm, f"bias_hh_l{k}").zero_()
    h0 = torch.from_numpy(np.stack([lay[2] for lay in layers]))[:, None]
    c0 = torch.from_numpy(np.stack([lay[3] for lay in layers]))[:, None]
    with torch.no_grad():
        _, (h, c) = lstm(torch.zeros(1, n, width, dtype=torch.float64), (h0, c0))
    return [(h[k, 0].numpy(), c[k, 0].numpy()) for k in range(len(layers))]


WINDOW = 32  # steps per window of lstm_error_bound's products


def lstm_error_bound(model: NamModel, x: np.ndarray, buffer_size: int = DEFAULT_BUFFER,
                     window: int = WINDOW) -> float:
    """First-order bound, peak-relative, on |fast - exact| of the LSTM's output on `x`
    ((N,) mono), prewarm included: a running error analysis along the float64 trajectory
    that carries the recurrence's own growth or decay of errors.

    Local errors of one step of one layer, componentwise (u = eps/2; T = TANH_ERROR_BOUND,
    the kernel's proven tanh error; its sigmoid, 1/2 + tanh(v/2)/2, errs by T/2 + 2^-24):
    each gate pre-activation is a float32 dot product of n = I + H + 1 terms, allowed
    d(n) = max(EPS_PER_STAGE, sqrt(n)/2) eps of the sum of its absolute terms
    (engine.fast_tolerance's rule); through the gates an error dz becomes s' dz + T/2 +
    2^-24 (i, f, o) or (1 - t_g^2) dz + T (g); c' = fma(s_f, c, s_i t_g) adds its two
    roundings, 2u (|s_f c| + |s_i t_g|); h' = s_o tanh(c') adds the effect of the errors in
    s_o and c', T and one rounding u |h'|. `delta_t` is that local (h, c) error vector.

    Propagation, to first order: e_t = J_t e_{t-1} + B_t e_in,t + delta_t, J_t the Jacobian
    of (h, c) on the previous state, B_t on the layer's input (the previous layer's h, whose
    error bound is e_in; the signal itself is exact). An LSTM forgets slowly (forget gates
    near 1: errors fade by ~0.5% a step) and its Jacobians are far from normal, so single
    steps' 2-norms exceed 1 although their products decay. Two measures make the bound
    follow the decay: the norm is the model's own Lyapunov metric, ||v||_X = ||L v||_2 with
    L^T L = X solving J*^T X J* - X = -I at the prewarmed operating point J* (where J* is
    stable, ||J*||_X < 1; else the Euclidean norm), and the steps are taken in windows of
    `window`: at window boundaries E' = ||J_m ... J_1||_X E + K sum_k D_k, inside a window
    ||e_t||_X <= K (E + sum_{k<=t} D_k), K the product of max(1, ||J_k||_X) over the window
    and D_k = ||L||_2 (||delta_k||_2 + ||B_k||_F e_in,k). Back in 2-norm, ||e|| <= ||L^-1||_2
    ||e||_X. The state starts at h0/c0 rounded to float32. The output y = W_head h + b
    errs by ||w_o|| ||e_h|| plus its own dot product's d(H + 1). Second-order terms are left
    out (smaller than the bound by its own size wherever it is small); a model whose state
    amplifies perturbations gets a large or infinite bound, correctly.

    This is a worst case: it lets every step's rounding add up with the same sign over the
    ~1/(1 - rho) steps an LSTM remembers, so it sits far above typical errors (about 100x
    for namcore-examples/lstm.nam)."""
    from namcheck.models.fast.activations import TANH_ERROR_BOUND as T

    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    if cfg.input_size != 1:
        raise ValueError("lstm_error_bound takes a mono signal: input_size must be 1")
    e = _EPS32
    u = e / 2

    def dot(n: int) -> float:
        return max(EPS_PER_STAGE, math.sqrt(n) / 2) * e

    params = _float64_params(model)
    P = lstm_prewarm_samples(model.sample_rate, buffer_size)
    inp = np.concatenate([np.zeros(P), np.asarray(x, dtype=np.float64).reshape(-1)])[:, None]
    H = cfg.hidden_size
    e_in = np.zeros(inp.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for W, b, h0, c0 in params["layers"]:
            tr = _Trajectory(inp, W, b, h0, c0)
            e_in = tr.error_bound(e_in, P, dot, u, T, window)
            inp = tr.h
        Wo, bo = params["head"]
        y = inp @ Wo.T + bo
        local = dot(H + 1) * (np.abs(inp) @ np.abs(Wo).T + np.abs(bo))
        err = np.linalg.norm(Wo, axis=1) * e_in[:, None] + local
    if y.shape[0] <= P:
        return 0.0
    worst, peak = float(err[P:].max()), float(np.abs(y[P:]).max())
    if not math.isfinite(worst):
        return math.inf
    return worst / peak if peak > 0 else worst


def _spectral_norms(stack: np.ndarray) -> np.ndarray:
    """2-norms of a stack of square matrices (largest eigenvalue of M^T M)."""
    gram = np.swapaxes(stack, -1, -2) @ stack
    return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[..., -1], 0.0))


class _Trajectory:
    """One layer's float64 trajectory over its input and the derivatives on it."""

    def __init__(self, inp: np.ndarray, w: np.ndarray, b: np.ndarray, h0: np.ndarray,
                 c0: np.ndarray) -> None:
        H = h0.shape[0]
        self.inp, self.W, self.b, self.h0, self.c0 = inp, w, b, h0, c0
        self.width = w.shape[1] - H
        self.h, self.c, z = _trajectory(inp, w, b, h0, c0)
        self.h_prev = np.vstack([h0[None], self.h[:-1]])
        self.c_prev = np.vstack([c0[None], self.c[:-1]])
        zi, zf, zg, zo = np.split(z, 4, axis=1)
        self.si, self.sf, self.so = (1 / (1 + np.exp(-v)) for v in (zi, zf, zo))
        self.tg, self.tc = np.tanh(zg), np.tanh(self.c)
        self.dsi, self.dsf, self.dso = (g * (1 - g) for g in (self.si, self.sf, self.so))
        self.dtg, self.dtc = 1 - self.tg**2, 1 - self.tc**2
        self.Wi, self.Wf, self.Wg, self.Wo = np.split(w, 4, axis=0)

    def local(self, dot: Any, u: float, tanh_err: float) -> np.ndarray:
        """2-norm of each step's local (h, c) error bound vector."""
        H = self.h0.shape[0]
        dz = dot(self.width + H + 1) * (np.abs(self.inp) @ np.abs(self.W[:, : self.width]).T
                                        + np.abs(self.h_prev) @ np.abs(self.W[:, self.width:]).T
                                        + np.abs(self.b))
        dzi, dzf, dzg, dzo = np.split(dz, 4, axis=1)
        ts = tanh_err / 2 + 2.0**-24
        di, df = self.dsi * dzi + ts, self.dsf * dzf + ts
        dg, do = self.dtg * dzg + tanh_err, self.dso * dzo + ts
        dc = (np.abs(self.c_prev) * df + np.abs(self.tg) * di + self.si * dg
              + 2 * u * (np.abs(self.sf * self.c_prev) + np.abs(self.si * self.tg)))
        dh = np.abs(self.tc) * do + self.so * (self.dtc * dc + tanh_err) + u * np.abs(self.h)
        self.local_h, self.local_c = dh, dc
        return np.sqrt((dh**2).sum(axis=1) + (dc**2).sum(axis=1))

    def jacobians(self, t0: int, t1: int, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        """d c'/d v and d h'/d v, steps t0..t1-1, v the input columns `cols` of W."""
        k = slice(t0, t1)
        dc_dv = ((self.c_prev[k] * self.dsf[k])[:, :, None] * self.Wf[None, :, cols]
                 + (self.tg[k] * self.dsi[k])[:, :, None] * self.Wi[None, :, cols]
                 + (self.si[k] * self.dtg[k])[:, :, None] * self.Wg[None, :, cols])
        dh_dv = ((self.tc[k] * self.dso[k])[:, :, None] * self.Wo[None, :, cols]
                 + (self.so[k] * self.dtc[k])[:, :, None] * dc_dv)
        return dc_dv, dh_dv

    def state_jacobians(self, t0: int, t1: int) -> np.ndarray:
        """d(h', c')/d(h, c) for steps t0..t1-1, (t1 - t0, 2H, 2H)."""
        H = self.h0.shape[0]
        dc_dh, dh_dh = self.jacobians(t0, t1, slice(self.width, None))
        J = np.zeros((t1 - t0, 2 * H, 2 * H))
        J[:, :H, :H] = dh_dh
        idx = np.arange(H)
        J[:, idx, H + idx] = (self.so * self.dtc * self.sf)[t0:t1]
        J[:, H:, :H] = dc_dh
        J[:, H + idx, H + idx] = self.sf[t0:t1]
        return J

    def metric(self, prewarm: int) -> np.ndarray:
        """L with ||J*||_X = ||L J* L^-1||_2 < 1 at the operating point (the last prewarm
        step), from the discrete Lyapunov equation; the identity where J* is not stable."""
        H = self.h0.shape[0]
        if prewarm == 0:
            return np.eye(2 * H)
        J = self.state_jacobians(prewarm - 1, prewarm)[0]
        if not np.all(np.isfinite(J)) or np.abs(np.linalg.eigvals(J)).max() >= 1:
            return np.eye(2 * H)
        from scipy.linalg import solve_discrete_lyapunov

        X = solve_discrete_lyapunov(J.T, np.eye(2 * H))
        return np.linalg.cholesky((X + X.T) / 2).T

    def error_bound(self, e_in: np.ndarray, prewarm: int, dot: Any, u: float,
                    tanh_err: float, window: int) -> np.ndarray:
        """Bound on the 2-norm of this layer's (h, c) error after each step."""
        H = self.h0.shape[0]
        n = self.inp.shape[0]
        L = self.metric(prewarm)
        Li = np.linalg.inv(L)
        nL, nLi = float(np.linalg.norm(L, 2)), float(np.linalg.norm(Li, 2))
        d = self.local(dot, u, tanh_err)
        out = np.empty(n)
        E = u * float(np.linalg.norm(L @ np.concatenate([self.h0, self.c0])))
        chunk = max(window, (1 << 19) // (4 * H * H) // window * window)
        for t0 in range(0, n, chunk):
            t1 = min(n, t0 + chunk)
            m = t1 - t0
            dc_dx, dh_dx = self.jacobians(t0, t1, slice(0, self.width))
            B = np.sqrt((dc_dx**2).sum(axis=(1, 2)) + (dh_dx**2).sum(axis=(1, 2)))
            nw = -(-m // window)
            J = np.broadcast_to(np.eye(2 * H), (nw * window, 2 * H, 2 * H)).copy()
            J[:m] = L @ self.state_jacobians(t0, t1) @ Li  # padding: the identity
            single = _spectral_norms(J)
            D = np.zeros(nw * window)
            D[:m] = nL * (d[t0:t1] + B * e_in[t0:t1])
            D = D.reshape(nw, window)
            Jw = J.reshape(nw, window, 2 * H, 2 * H)
            prod = Jw[:, 0]
            for k in range(1, window):
                prod = Jw[:, k] @ prod
            rho = _spectral_norms(prod)
            K = np.maximum(single.reshape(nw, window), 1.0).prod(axis=1)
            cum = np.cumsum(D, axis=1)
            starts = np.empty(nw)
            for w in range(nw):
                starts[w] = E
                E = rho[w] * E + K[w] * cum[w, -1]
            out[t0:t1] = nLi * (K[:, None] * (starts[:, None] + cum)).reshape(-1)[:m]
        return out


def _float64_params(model: NamModel) -> dict[str, Any]:
    """The weight stream (NAM_FORMAT §5) in float64: per layer (W, b, h0, c0), the head."""
    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    H = cfg.hidden_size
    stream = np.asarray(model.weights, dtype=np.float64)
    pos = 0
    layers = []
    for layer in range(cfg.num_layers):
        width = cfg.input_size if layer == 0 else H
        n = 4 * H * (width + H)
        W = stream[pos : pos + n].reshape(4 * H, width + H)
        pos += n
        b, h0, c0 = (stream[pos + k : pos + k + m] for k, m in ((0, 4 * H), (4 * H, H),
                                                                  (5 * H, H)))
        pos += 6 * H
        layers.append((W, b, h0, c0))
    head = stream[pos : pos + cfg.out_channels * H].reshape(cfg.out_channels, H)
    bias = stream[pos + cfg.out_channels * H :]
    return {"layers": layers, "head": (head, bias)}


def _trajectory(inp: np.ndarray, w: np.ndarray, b: np.ndarray, h0: np.ndarray,
                c0: np.ndarray) -> tuple[np.ndarray, ...]:
    """One layer's float64 trajectory over inp (T, I): h and c after each step (T, H) and
    the gate pre-activations z (T, 4H). h comes from torch's LSTM in one call, z from it
    in bulk, c by its elementwise recurrence c_t = f_t c_{t-1} + i_t g_t."""
    H = h0.shape[0]
    Wx, Wh = w[:, : w.shape[1] - H], w[:, w.shape[1] - H :]
    lstm = torch.nn.LSTM(inp.shape[1], H, 1, batch_first=True).double().requires_grad_(False)
    lstm.weight_ih_l0.copy_(torch.from_numpy(np.array(Wx)))
    lstm.weight_hh_l0.copy_(torch.from_numpy(np.array(Wh)))
    lstm.bias_ih_l0.copy_(torch.from_numpy(np.array(b)))
    lstm.bias_hh_l0.zero_()
    with torch.no_grad():
        hs, _ = lstm(torch.from_numpy(inp)[None], (torch.from_numpy(np.array(h0))[None, None],
                                                   torch.from_numpy(np.array(c0))[None, None]))
    h = hs[0].numpy()
    z = inp @ Wx.T + np.vstack([h0[None], h[:-1]]) @ Wh.T + b
    zi, zf, zg, _ = np.split(z, 4, axis=1)
    i, f, g = 1 / (1 + np.exp(-zi)), 1 / (1 + np.exp(-zf)), np.tanh(zg)
    ig = i * g
    c = np.empty_like(ig)
    prev = c0
    for t in range(len(c)):
        prev = f[t] * prev + ig[t]
        c[t] = prev
    return h, c, z


class FastLSTM(KernelEngine):
    """An LSTM on the fast engine, built from the model's weight stream."""

    stateful = True  # the output depends on the whole past, not a receptive field

    def __init__(self, model: NamModel, buffer_size: int = DEFAULT_BUFFER,
                 generic: bool = False) -> None:
        """`generic`: always the kernel's general path (for tests: the specialised paths
        must agree with it bit for bit)."""
        super().__init__()
        cfg = model.config
        if not isinstance(cfg, LSTMConfig):
            raise ValueError(f"{model.source}: not an LSTM ({model.architecture})")
        why = _too_large(model)
        if why:
            raise ValueError(f"{model.source}: {why}")
        lib = library()
        self._fn = process_function(lib, "namcheck_lstm_process")
        self._zeros = lib.namcheck_lstm_zeros
        self._zeros.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        self._nb, vw = lib.namcheck_lstm_nb(), lib.namcheck_lstm_vw()
        H, L, ni = cfg.hidden_size, cfg.num_layers, cfg.input_size
        self.hidden, self.layers = H, L
        self.in_channels, self.out_channels = ni, cfg.out_channels
        self.hp = -(-H // vw) * vw
        self.prewarm_samples = lstm_prewarm_samples(model.sample_rate, buffer_size)
        w, b, self._h0, self._c0, whead, bhead = pack_lstm(model, self.hp, vw)
        self._arrays = [w, b, whead, bhead]
        m = _Model()
        m.nin, m.hidden, m.hp, m.nlayers, m.out_ch = ni, H, self.hp, L, cfg.out_channels
        m.generic = int(generic)
        m.w, m.b, m.whead, m.bhead = (pointer(a) for a in self._arrays)
        self._model = m

    def blank_state(self) -> _LSTMState:
        return _LSTMState(self)

    def prewarm(self, state: KernelState) -> None:
        assert isinstance(state, _LSTMState)
        state.h[:], state.c[:] = self._h0, self._c0
        if self.prewarm_samples:
            self._zeros(state._model, state._state, self.prewarm_samples)


class _LSTMState(KernelState):
    def __init__(self, net: FastLSTM) -> None:
        self.h = np.zeros((net.layers, net.hp), dtype=np.float32)
        self.c = np.zeros((net.layers, net.hp), dtype=np.float32)
        self.hs = np.zeros((net.hidden, net._nb + net.hp + 64), dtype=np.float32)
        self._struct = _State(pointer(self.h), pointer(self.c), pointer(self.hs))
        self._fn, self._net = net._fn, net
        self._model = ctypes.addressof(net._model)
        self._state = ctypes.addressof(self._struct)
        self.out_channels = net.out_channels

    def snapshot(self) -> list[np.ndarray]:
        return [self.h.copy(), self.c.copy()]

    def reset(self, warm: list[np.ndarray]) -> None:
        self.h[:], self.c[:] = warm


def pack_lstm(model: NamModel, hp: int, vw: int) -> tuple[np.ndarray, ...]:
    """The weight stream (NAM_FORMAT §5) as lstm.c reads it: per layer, each of the I + H
    columns of W as [hp / vw chunks][i, f, g, o][vw lanes] (hidden unit = chunk * vw +
    lane, zero-padded), the i, f, o rows halved (exact: sigmoid(v) = 1/2 + tanh(v/2)/2 then
    needs no multiply); the bias likewise; h0 and c0 per layer (padded to hp); the head
    (out x H) and its bias."""
    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    H, L, n_out = cfg.hidden_size, cfg.num_layers, cfg.out_channels
    stream = np.asarray(model.weights, dtype=np.float64)
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        if pos + n > stream.size:
            raise ValueError(f"{model.source}: weights: too few for the LSTM config")
        out = stream[pos : pos + n]
        pos += n
        return out

    half = np.array([0.5, 0.5, 1.0, 0.5])[:, None]  # i, f, g, o
    ws, bs = [], []
    h0 = np.zeros((L, hp))
    c0 = np.zeros((L, hp))
    for layer in range(L):
        width = cfg.input_size if layer == 0 else H
        W = take(4 * H * (width + H)).reshape(4 * H, width + H)
        cols = np.zeros((width + H, 4, hp))  # [column][gate][unit]
        cols[:, :, :H] = (W.reshape(4, H, width + H) * half[:, :, None]).transpose(2, 0, 1)
        # -> [column][chunk][gate][lane]
        ws.append(cols.reshape(width + H, 4, hp // vw, vw).transpose(0, 2, 1, 3).reshape(-1))
        bias = np.zeros((4, hp))
        bias[:, :H] = take(4 * H).reshape(4, H) * half
        bs.append(bias.reshape(4, hp // vw, vw).transpose(1, 0, 2).reshape(-1))
        h0[layer, :H] = take(H)
        c0[layer, :H] = take(H)
    whead = take(n_out * H).reshape(n_out, H)
    bhead = take(n_out)
    if pos != stream.size:
        raise ValueError(f"{model.source}: weights: {stream.size - pos} left over for the "
                         "LSTM config")

    def f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    # float32(w / 2) == float32(w) / 2: halving commutes with rounding (barring subnormals)
    return (f32(np.concatenate(ws)), f32(np.concatenate(bs)), f32(h0), f32(c0), f32(whead),
            f32(bhead))


def build(model: NamModel) -> FastLSTM:
    """The fast engine for an LSTM unsupported() accepts (models/engines.py's FAST_ENGINES
    row); FastEngineUnavailableError where the kernel cannot be built here."""
    return FastLSTM(model)


def tolerance(model: NamModel) -> float:
    """The engine's peak-relative error bound at its operating point (`lstm_tolerance`)."""
    return lstm_tolerance(model)
