"""The fast WaveNet engine: the C kernel in `wavenet.c` behind the reference's interface.

`FastWaveNet(x)` and `.stream(batch).process(block)` behave like a reference `NamModule`
(NumPy in, float64 NumPy out; torch in, torch out), in float32 on the CPU. It covers
WaveNets without FiLM, grouped convs, a condition DSP or a post-head, with every activation
but SiLU, any gating. What it does not cover is stated by `unsupported()` and the loader
falls back to the reference. It is a second implementation: tests/test_fast_engine.py
checks it against the float64 reference within `fast_tolerance()`.
"""

from __future__ import annotations

import ctypes
import functools
import math
from typing import Any

import numpy as np
import torch

from namcheck.models.fast.build import library
from namcheck.models.format import NamModel
from namcheck.models.format.activations import ActivationSpec
from namcheck.models.format.layout import ArraySpec, WaveNetSpec, wavenet_spec
from namcheck.models.format.schema import WaveNetConfig
from namcheck.models.numerics import EPS_PER_STAGE, chain_depth, eps

MAX_TAPS, MAX_ROWS, MAX_COND = 2048, 1024, 64  # as in wavenet.c

# Worst absolute error of the kernel's float32 tanh over every float32 input, measured
# exhaustively by tests/test_fast_engine.py::test_tanh_bound_every_float32 (which fails if
# the kernel's tanh ever exceeds it). Sigmoid = (1 + tanh(x/2)) / 2 errs by half of it plus
# one rounding (2^-24; tests/test_fast_engine.py::test_sigmoid_bound).
TANH_ERROR_BOUND = 4e-7

# Buffer room, in sub-blocks, past each layer's history: larger moves the history back
# less often, smaller keeps the live rows in cache (benchmarks/test_bench_fast.py).
HEADROOM = 8

_ACT_IDS = {"Tanh": 1, "Fasttanh": 2, "ReLU": 3, "LeakyReLU": 4, "Hardtanh": 5,
            "LeakyHardtanh": 6, "Sigmoid": 7, "Softsign": 8, "Hardswish": 9, "PReLU": 10}
_GATING = {"none": 0, "gated": 1, "blended": 2}
_F = ctypes.POINTER(ctypes.c_float)


class _Act(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32), ("p", ctypes.c_float * 4), ("slopes", _F)]


class _Layer(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in
                ("cin", "z", "b", "k", "d", "dc", "gating", "has_l1", "h1", "has_h1")] + [
        ("act", _Act), ("sec", _Act)] + [(n, _F) for n in
                                         ("wc", "bc", "wm", "w1", "b1", "wh", "bh")]


class _Array(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("nin", "c", "nlayers", "h1", "hout", "hk", "hd")
                ] + [("layers", ctypes.POINTER(_Layer)), ("wr", _F), ("whr", _F), ("bhr", _F)]


class _Model(ctypes.Structure):
    _fields_ = [("narrays", ctypes.c_int32), ("in_ch", ctypes.c_int32),
                ("out_ch", ctypes.c_int32), ("head_scale", ctypes.c_float),
                ("arrays", ctypes.POINTER(_Array))]


class _Buf(ctypes.Structure):
    _fields_ = [("data", _F)] + [(n, ctypes.c_int32) for n in ("rows", "len", "ctx", "pos")]


class _State(ctypes.Structure):
    _fields_ = [("layer_in", ctypes.POINTER(_Buf)), ("head", ctypes.POINTER(_Buf))] + [
        (n, _F) for n in ("xin", "res", "y", "zs", "hout", "zero_row")]


def unsupported(model: NamModel) -> str | None:
    """Why the fast engine cannot run this model exactly as the reference does, or None."""
    cfg = model.config
    if model.submodels:
        return None  # decided per selected submodel by the loader
    if not isinstance(cfg, WaveNetConfig):
        return f"the fast engine covers WaveNet only, not {model.architecture}"
    if model.condition_dsp is not None:
        return "condition_dsp is not covered by the fast engine"
    spec = wavenet_spec(cfg)
    if spec.post_head:
        return "a post-head (config.head) is not covered by the fast engine"
    if spec.in_channels > MAX_COND:
        return f"in_channels above {MAX_COND} are not covered by the fast engine"
    for a, array in enumerate(spec.arrays):
        why = _array_unsupported(array)
        if a and array.head_width != spec.arrays[a - 1].head_rechannel.cout:
            why = "its head width differs from the previous array's head output"
        if why:
            return f"config.layers[{a}]: {why}"
    return None


def _array_unsupported(array: ArraySpec) -> str | None:
    if array.head_rechannel.cin * array.head_rechannel.kernel > MAX_TAPS:
        return "head kernel x width too large for the fast engine"
    for layer in array.layers:
        if layer.films:
            return "FiLM is not covered by the fast engine"
        convs = [layer.conv, layer.mixer, layer.layer1x1, layer.head1x1]
        if any(c is not None and c.groups != 1 for c in convs):
            return "grouped convolutions are not covered by the fast engine"
        if layer.conv.cin * layer.conv.kernel > MAX_TAPS or layer.conv.cin > MAX_ROWS \
                or max(layer.conv.cout, array.head_width, array.head_rechannel.cout) > MAX_ROWS \
                or layer.mixer.cin > MAX_COND:
            return "layer too wide for the fast engine"
        for act in (layer.activation, layer.secondary):
            if act.name not in _ACT_IDS:
                return f"activation {act.name} is not covered by the fast engine"
            if act.slopes is not None and len(act.slopes) not in (1, layer.bottleneck):
                return "PReLU negative_slopes of another length than the bottleneck"
    return None


def activation(spec: ActivationSpec, x: np.ndarray, row: int = 0) -> np.ndarray:
    """The kernel's activation `spec` applied to float32 values (for tests and bounds)."""
    lib = library()
    lib.namcheck_activation.argtypes = [ctypes.POINTER(_Act), ctypes.c_int, _F, _F,
                                        ctypes.c_int64]
    keep: list[Any] = []
    act = _act(spec, row + 1, keep)
    xs = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(xs)
    lib.namcheck_activation(ctypes.byref(act), row, xs.ctypes.data_as(_F), y.ctypes.data_as(_F),
                            xs.size)
    return y


def fast_tolerance(model: NamModel) -> float:
    """Peak-relative bound on |fast - exact| for a model the engine covers.

    Per stage (numerics.py's stages): the reference's float32 allowance (EPS_PER_STAGE eps)
    for the activation, adds and small 1x1s; plus the kernel's dot products, which are
    sequential FMA chains of up to n = K*C + Dc terms (BLAS blocks them instead): their
    rounding grows as sqrt(n) u (u = eps/2), allowed as max(EPS_PER_STAGE, sqrt(n)/2) eps,
    i.e. 8 eps up to n = 256; plus the tanh approximation's absolute error (activations are
    O(1) where it matters), TANH_ERROR_BOUND."""
    e = eps(torch.float32)
    widest = 1
    if isinstance(model.config, WaveNetConfig):
        spec = wavenet_spec(model.config)
        widest = max(ls.conv.cin * ls.conv.kernel + ls.mixer.cin
                     for a in spec.arrays for ls in a.layers)
        widest = max([widest] + [a.head_rechannel.cin * a.head_rechannel.kernel
                                 for a in spec.arrays])
    dots = max(EPS_PER_STAGE, math.sqrt(widest) / 2) * e
    return chain_depth(model) * (EPS_PER_STAGE * e + dots + TANH_ERROR_BOUND)


def _pack(weight: torch.Tensor) -> np.ndarray:
    """(O, I, K) conv weight -> [ceil(O/8)][K*I][8] float32, tap j = k*I + i, zero-padded."""
    w = weight.detach().double().cpu().numpy()
    rows, width, taps = w.shape
    tiles = -(-rows // 8)
    padded = np.zeros((tiles * 8, width, taps))
    padded[:rows] = w
    # [tile, o8, i, k] -> [tile, k, i, o8]
    packed = padded.reshape(tiles, 8, width, taps).transpose(0, 3, 2, 1).reshape(
        tiles, taps * width, 8)
    return np.ascontiguousarray(packed, dtype=np.float32)


def _bias(bias: torch.Tensor | None, rows: int) -> np.ndarray:
    out = np.zeros(-(-rows // 8) * 8 + 8, dtype=np.float32)
    if bias is not None:
        out[:rows] = bias.detach().double().cpu().numpy()
    return out


def _act(spec: ActivationSpec, rows: int, keep: list[Any]) -> _Act:
    act = _Act()
    act.id = _ACT_IDS[spec.name]
    params = dict(spec.params)
    if spec.name in ("LeakyReLU", "PReLU"):
        act.p[0] = params["negative_slope"]
    elif spec.name == "LeakyHardtanh":
        for i, k in enumerate(("min_val", "max_val", "min_slope", "max_slope")):
            act.p[i] = params[k]
    if spec.slopes is not None and len(spec.slopes) == 1:
        act.p[0] = spec.slopes[0]
    elif spec.slopes is not None:  # one slope per row
        slopes = np.zeros(max(rows, len(spec.slopes)) + 8, dtype=np.float32)
        slopes[: len(spec.slopes)] = spec.slopes
        keep.append(slopes)
        act.slopes = slopes.ctypes.data_as(_F)
    return act


class FastWaveNet:
    """A WaveNet on the fast engine, built from the reference module's tensors."""

    name = "fast"  # the Engine protocol (models/engines.py)
    stateful = False
    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, reference: Any, spec: WaveNetSpec) -> None:
        self._lib = library()
        self._lib.namcheck_wavenet_process.argtypes = [
            ctypes.POINTER(_Model), ctypes.POINTER(_State), ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_int64]
        self.spec = spec
        self.receptive_field = int(reference.receptive_field)
        self.out_channels = int(reference.out_channels)
        self.in_channels = spec.in_channels
        keep: list[Any] = []
        self._keep = keep

        def ptr(a: np.ndarray) -> Any:
            keep.append(a)
            return a.ctypes.data_as(_F)

        arrays = (_Array * len(spec.arrays))()
        for a, (aspec, amod) in enumerate(zip(spec.arrays, reference.arrays, strict=True)):
            layers = (_Layer * len(aspec.layers))()
            for i, (ls, lm) in enumerate(zip(aspec.layers, amod.layers, strict=True)):
                L = layers[i]
                L.cin, L.z, L.b = ls.conv.cin, ls.conv.cout, ls.bottleneck
                L.k, L.d, L.dc = ls.conv.kernel, ls.conv.dilation, ls.mixer.cin
                L.gating = _GATING[ls.gating]
                L.act = _act(ls.activation, ls.bottleneck, keep)
                L.sec = _act(ls.secondary, ls.bottleneck, keep)
                L.wc, L.bc = ptr(_pack(lm.conv.weight)), ptr(_bias(lm.conv.bias, ls.conv.cout))
                L.wm = ptr(_pack(lm.mixer.weight))
                L.has_l1 = int(lm.layer1x1 is not None)
                if lm.layer1x1 is not None:
                    L.w1 = ptr(_pack(lm.layer1x1.weight))
                    L.b1 = ptr(_bias(lm.layer1x1.bias, ls.conv.cin))
                L.has_h1 = int(lm.head1x1 is not None)
                L.h1 = aspec.head_width
                if lm.head1x1 is not None:
                    L.wh = ptr(_pack(lm.head1x1.weight))
                    L.bh = ptr(_bias(lm.head1x1.bias, aspec.head_width))
            keep.append(layers)
            A = arrays[a]
            A.nin, A.c, A.nlayers = aspec.rechannel.cin, aspec.rechannel.cout, len(aspec.layers)
            A.h1, A.hout = aspec.head_width, aspec.head_rechannel.cout
            A.hk, A.hd = aspec.head_rechannel.kernel, aspec.head_rechannel.dilation
            A.layers = ctypes.cast(layers, ctypes.POINTER(_Layer))
            A.wr = ptr(_pack(amod.rechannel.weight))
            A.whr = ptr(_pack(amod.head_rechannel.weight))
            A.bhr = ptr(_bias(amod.head_rechannel.bias, aspec.head_rechannel.cout))
        keep.append(arrays)
        model = _Model()
        model.narrays, model.in_ch, model.out_ch = len(spec.arrays), spec.in_channels, \
            self.out_channels
        model.head_scale = float(reference.head_scale)
        model.arrays = ctypes.cast(arrays, ctypes.POINTER(_Array))
        self._model = model
        self._warm: list[np.ndarray] | None = None
        self._spare: list[_FastState] = []

    def _buffers(self, warm: list[np.ndarray] | None = None
                  ) -> tuple[Any, list[Any], list[np.ndarray]]:
        """A state: zero (not yet prewarmed), or starting from `warm`'s histories (the last
        ctx samples of each buffer); returns it, every array it points into, and its
        history buffers (in `warm`'s order)."""
        keep: list[Any] = []
        histories: list[np.ndarray] = []
        spec = self.spec

        nb, vw = self._lib.namcheck_wavenet_nb(), self._lib.namcheck_wavenet_vw()

        def buf(rows: int, ctx: int) -> _Buf:
            # history, then room for HEADROOM blocks before the history is moved back
            b = _Buf()
            length = ctx + HEADROOM * nb + nb + 2 * vw
            data = np.zeros((rows, length), dtype=np.float32)
            if warm is not None:  # the prewarmed history: the last ctx samples
                data[:, :ctx] = warm[len(histories)]
            keep.append(data)
            histories.append(data)
            b.data, b.rows, b.len, b.ctx, b.pos = data.ctypes.data_as(_F), rows, length, ctx, ctx
            return b

        layer_bufs = [buf(ls.conv.cin, ls.conv.context) for a in spec.arrays for ls in a.layers]
        head_bufs = [buf(a.head_width, a.head_rechannel.context) for a in spec.arrays]
        lb = (_Buf * len(layer_bufs))(*layer_bufs)
        hb = (_Buf * len(head_bufs))(*head_bufs)
        widest = max([spec.in_channels] + [a.rechannel.cout for a in spec.arrays]
                     + [ls.conv.cout for a in spec.arrays for ls in a.layers]
                     + [a.head_rechannel.cout for a in spec.arrays])

        def scratch() -> Any:
            rows = np.zeros((widest + 8, nb + vw), dtype=np.float32)
            keep.append(rows)
            return rows.ctypes.data_as(_F)

        state = _State()
        state.layer_in, state.head = lb, hb
        state.xin, state.res, state.y, state.zs, state.hout = (scratch() for _ in range(5))
        state.zero_row = scratch()
        keep += [lb, hb]
        return state, keep, histories

    def new_state(self) -> _FastState:
        """A state with the runtime's prewarm: R-1 zeros already through the model. The
        prewarmed histories are computed once per model and copied for every new state."""
        if self._warm is not None:
            return _FastState(self, self._warm)
        state = _FastState(self)
        pad = self.receptive_field - 1
        if pad:
            state.run(np.zeros((self.in_channels, pad), dtype=np.float32))
        self._warm = state.snapshot()
        return state

    def _run_fresh(self, x: np.ndarray) -> np.ndarray:
        """One signal from the prewarmed state. A state whose run is over is kept and reset
        for the next call: fresh buffers would cost their first-touch page faults (about
        10% of a 1 s A1 forward)."""
        state = self._spare.pop() if self._spare else None
        if state is None:
            state = self.new_state()
        else:
            assert self._warm is not None
            state.reset(self._warm)
        try:
            return state.run(x)
        finally:
            self._spare.append(state)

    def __call__(self, x: torch.Tensor | np.ndarray) -> Any:
        """forward(): (N,) or (B, N) in; the same shape out (NumPy: float32 for float32 in,
        else float64)."""
        as_numpy = isinstance(x, np.ndarray)
        xs = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x,
                        dtype=np.float32)
        if xs.ndim not in (1, 2):
            raise ValueError(f"expected (N,) or (B, N) mono samples, got shape {xs.shape}")
        rows = xs[None] if xs.ndim == 1 else xs
        ys = np.stack([self._run_fresh(r[None]) for r in rows])
        y = ys[:, 0, :] if self.out_channels == 1 else ys
        y = y[0] if xs.ndim == 1 else y
        return _numpy_out(y, x.dtype) if as_numpy else torch.from_numpy(y)

    def stream(self, batch: int = 1, compile: bool = False) -> FastStreamer:
        """Block-by-block processing with state kept between calls (compile is ignored:
        the kernel is always compiled)."""
        return FastStreamer(self, batch)


class _FastState:
    """One signal's buffers in the kernel, continued call after call."""

    def __init__(self, net: FastWaveNet, warm: list[np.ndarray] | None = None) -> None:
        self.net = net
        self.state, self._keep, self._histories = net._buffers(warm)
        self._process = functools.partial(net._lib.namcheck_wavenet_process,
                                           ctypes.byref(net._model), ctypes.byref(self.state))
        self._out_channels = net.out_channels

    def _bufs(self) -> list[Any]:
        """The kernel's buffer descriptors, in the order of `_histories`."""
        n_layers = sum(len(a.layers) for a in self.net.spec.arrays)
        return [self.state.layer_in[i] for i in range(n_layers)] + [
            self.state.head[i] for i in range(len(self.net.spec.arrays))]

    def snapshot(self) -> list[np.ndarray]:
        """Copies of every buffer's history, its last ctx samples (layers in order, then
        heads): all a later state needs to continue from here."""
        return [h[:, b.pos - b.ctx : b.pos].copy()
                for h, b in zip(self._histories, self._bufs(), strict=True)]

    def reset(self, warm: list[np.ndarray]) -> None:
        """Back to the prewarmed state `warm` (from snapshot()), in place."""
        for data, b, history in zip(self._histories, self._bufs(), warm, strict=True):
            data[:, : b.ctx] = history
            b.pos = b.ctx

    def run(self, x: np.ndarray) -> np.ndarray:
        """(in_ch, n) float32 -> (out_ch, n) float32, continuing the state."""
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[-1]
        out = np.empty((self._out_channels, n), dtype=np.float32)
        if n:
            self._process(x.ctypes.data, out.ctypes.data, n)
        return out


class FastStreamer:
    """Consecutive blocks through a FastWaveNet; the concatenation equals its forward."""

    def __init__(self, net: FastWaveNet, batch: int = 1) -> None:
        self.net, self.batch = net, batch
        self.states = [net.new_state() for _ in range(batch)]

    def process(self, block: torch.Tensor | np.ndarray) -> Any:
        """The next block's output ((N,) or (B, N); NumPy in, NumPy out, float32 for float32
        in, else float64; torch in, float32 torch out)."""
        as_numpy = isinstance(block, np.ndarray)
        if self.batch == 1 and block.ndim == 1 and self.net.out_channels == 1:  # the hot path
            xs = block.numpy() if not as_numpy else block  # type: ignore[union-attr]
            y = self.states[0].run(xs.reshape(1, -1))[0]
            return _numpy_out(y, xs.dtype) if as_numpy else torch.from_numpy(y)
        xs = np.asarray(block.detach().cpu().numpy() if isinstance(block, torch.Tensor)
                        else block, dtype=np.float32)
        rows = xs[None] if xs.ndim == 1 else xs
        if rows.shape[0] != self.batch:
            raise ValueError(f"this stream was opened for batch {self.batch}, got "
                             f"{rows.shape[0]}")
        ys = np.stack([s.run(r[None]) for s, r in zip(self.states, rows, strict=True)])
        y = ys[:, 0, :] if self.net.out_channels == 1 else ys
        y = y[0] if xs.ndim == 1 else y
        return _numpy_out(y, block.dtype) if as_numpy else torch.from_numpy(y)


def _numpy_out(y: np.ndarray, like: Any) -> np.ndarray:
    """The Engine protocol's NumPy output: float32 for float32 input, float64 otherwise."""
    return y if like == np.float32 else y.astype(np.float64)
