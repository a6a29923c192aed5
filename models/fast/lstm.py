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

import numpy as np
import torch

from namcheck.models.fast.build import library
from namcheck.models.fast.frontend import KernelEngine, KernelState, pointer, process_function
from namcheck.models.nam_file import LSTMConfig, NamModel
from namcheck.models.numerics import EPS_PER_STAGE, eps
from namcheck.models.recurrent import DEFAULT_BUFFER, lstm_prewarm_samples

MAX_HIDDEN, MAX_INPUT = 1024, 64  # as in lstm.c

_F = ctypes.POINTER(ctypes.c_float)


class _Model(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("nin", "hidden", "hp", "nlayers", "out_ch")] + [
        (n, _F) for n in ("w", "b", "whead", "bhead")]


class _State(ctypes.Structure):
    _fields_ = [("h", _F), ("c", _F), ("hs", _F)]


def unsupported(model: NamModel) -> str | None:
    """Why the fast LSTM cannot run this model, or None."""
    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    if cfg.hidden_size > MAX_HIDDEN:
        return f"hidden_size above {MAX_HIDDEN} is not covered by the fast engine"
    if cfg.input_size > MAX_INPUT:
        return f"input_size above {MAX_INPUT} is not covered by the fast engine"
    return None


def lstm_tolerance(model: NamModel) -> float:
    """Peak-relative bound on |fast - exact| per step of the recurrence (see
    `lstm_error_bound` for the growth through time, which depends on the signal).

    One step of one layer: the gate pre-activations are dot products of n = I + H + 1
    terms in float32 (sqrt(n) u growth, allowed as max(EPS_PER_STAGE, sqrt(n)/2) eps as in
    engine.fast_tolerance), then 5 activations (3 sigmoids, 2 tanh) with the kernel's proven
    absolute error TANH_ERROR_BOUND each, and the cell update's few roundings (within
    EPS_PER_STAGE eps). Layers chain; the head is one more dot product of H + 1 terms."""
    from namcheck.models.fast.engine import TANH_ERROR_BOUND

    cfg = model.config
    assert isinstance(cfg, LSTMConfig)
    e = eps(torch.float32)
    widest = max(cfg.input_size, cfg.hidden_size) + cfg.hidden_size + 1
    dots = max(EPS_PER_STAGE, math.sqrt(widest) / 2) * e
    step = EPS_PER_STAGE * e + dots + 5 * TANH_ERROR_BOUND
    head = max(EPS_PER_STAGE, math.sqrt(cfg.hidden_size + 1) / 2) * e
    return cfg.num_layers * step + head


class FastLSTM(KernelEngine):
    """An LSTM on the fast engine, built from the model's weight stream."""

    stateful = True  # the output depends on the whole past, not a receptive field

    def __init__(self, model: NamModel, buffer_size: int = DEFAULT_BUFFER) -> None:
        super().__init__()
        cfg = model.config
        if not isinstance(cfg, LSTMConfig):
            raise ValueError(f"{model.source}: not an LSTM ({model.architecture})")
        why = unsupported(model)
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
        w, b, self._h0, self._c0, whead, bhead = pack_lstm(model, self.hp)
        self._arrays = [w, b, whead, bhead]
        m = _Model()
        m.nin, m.hidden, m.hp, m.nlayers, m.out_ch = ni, H, self.hp, L, cfg.out_channels
        m.w, m.b, m.whead, m.bhead = (pointer(a) for a in self._arrays)
        self._model = m

    def _new_state(self) -> _LSTMState:
        return _LSTMState(self)

    def _prewarm(self, state: KernelState) -> None:
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


def pack_lstm(model: NamModel, hp: int) -> tuple[np.ndarray, ...]:
    """The weight stream (NAM_FORMAT §5) as lstm.c reads it: per layer, each of the I + H
    columns of W as four gate blocks (i, f, g, o) of hp lanes, zero-padded, the i, f, o
    rows halved (exact: sigmoid(v) = 1/2 + tanh(v/2)/2 then needs no multiply); the bias
    likewise; h0 and c0 per layer (padded to hp); the head (out x H) and its bias."""
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
        cols = np.zeros((width + H, 4, hp))
        cols[:, :, :H] = (W.reshape(4, H, width + H) * half[:, :, None]).transpose(2, 0, 1)
        ws.append(cols.reshape(-1))
        bias = np.zeros((4, hp))
        bias[:, :H] = take(4 * H).reshape(4, H) * half
        bs.append(bias.reshape(-1))
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
