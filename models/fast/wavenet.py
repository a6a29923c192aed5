"""The fast WaveNet: the C kernel in `wavenet.c`, built from the parsed model's weight layout.

`build(model)` packs every tensor of the model's flat weight list (models/layout.py's
`wavenet_spec` order, read by `split_weights`) for the kernel; no reference module is
built. It covers every WaveNet option the format defines (NAM_FORMAT §3): any activation,
gating, grouped convolutions, every FiLM slot with or without shift, head1x1, head kernels,
a post-stack head, several inputs, and a condition DSP run on its own fast engine (any
architecture models/engines.py has one for). `unsupported()` says why a model cannot run
here, and the loader falls back to the reference. It is a second implementation:
tests/test_fast_engine.py checks it against the float64 reference within `tolerance()`.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from namcheck.models.fast.activations import (
    SILU_ERROR_BOUND,
    TANH_ERROR_BOUND,
    Act,
    covered,
    make_act,
)
from namcheck.models.fast.build import FastEngineUnavailableError, library
from namcheck.models.fast.engine import FastEngine, FastState
from namcheck.models.format import NamModel
from namcheck.models.format.activations import ActivationSpec
from namcheck.models.format.layout import ConvSpec, WaveNetSpec, split_weights, wavenet_spec
from namcheck.models.format.schema import WaveNetConfig
from namcheck.models.numerics import EPS_PER_STAGE, eps

# Buffer room, in sub-blocks, past each layer's history: larger moves the history back
# less often, smaller keeps the state in cache (2 and 4 measured alike for A1 standard, 8
# and 40 slower).
HEADROOM = 2
FILM_ORDER = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film",
              "input_mixin_post_film", "activation_pre_film", "activation_post_film",
              "layer1x1_post_film", "head1x1_post_film")  # the kernel's F_* order
GATING = {"none": 0, "gated": 1, "blended": 2}
N_SCRATCH = 13  # the kernel's NSCRATCH
S_XIN = 0
F32P = ctypes.POINTER(ctypes.c_float)
I32P = ctypes.POINTER(ctypes.c_int32)


class _Conv(ctypes.Structure):
    _fields_ = [("ntiles", ctypes.c_int32), ("kin", ctypes.c_int32), ("w", F32P),
                ("bias", F32P), ("tile", I32P)]


class _Film(ctypes.Structure):
    _fields_ = [("conv", _Conv), ("dim", ctypes.c_int32), ("shift", ctypes.c_int32)]


class _Layer(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("cin", "z", "b", "k", "d", "groups", "dc",
                                              "gating", "h1", "nfilm", "tin")] + [
        ("act", Act), ("sec", Act), ("conv", _Conv), ("mixer", _Conv), ("fused", _Conv),
        ("l1x1", _Conv), ("h1x1", _Conv), ("film", _Film * len(FILM_ORDER))]


class _Array(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("nin", "c", "nlayers", "h1", "hout", "hk", "hd",
                                              "composed")] + [
        ("layers", ctypes.POINTER(_Layer)), ("rechannel", _Conv), ("head", _Conv)]


class _Post(ctypes.Structure):
    _fields_ = [("conv", _Conv), ("cin", ctypes.c_int32), ("k", ctypes.c_int32)]


class _Model(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("narrays", "in_ch", "out_ch", "cond_ch", "npost")
                ] + [("head_scale", ctypes.c_float), ("arrays", ctypes.POINTER(_Array)),
                     ("post", ctypes.POINTER(_Post)), ("post_act", Act)]


class _Buf(ctypes.Structure):
    _fields_ = [("data", F32P)] + [(n, ctypes.c_int32) for n in ("rows", "len", "ctx", "pos")]


class _State(ctypes.Structure):
    _fields_ = [("layer_in", ctypes.POINTER(_Buf)), ("head", ctypes.POINTER(_Buf)),
                ("post", ctypes.POINTER(_Buf)), ("rows", ctypes.POINTER(F32P) * N_SCRATCH),
                ("ptrs", ctypes.c_void_p), ("maxp", ctypes.c_int32)]


# ---- what the engine covers, and how exactly ---------------------------------------------

def unsupported(model: NamModel) -> str | None:
    """Why the fast engine cannot run this WaveNet exactly as the reference does, or None."""
    from namcheck.models.engines import fast_model_unsupported, selected_model

    cfg = model.config
    if not isinstance(cfg, WaveNetConfig):
        return f"not a WaveNet: {model.architecture}"
    if model.condition_dsp is not None:
        why = fast_model_unsupported(selected_model(model.condition_dsp, None))
        if why:
            return f"condition_dsp: {why}"
    spec = wavenet_spec(cfg)
    for a, array in enumerate(spec.arrays):
        for layer in array.layers:
            for act in (layer.activation, layer.secondary):
                if not covered(act):
                    return f"config.layers[{a}]: activation {act.name} is not covered"
    act = spec.post_head_activation
    if act is not None:
        if not covered(act):
            return f"config.head: activation {act.name} is not covered"
        if act.slopes is not None and len(act.slopes) > 1 and any(
                c.cin != len(act.slopes) for c in spec.post_head):
            return "config.head: PReLU negative_slopes of another length than a conv's input"
    return None


def _dot_length(spec: WaveNetSpec) -> int:
    """Terms of the longest dot product the kernel sums (a conv and its fused mixer)."""
    widest = 1
    for array in spec.arrays:
        convs = [array.rechannel, array.head_rechannel]
        for ls in array.layers:
            widest = max(widest, _taps(ls.conv) + _taps(ls.mixer))
            convs += [c for c in (ls.layer1x1, ls.head1x1) if c is not None]
            convs += [f.conv for f in ls.films.values()]
        widest = max([widest] + [_taps(c) for c in convs])
    return max([widest] + [_taps(c) for c in spec.post_head])


def _taps(conv: ConvSpec) -> int:
    return conv.cin // conv.groups * conv.kernel


def _depth(spec: WaveNetSpec) -> int:
    """Rounding stages on the deepest path (numerics.chain_depth's count for the stack),
    plus one per FiLM the kernel applies: each is a dot product of the condition, a
    multiply and an add on the path it modulates."""
    depth = sum(len(a.layers) + 2 for a in spec.arrays) + len(spec.post_head)
    for array in spec.arrays:
        for ls in array.layers:
            depth += sum(1 for slot in ls.films
                         if slot != "layer1x1_post_film" or ls.gating == "blended")
    return depth


def _activation_error(spec: WaveNetSpec) -> float:
    """Largest error an approximated activation adds, at the O(1) scale of the signals:
    tanh's (and sigmoid's, below it) absolute bound; SiLU's is relative to its input."""
    acts = [a for arr in spec.arrays for ls in arr.layers for a in (ls.activation, ls.secondary)]
    if spec.post_head_activation is not None:
        acts.append(spec.post_head_activation)
    names = {a.name for a in acts}
    err = TANH_ERROR_BOUND if names & {"Tanh", "Sigmoid", "SiLU"} else 0.0
    return max(err, SILU_ERROR_BOUND if "SiLU" in names else 0.0)


def tolerance(model: NamModel) -> float:
    """Peak-relative bound on |fast - exact| for a model the engine covers.

    Per stage (numerics.py's stages, plus one per FiLM): the reference's float32 allowance
    (EPS_PER_STAGE eps) for the activation, adds and small 1x1s; plus the kernel's dot
    products, which are sequential FMA chains of up to n terms (the longest conv with its
    fused mixer; BLAS blocks them instead): their rounding grows as sqrt(n) u (u = eps/2),
    allowed as max(EPS_PER_STAGE, sqrt(n)/2) eps, i.e. 8 eps up to n = 256; plus the
    approximated activations' proven bounds (tanh, sigmoid, SiLU). A condition DSP adds its
    own engine's bound: its output is the condition every layer reads."""
    from namcheck.models.engines import fast_model_tolerance, selected_model

    assert isinstance(model.config, WaveNetConfig)
    spec = wavenet_spec(model.config)
    e = eps(torch.float32)
    dots = max(EPS_PER_STAGE, math.sqrt(_dot_length(spec)) / 2) * e
    bound = _depth(spec) * (EPS_PER_STAGE * e + dots + _activation_error(spec))
    if model.condition_dsp is not None:
        bound += fast_model_tolerance(selected_model(model.condition_dsp, None))
    return bound


def build(model: NamModel) -> FastWaveNet:
    """The fast engine for a WaveNet unsupported() accepts; FastEngineUnavailableError
    where the kernel cannot be built here (or the condition DSP's engine cannot)."""
    return FastWaveNet(model)


# ---- packing the weights for the kernel --------------------------------------------------

class _Packer:
    """Kernel structures from weight arrays; keeps every array they point into alive."""

    def __init__(self) -> None:
        self.keep: list[Any] = []

    def f32(self, a: np.ndarray) -> Any:
        a = np.ascontiguousarray(a, dtype=np.float32)
        self.keep.append(a)
        return a.ctypes.data_as(F32P)

    def conv(self, spec: ConvSpec, w: np.ndarray, bias: np.ndarray | None) -> _Conv:
        """A conv as tiles of <= 8 output rows, each within one group, so no weight of
        another group is multiplied in (its taps: the group's inputs x kernel taps,
        j = k * (cin/groups) + i)."""
        out, gin, kernel = w.shape
        go = out // spec.groups
        rows = [(g * go + s, min(8, go - s)) for g in range(spec.groups) for s in range(0, go, 8)]
        tiles = []
        packed = np.zeros((len(rows), kernel * gin, 8))
        for t, (row0, n) in enumerate(rows):
            tiles.append((row0, n, row0 // go * kernel * gin))
            packed[t, :, :n] = w[row0 : row0 + n].transpose(2, 1, 0).reshape(kernel * gin, n)
        c = _Conv()
        c.ntiles, c.kin = len(rows), kernel * gin
        c.w = self.f32(packed)
        if bias is not None:
            padded = np.zeros(out + 16)
            padded[:out] = bias
            c.bias = self.f32(padded)
        table = np.ascontiguousarray(np.array(tiles, dtype=np.int32).reshape(-1))
        self.keep.append(table)
        c.tile = table.ctypes.data_as(I32P)
        return c

    def act(self, spec: ActivationSpec | None, rows: int) -> Act:
        return make_act(spec, rows, self.keep)


def composed_first(spec: WaveNetSpec, a: int) -> bool:
    """Whether array `a`'s first layer conv is composed with the array's rechannel: the
    rechannel reads one input row (as every array 0 of a mono model does) and the conv can
    take the product (groups 1, no FiLM, which would act between the two). Its conv then
    reads K taps of that input (the kernel's Array.composed), a C-th of the work; the
    rechannel's output is only the residual's input."""
    aspec = spec.arrays[a]
    first = aspec.layers[0]
    return (aspec.rechannel.cin == 1 and aspec.rechannel.kernel == 1
            and not aspec.rechannel.bias and first.conv.groups == 1
            and first.mixer.groups == 1 and not first.films)


def _pack_model(model: NamModel, spec: WaveNetSpec, cond_ch: int, p: _Packer,
                composed: list[bool]) -> _Model:
    """The kernel's Model for `model`, consuming its weights in the runtime's order;
    composed[a]: array a's first conv composed with its rechannel (composed_first)."""
    stream = split_weights(spec.tensors(), model.weights)

    def take(expected: ConvSpec) -> _Conv:
        got, w, b = next(stream)
        assert got is expected
        return p.conv(got, w, b)

    arrays = (_Array * len(spec.arrays))()
    for a, aspec in enumerate(spec.arrays):
        A = arrays[a]
        got, rw, rb = next(stream)
        assert got is aspec.rechannel
        A.rechannel, A.composed = p.conv(got, rw, rb), int(composed[a])
        layers = (_Layer * len(aspec.layers))()
        for i, ls in enumerate(aspec.layers):
            L = layers[i]
            L.cin, L.z, L.b = ls.conv.cin, ls.conv.cout, ls.bottleneck
            L.tin = ls.conv.cin
            L.k, L.d, L.groups, L.dc = ls.conv.kernel, ls.conv.dilation, ls.conv.groups, \
                ls.mixer.cin
            L.gating, L.h1 = GATING[ls.gating], aspec.head_width
            L.act, L.sec = p.act(ls.activation, ls.bottleneck), p.act(ls.secondary, ls.bottleneck)
            cspec, cw, cb = next(stream)
            mspec, mw, _ = next(stream)
            assert cspec is ls.conv and mspec is ls.mixer
            L.conv, L.mixer = p.conv(cspec, cw, cb), p.conv(mspec, mw, None)
            if cspec.groups == 1 and mspec.groups == 1:
                # one dot product per output: the conv's taps, then the mixer's inputs
                taps = cw.transpose(0, 2, 1).reshape(cspec.cout, -1)
                if i == 0 and composed[a]:
                    # conv(R u) = sum_k (W_k R) u(t - (K-1-k) d): K taps of the input, not
                    # K C taps of its rechannel (weights composed in float64, rounded once)
                    taps = np.einsum("ock,c->ok", cw.astype(np.float64), rw[:, 0, 0])
                    L.tin = 1
                joined = np.concatenate([taps, mw[:, :, 0]], axis=1)
                L.fused = p.conv(ConvSpec(joined.shape[1], cspec.cout), joined[:, :, None], cb)
            if ls.layer1x1 is not None:
                L.l1x1 = take(ls.layer1x1)
            if ls.head1x1 is not None:
                L.h1x1 = take(ls.head1x1)
            for slot, fspec in ls.films.items():
                conv = take(fspec.conv)
                # The runtime applies layer1x1_post_film only in blended layers (NAM_FORMAT
                # §8.2); elsewhere its weights are read and unused.
                if slot == "layer1x1_post_film" and ls.gating != "blended":
                    continue
                F = L.film[FILM_ORDER.index(slot)]
                F.conv, F.dim, F.shift = conv, fspec.dim, int(fspec.shift)
                L.nfilm += 1
        p.keep.append(layers)
        A.nin, A.c, A.nlayers = aspec.rechannel.cin, aspec.rechannel.cout, len(aspec.layers)
        A.h1, A.hout = aspec.head_width, aspec.head_rechannel.cout
        A.hk, A.hd = aspec.head_rechannel.kernel, aspec.head_rechannel.dilation
        A.layers = ctypes.cast(layers, ctypes.POINTER(_Layer))
        A.head = take(aspec.head_rechannel)
    posts = (_Post * max(1, len(spec.post_head)))()
    for i, cspec in enumerate(spec.post_head):
        posts[i].conv, posts[i].cin, posts[i].k = take(cspec), cspec.cin, cspec.kernel
    p.keep += [arrays, posts]
    m = _Model()
    m.narrays, m.in_ch, m.out_ch = len(spec.arrays), spec.in_channels, spec.out_channels
    m.cond_ch, m.npost = cond_ch, len(spec.post_head)
    m.head_scale = float(np.float32(model.weights[-1]))  # the runtime reads the last weight
    m.arrays = ctypes.cast(arrays, ctypes.POINTER(_Array))
    m.post = ctypes.cast(posts, ctypes.POINTER(_Post))
    widest_post = max([1] + [c.cin for c in spec.post_head])
    m.post_act = p.act(spec.post_head_activation, widest_post)
    return m


# ---- the engine ---------------------------------------------------------------------------

class NativeDsp(NamedTuple):
    """driver.c's namcheck_stream_blocks_dsp arguments: the condition DSP's process function,
    whether it is wavenet.c's (it takes a NULL condition), its model and state addresses;
    the WaveNet's; and the condition's rows."""

    dsp_fn: Any
    dsp_cond: bool
    dsp_model: int
    dsp_state: int
    fn: Any
    model: int
    state: int
    rows: int


class FastWaveNet(FastEngine):
    """A WaveNet on the fast engine, built from the parsed model (see the module docstring)."""

    def __init__(self, model: NamModel) -> None:
        super().__init__()
        cfg = model.config
        assert isinstance(cfg, WaveNetConfig)
        lib = library()
        fn = lib.namcheck_wavenet_process
        fn.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int64]
        fn.restype = ctypes.c_int
        self._process = fn
        self._nb, self._vw = lib.namcheck_wavenet_nb(), lib.namcheck_wavenet_vw()
        self.spec = spec = wavenet_spec(cfg)
        self.dsp: FastEngine | None = None
        if model.condition_dsp is not None:
            self.dsp = _nested_engine(model.condition_dsp, spec.in_channels)
            self.stateful = bool(self.dsp.stateful)
        cond_ch = self.dsp.out_channels if self.dsp is not None else 0
        self._packer = _Packer()
        # per array: its first conv composed with its rechannel (the state's first buffer
        # then holds the array's input row)
        self.composed = [composed_first(spec, a) for a in range(len(spec.arrays))]
        self._model = _pack_model(model, spec, cond_ch, self._packer, self.composed)
        self._model_ptr = ctypes.addressof(self._model)
        self.in_channels, self.out_channels = spec.in_channels, spec.out_channels
        self.receptive_field = spec.receptive_field + (
            self.dsp.receptive_field - 1 if self.dsp is not None else 0)
        conds = [la.condition_size for la in cfg.layers]
        films = [2 * f.dim if f.shift else f.dim for a in spec.arrays for ls in a.layers
                 for f in ls.films.values()]
        self._widest = max([spec.in_channels, cond_ch, spec.out_channels, *conds, *films]
                           + [n for a in spec.arrays for n in (a.rechannel.cout, a.head_width,
                                                               a.head_rechannel.cout)]
                           + [n for a in spec.arrays for ls in a.layers
                              for n in (ls.conv.cout, ls.conv.cin, ls.bottleneck)]
                           + [n for c in spec.post_head for n in (c.cin, c.cout)])
        self._maxp = max([self._widest] + [_taps(ls.conv) * ls.conv.groups + ls.mixer.cin
                                           for a in spec.arrays for ls in a.layers]
                         + [a.head_rechannel.kernel * a.head_width for a in spec.arrays]
                         + [c.kernel * c.cin for c in spec.post_head])

    def blank_state(self) -> _WaveNetState:
        """Zero histories; a condition DSP's state at its own prewarm, as the runtime's
        Reset prewarms it before the WaveNet's R-1 zeros run through both."""
        return _WaveNetState(self)

    def hot_path(self, state: FastState) -> Callable[[int, int, int], None] | None:
        if self.out_channels != 1 or self.in_channels != 1:
            return None
        assert isinstance(state, _WaveNetState)
        return state.run_ptr

    def native_process(self, state: FastState) -> tuple[Any, int, int] | None:
        if self.out_channels != 1 or self.in_channels != 1 or self.dsp is not None:
            return None
        assert isinstance(state, _WaveNetState)
        return self._process, self._model_ptr, state._state_ptr

    def native_dsp_process(self, state: FastState) -> NativeDsp | None:
        """The kernel calls of a mono WaveNet with a condition DSP whose own kernel runs
        alone from C (a WaveNet without a DSP of its own, an LSTM, a Linear, a ConvNet), for
        FastStream.process_blocks; else None."""
        if self.out_channels != 1 or self.in_channels != 1 or self.dsp is None:
            return None
        assert isinstance(state, _WaveNetState)
        d, dsp = state.dsp, self.dsp
        if isinstance(dsp, FastWaveNet):
            if dsp.dsp is not None:
                return None
            assert isinstance(d, _WaveNetState)
            call: tuple[Any, bool, int, int] = (dsp._process, True, dsp._model_ptr,
                                                d._state_ptr)
        elif all(hasattr(d, k) for k in ("_fn", "_model", "_state")):
            call = (d._fn, False, d._model, d._state)  # type: ignore[union-attr]
        else:
            return None
        return NativeDsp(*call, self._process, self._model_ptr, state._state_ptr,
                         dsp.out_channels)


def _row_length(rows: int, n: int) -> int:
    """A buffer's row length (floats), at least n, chosen so its rows fall in different
    L1 sets: a conv reads every row at up to K offsets at once, and rows a multiple of
    4 KiB apart (or close to it) would evict one another from the 8-way, 64-set L1."""
    step = max(1, 64 // max(rows, 1))  # cache lines (of 16 floats) between rows, mod 64
    lines = -(-n // 16)
    lines += (step - lines) % 64
    return lines * 16


def _arena(n: int) -> np.ndarray:
    """n zero float32s in memory the kernel reads fast: one block, on 2 MiB pages where the
    system allows (madvise), since a conv's taps read dozens of rows at once and 4 KiB
    pages would miss the TLB on most of them."""
    import mmap

    huge = 1 << 21
    size = (n * 4 + huge - 1) // huge * huge
    block = mmap.mmap(-1, size + huge, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    base = np.frombuffer(block, dtype=np.uint8)
    start = (-base.ctypes.data) % huge
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            block.madvise(mmap.MADV_HUGEPAGE, start, size)
        except OSError:
            pass
    return base[start : start + n * 4].view(np.float32)


def _nested_engine(dsp: NamModel, in_channels: int) -> FastEngine:
    """The condition DSP on its own fast engine (a container: the submodel it plays at full
    size, as the runtime builds it)."""
    from namcheck.models.engines import build_fast, selected_model

    net, _bound = build_fast(selected_model(dsp, None))
    if not hasattr(net, "blank_state"):
        net = _StreamEngine(net)
    if net.in_channels != in_channels:
        raise FastEngineUnavailableError(
            f"condition_dsp reads {net.in_channels} inputs, the WaveNet {in_channels}")
    return net


class _StreamEngine(FastEngine):
    """A fast engine that only offers the protocol's stream(), seen as a FastEngine (mono
    input; prewarmed by its own stream, not snapshotted: each state is a new stream)."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        if int(getattr(net, "in_channels", 1)) != 1:
            raise FastEngineUnavailableError("a multi-input condition DSP needs blank_state()")
        self.net = net
        self.stateful = bool(net.stateful)
        self.receptive_field, self.out_channels = int(net.receptive_field), int(net.out_channels)

    def blank_state(self) -> _StreamState:
        return _StreamState(self.net, self.out_channels)

    def prewarm(self, state: FastState) -> None:
        """Nothing: the stream opened by blank_state() is prewarmed already."""


class _StreamState:
    def __init__(self, net: Any, out_channels: int) -> None:
        self.stream, self.out_channels = net.stream(1), out_channels

    def run(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.stream.process(np.ascontiguousarray(x[0], dtype=np.float32)))
        return np.ascontiguousarray(y.reshape(self.out_channels, -1), dtype=np.float32)

    def snapshot(self) -> None:
        return None

    def reset(self, snapshot: Any) -> None:
        raise AssertionError("a stream cannot be reset")  # never: its snapshot is None


class _WaveNetState:
    """One signal's buffers in the kernel (with its condition DSP's state), continued call
    after call."""

    def __init__(self, net: FastWaveNet) -> None:
        self.net = net
        spec, nb, vw = net.spec, net._nb, net._vw
        self._keep: list[Any] = []
        self._histories: list[np.ndarray] = []

        layers = [(1 if i == 0 and net.composed[a] else ls.conv.cin, ls.conv.context)
                  for a, aspec in enumerate(spec.arrays) for i, ls in enumerate(aspec.layers)]
        heads = [(a.head_width, a.head_rechannel.context) for a in spec.arrays]
        posts = [(c.cin, c.context) for c in spec.post_head]
        room = HEADROOM * nb + nb + 3 * vw
        total = sum(r * _row_length(r, c + room) for r, c in layers + heads + posts)
        total += N_SCRATCH * net._widest * (nb + vw)
        arena = _arena(total)
        self._keep.append(arena)
        used = 0

        def take(shape: tuple[int, int]) -> np.ndarray:
            nonlocal used
            n = shape[0] * shape[1]
            a = arena[used : used + n].reshape(shape)
            used += n
            return a

        def bufs(shapes: list[tuple[int, int]]) -> Any:
            arr = (_Buf * max(1, len(shapes)))()
            for i, (rows, ctx) in enumerate(shapes):
                length = _row_length(rows, ctx + room)
                data = take((rows, length))
                self._histories.append(data)
                b = arr[i]
                b.data, b.rows, b.len, b.ctx = data.ctypes.data_as(F32P), rows, length, ctx
                b.pos = ctx + (-(net.receptive_field - 1) - ctx) % vw  # aligned after prewarm
            self._keep.append(arr)
            return arr

        state = _State()
        state.layer_in, state.head, state.post = bufs(layers), bufs(heads), bufs(posts)
        self._descriptors = [state.layer_in[i] for i in range(len(layers))] + [
            state.head[i] for i in range(len(heads))] + [state.post[i] for i in range(len(posts))]
        scratch = take((N_SCRATCH * net._widest, nb + vw)).reshape(N_SCRATCH, net._widest,
                                                                    nb + vw)
        self._xin = scratch[S_XIN]
        tables = (ctypes.POINTER(F32P) * N_SCRATCH)()
        for k in range(N_SCRATCH):
            table = (F32P * net._widest)(*[scratch[k, r].ctypes.data_as(F32P)
                                            for r in range(net._widest)])
            self._keep.append(table)
            tables[k] = ctypes.cast(table, ctypes.POINTER(F32P))
        state.rows = tables
        ptrs = (ctypes.c_void_p * (4 * net._maxp))()
        state.ptrs, state.maxp = ctypes.addressof(ptrs), net._maxp
        self._keep += [scratch, ptrs]
        self.state = state
        self._state_ptr = ctypes.addressof(state)
        self.dsp = net.dsp.new_state() if net.dsp is not None else None
        self.run_ptr = _direct_run(net, self)

    def snapshot(self) -> Any:
        """Copies of every buffer's history, its last ctx samples (layers in order, then
        heads, then the post-stack head), and the condition DSP's snapshot; None where the
        DSP cannot snapshot."""
        dsp = self.dsp.snapshot() if self.dsp is not None else None
        if self.dsp is not None and dsp is None:
            return None
        hist = [h[:, b.pos - b.ctx : b.pos].copy()
                for h, b in zip(self._histories, self._descriptors, strict=True)]
        return hist, dsp

    def reset(self, snapshot: Any) -> None:
        """Back to a snapshot() of a state of the same model, in place."""
        hist, dsp = snapshot
        vw = self.net._vw
        for data, b, h in zip(self._histories, self._descriptors, hist, strict=True):
            b.pos = b.ctx + (-b.ctx) % vw  # the next sample vector-aligned
            data[:, b.pos - b.ctx : b.pos] = h
        if self.dsp is not None:
            self.dsp.reset(dsp)

    def run(self, x: np.ndarray) -> np.ndarray:
        """(in_ch, n) float32 -> (out_ch, n) float32, continuing the state."""
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[-1]
        out = np.empty((self.net.out_channels, n), dtype=np.float32)
        if n:
            self.run_ptr(x.ctypes.data, out.ctypes.data, n)
        return out


def _direct_run(net: FastWaveNet, state: _WaveNetState) -> Callable[[int, int, int], None]:
    """run_ptr of a state: `run_ptr(x, y, n)` with x the address of in_ch rows of n float32
    and y of out_ch rows of n, continuing the state (a condition DSP's state first)."""
    fn, m, s = net._process, net._model_ptr, state._state_ptr
    if state.dsp is None:
        return lambda x, y, n: fn(m, s, x, None, y, n)
    dsp_run = getattr(state.dsp, "run_ptr", None)
    rows = net.dsp.out_channels if net.dsp is not None else 0
    cond = np.empty(0, dtype=np.float32)
    addr = 0

    def run(x: int, y: int, n: int) -> None:
        nonlocal cond, addr
        if cond.size < rows * n:  # the condition DSP's output (rows of n), kept for reuse
            cond = np.empty(rows * n, dtype=np.float32)
            addr = cond.ctypes.data
        if dsp_run is not None:
            dsp_run(x, addr, n)
        else:  # an engine with only run(): through NumPy
            xs = np.ctypeslib.as_array(ctypes.cast(x, F32P), (net.in_channels, n))
            cond[: rows * n].reshape(rows, n)[:] = state.dsp.run(np.array(xs))
        fn(m, s, x, addr, y, n)

    return run
