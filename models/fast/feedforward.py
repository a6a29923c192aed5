"""The fast Linear and ConvNet engines: the C kernels in `feedforward.c` behind the engine
protocol.

Built from the parsed `NamModel` and its weight stream (NAM_FORMAT §6), never from a
reference module. Linear: `weights[0]` multiplies the newest sample (the runtime's
convolution, models/feedforward.py). ConvNet: batchnorm folded into each block's conv at
load (scale = weight / sqrt(eps + running_var), shift = bias - scale * running_mean, as the
runtime folds; here w' = scale w and b' = shift in float64, rounded to float32 once), every
activation, grouped convs. Both are prewarmed like the runtime: R - 1 zeros, computed once
per model and copied. tests/test_fast_feedforward.py checks them against the float64
reference within `feedforward_tolerance()`.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import numpy as np
import torch

from namcheck.models.fast.activations import (
    APPROXIMATED,
    Act,
    covered,
    kernel_activation,
    make_act,
)
from namcheck.models.fast.build import library
from namcheck.models.fast.frontend import KernelEngine, KernelState, pointer, process_function
from namcheck.models.format import NamModel
from namcheck.models.format.activations import ActivationSpec
from namcheck.models.format.layout import convnet_specs
from namcheck.models.format.schema import ConvNetConfig, LinearConfig
from namcheck.models.numerics import EPS_PER_STAGE, chain_depth, eps

MAX_ROWS = 1024  # as in feedforward.c
# Buffer room, in sub-blocks, past each history before it is moved back (as in engine.py).
HEADROOM = 8

_F = ctypes.POINTER(ctypes.c_float)


class _Buf(ctypes.Structure):
    _fields_ = [("data", _F)] + [(n, ctypes.c_int32) for n in ("rows", "len", "ctx", "pos")]


class _LinearModel(ctypes.Structure):
    _fields_ = [("taps", ctypes.c_int32), ("bias", ctypes.c_float), ("hr", _F)]


class _LinearState(ctypes.Structure):
    _fields_ = [("x", _Buf), ("y", _F)]


class _Block(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("cin", "cout", "groups", "d")] + [
        ("act", Act), ("w", _F), ("b", _F)]


class _ConvNetModel(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("nblocks", "in_ch", "out_ch", "channels")] + [
        ("blocks", ctypes.POINTER(_Block)), ("whead", _F), ("bhead", _F)]


class _ConvNetState(ctypes.Structure):
    _fields_ = [("inp", ctypes.POINTER(_Buf)), ("v", _F), ("y", _F)]


def unsupported(model: NamModel) -> str | None:
    """Why the fast Linear/ConvNet engine cannot run this model, or None."""
    cfg = model.config
    if isinstance(cfg, LinearConfig):
        return None
    assert isinstance(cfg, ConvNetConfig)
    if max(cfg.in_channels, cfg.channels, cfg.out_channels) > MAX_ROWS:
        return f"ConvNet channels above {MAX_ROWS} are not covered by the fast engine"
    act = cfg.activation
    if not covered(act):
        return f"activation {act.name} is not covered by the fast engine"
    if act.slopes is not None and len(act.slopes) not in (1, cfg.channels):
        return "PReLU negative_slopes of another length than the channels"
    return None


def feedforward_tolerance(model: NamModel) -> float:
    """Peak-relative bound on |fast - exact| for a Linear or ConvNet.

    Per stage (numerics.chain_depth: a ConvNet's blocks and head, a Linear's one dot
    product): the reference's float32 allowance (EPS_PER_STAGE eps) for the batchnorm,
    activation and adds; plus the kernel's dot products, sequential FMA chains of n terms
    (a Linear: R taps and the bias; a ConvNet block: 2 cin/groups and the bias; the head: C
    and the bias), whose rounding grows as sqrt(n) u, allowed as max(EPS_PER_STAGE,
    sqrt(n)/2) eps (engine.fast_tolerance's rule); plus, where the activation is the
    kernel's tanh (Tanh, Sigmoid, SiLU), its proven absolute error TANH_ERROR_BOUND
    (activations are O(1) where it matters). Batchnorm folded into the weights rounds each
    w' = scale w once: one more u per term, inside the stage's allowance."""
    from namcheck.models.fast.activations import TANH_ERROR_BOUND

    e = eps(torch.float32)
    cfg = model.config
    if isinstance(cfg, LinearConfig):
        n, act = cfg.receptive_field + 1, 0.0
    else:
        assert isinstance(cfg, ConvNetConfig)
        n = max([2 * s.cin // s.groups + 1 for s in convnet_specs(cfg)] + [cfg.channels + 1])
        act = TANH_ERROR_BOUND if cfg.activation.name in APPROXIMATED else 0.0
    dots = max(EPS_PER_STAGE, math.sqrt(n) / 2) * e
    return chain_depth(model) * (EPS_PER_STAGE * e + dots + act)


def activation(spec: ActivationSpec, x: np.ndarray, row: int = 0) -> np.ndarray:
    """feedforward.c's copy of the kernels' activation `spec` (vecmath.h) on float32 values:
    tests check it against wavenet.c's, whose tanh bound is proved."""
    return kernel_activation("namcheck_ff_activation", spec, x, row)


def _pack_tiles(w: np.ndarray) -> np.ndarray:
    """(O, I, K) weight -> [ceil(O/8)][K*I][8] float32, tap j = k*I + i, zero-padded."""
    rows, width, taps = w.shape
    tiles = -(-rows // 8)
    padded = np.zeros((tiles * 8, width, taps))
    padded[:rows] = w
    packed = padded.reshape(tiles, 8, width, taps).transpose(0, 3, 2, 1).reshape(
        tiles, taps * width, 8)
    return np.ascontiguousarray(packed, dtype=np.float32).reshape(-1)


def _padded(v: np.ndarray) -> np.ndarray:
    out = np.zeros(-(-len(v) // 8) * 8 + 8, dtype=np.float32)
    out[: len(v)] = v
    return out


class _Stream:
    """The weight stream, read in the file's order."""

    def __init__(self, model: NamModel) -> None:
        self.model = model
        self.values = np.asarray(model.weights, dtype=np.float64)
        self.pos = 0

    def take(self, *shape: int) -> np.ndarray:
        n = math.prod(shape)
        if self.pos + n > self.values.size:
            raise ValueError(f"{self.model.source}: weights: too few for the config")
        out = self.values[self.pos : self.pos + n].reshape(shape)
        self.pos += n
        return out

    def finish(self) -> None:
        if self.pos != self.values.size:
            raise ValueError(f"{self.model.source}: weights: {self.values.size - self.pos} "
                             "left over for the config")


class _BufferState(KernelState):
    """A state made of rewinding history buffers (feedforward.c's FBuf)."""

    def __init__(self, net: Any, shapes: list[tuple[int, int]], scratch: int) -> None:
        self._net = net
        length_past = HEADROOM * net._nb + net._nb + 2 * net._vw
        self._arrays = [np.zeros((rows, ctx + length_past), dtype=np.float32)
                        for rows, ctx in shapes]
        self.bufs: Any = (_Buf * len(shapes))()
        for b, a, (rows, ctx) in zip(self.bufs, self._arrays, shapes, strict=True):
            b.data, b.rows, b.len, b.ctx, b.pos = pointer(a), rows, a.shape[1], ctx, ctx
        self._scratch = [np.zeros(scratch, dtype=np.float32) for _ in range(2)]
        self._fn, self._model = net._fn, ctypes.addressof(net._model)
        self.out_channels = net.out_channels

    def snapshot(self) -> list[np.ndarray]:
        return [a[:, b.pos - b.ctx : b.pos].copy()
                for a, b in zip(self._arrays, self.bufs, strict=True)]

    def reset(self, warm: list[np.ndarray]) -> None:
        for a, b, history in zip(self._arrays, self.bufs, warm, strict=True):
            a[:, : b.ctx] = history
            b.pos = b.ctx


class FastLinear(KernelEngine):
    """A Linear (FIR) model on the fast engine."""

    def __init__(self, model: NamModel) -> None:
        super().__init__()
        cfg = model.config
        if not isinstance(cfg, LinearConfig):
            raise ValueError(f"{model.source}: not a Linear model ({model.architecture})")
        lib = library()
        self._fn = process_function(lib, "namcheck_linear_process")
        self._nb, self._vw = lib.namcheck_feedforward_nb(), lib.namcheck_feedforward_vw()
        stream = _Stream(model)
        R = cfg.receptive_field
        h = stream.take(R)
        bias = float(stream.take(1)[0]) if cfg.bias else 0.0
        stream.finish()
        self.receptive_field = R
        self._hr = np.ascontiguousarray(h[::-1], dtype=np.float32)  # oldest first
        self._model = _LinearModel(R, bias, pointer(self._hr))

    def blank_state(self) -> KernelState:
        state = _BufferState(self, [(1, self.receptive_field - 1)], self._nb + 2 * self._vw)
        state._struct = _LinearState(state.bufs[0], pointer(state._scratch[0]))
        # the struct holds its own copy of the buffer descriptor: the kernel moves that one
        state.bufs = [state._struct.x]
        state._state = ctypes.addressof(state._struct)
        return state

    def prewarm(self, state: KernelState) -> None:
        """Zero history: the buffer's history is zeros already (the FIR has no state but
        its input)."""


class FastConvNet(KernelEngine):
    """A ConvNet on the fast engine (batchnorm folded into the convs)."""

    def __init__(self, model: NamModel) -> None:
        super().__init__()
        cfg = model.config
        if not isinstance(cfg, ConvNetConfig):
            raise ValueError(f"{model.source}: not a ConvNet ({model.architecture})")
        why = unsupported(model)
        if why:
            raise ValueError(f"{model.source}: {why}")
        lib = library()
        self._fn = process_function(lib, "namcheck_convnet_process")
        self._nb, self._vw = lib.namcheck_feedforward_nb(), lib.namcheck_feedforward_vw()
        self.in_channels, self.out_channels = cfg.in_channels, cfg.out_channels
        self.receptive_field = 1 + sum(cfg.dilations)
        self.specs = convnet_specs(cfg)
        stream = _Stream(model)
        keep: list[Any] = []
        self._keep = keep
        blocks = (_Block * len(self.specs))()
        C = cfg.channels
        for blk, spec in zip(blocks, self.specs, strict=True):
            w = stream.take(*spec.weight_shape)
            b = stream.take(C) if spec.bias else np.zeros(C)
            if cfg.batchnorm:
                mean, var, weight, bias = (stream.take(C) for _ in range(4))
                bn_eps = stream.take(1)[0]
                scale = weight / np.sqrt(bn_eps + var)
                w = w * scale[:, None, None]
                b = bias - scale * mean
            G = spec.groups
            cog = C // G
            packed = np.concatenate([_pack_tiles(w[g * cog : (g + 1) * cog]) for g in range(G)])
            bias32 = _padded(b)
            keep += [packed, bias32]
            blk.cin, blk.cout, blk.groups, blk.d = spec.cin, C, G, spec.dilation
            blk.act = make_act(cfg.activation, C, keep)
            blk.w, blk.b = pointer(packed), pointer(bias32)
        whead = _pack_tiles(stream.take(cfg.out_channels, C)[:, :, None])
        bhead = _padded(stream.take(cfg.out_channels))
        stream.finish()
        keep += [blocks, whead, bhead]
        m = _ConvNetModel()
        m.nblocks, m.in_ch, m.out_ch, m.channels = len(self.specs), cfg.in_channels, \
            cfg.out_channels, C
        m.blocks = ctypes.cast(blocks, ctypes.POINTER(_Block))
        m.whead, m.bhead = pointer(whead), pointer(bhead)
        self._model = m

    def blank_state(self) -> KernelState:
        shapes = [(s.cin, s.context) for s in self.specs]
        width = max(self.specs[0].cout, self.out_channels) + 8
        state = _BufferState(self, shapes, width * (self._nb + self._vw))
        state._struct = _ConvNetState(state.bufs, pointer(state._scratch[0]),
                                      pointer(state._scratch[1]))
        state._state = ctypes.addressof(state._struct)
        return state

    def prewarm(self, state: KernelState) -> None:
        """R - 1 zeros through the blocks: every history becomes the response to zeros."""
        pad = self.receptive_field - 1
        if pad:
            state.run(np.zeros((self.in_channels, pad), dtype=np.float32))


def build(model: NamModel) -> FastLinear | FastConvNet:
    """The fast engine for a Linear or ConvNet unsupported() accepts (models/engines.py's
    FAST_ENGINES rows); FastEngineUnavailableError where the kernel cannot be built here."""
    if isinstance(model.config, LinearConfig):
        return FastLinear(model)
    return FastConvNet(model)


def tolerance(model: NamModel) -> float:
    """The engine's peak-relative error bound (`feedforward_tolerance`)."""
    return feedforward_tolerance(model)
