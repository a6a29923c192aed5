"""What every fast engine shares: the engine protocol's calls over one signal's state.

A fast engine (a subclass of `FastEngine`) makes `blank_state()`: one signal's state in its
kernel, before any prewarm, with
  - ``run(x)``: (in_channels, n) float32 C-contiguous -> (out_channels, n) float32,
    continuing the state;
  - ``snapshot()``: what a later state needs to continue from here (None if it cannot);
  - ``reset(snapshot)``: back to a snapshot, in place.
`FastEngine` turns that into the protocol (models/engines.py): ``net(x)`` over (N,) or
(B, N), every row from a copy of the prewarmed state (the runtime's prewarm: R-1 zeros
through a blank state, computed once per model), and ``net.stream(batch).process(block)``.
`new_state()` is also how one fast engine runs inside another (a WaveNet's condition DSP).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from namcheck.models.stream_output import check_out, into


class FastState(Protocol):
    """One signal's state in a fast kernel (see the module docstring)."""

    def run(self, x: np.ndarray) -> np.ndarray: ...

    def snapshot(self) -> Any: ...

    def reset(self, snapshot: Any) -> None: ...


class FastEngine:
    """The protocol's calls for a kernel that offers `blank_state()` (and optionally a
    direct `hot_path(state)` for one-row streaming)."""

    name = "fast"  # the Engine protocol (models/engines.py)
    stateful = False
    dtype = torch.float32
    device = torch.device("cpu")
    receptive_field: int = 1
    in_channels: int = 1
    out_channels: int = 1

    def __init__(self) -> None:
        self._warm: Any = None
        self._spare: list[FastState] = []

    def blank_state(self) -> FastState:
        """A state before the prewarm (zero histories; nested engines at their own prewarm)."""
        raise NotImplementedError

    def hot_path(self, state: FastState) -> Callable[[int, int, int], None] | None:
        """For a one-input, one-output model, `run(x, y, n)` on raw addresses (n float32 in
        at x, out at y) continuing `state`, for the streaming hot path; else None."""
        return None

    def native_process(self, state: FastState) -> tuple[Any, int, int] | None:
        """(process function, model address, state address) of a kernel whose process
        function runs `state` from C alone (mono in and out, `(model, state, in, cond,
        out, n)` with a NULL condition), for FastStream.process_blocks; else None."""
        return None

    def prewarm(self, state: FastState) -> None:
        """The runtime's prewarm of a blank state: R-1 zeros (a stateful engine adds its own)."""
        pad = self.receptive_field - 1
        if pad:
            state.run(np.zeros((self.in_channels, pad), dtype=np.float32))

    def new_state(self) -> FastState:
        """A prewarmed state: the prewarm is computed once per model and copied after."""
        state = self.blank_state()
        if self._warm is not None:
            state.reset(self._warm)
            return state
        self.prewarm(state)
        self._warm = state.snapshot()
        return state

    def _run_fresh(self, x: np.ndarray) -> np.ndarray:
        """One signal from the prewarmed state. A state whose run is over is kept and reset
        for the next call: fresh buffers would cost their first-touch page faults (about
        10% of a 1 s A1 forward)."""
        if self._spare and self._warm is not None:
            state = self._spare.pop()
            state.reset(self._warm)
        else:
            state = self.new_state()
        try:
            return state.run(x)
        finally:
            if self._warm is not None:
                self._spare.append(state)

    def __call__(self, x: torch.Tensor | np.ndarray) -> Any:
        """forward(): (N,) or (B, N) mono samples in; the same shape out ((B, out, N) for
        several outputs); NumPy in gives float64 NumPy out (float32 for float32 in), torch
        in gives float32 torch out."""
        as_numpy = isinstance(x, np.ndarray)
        xs = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x,
                        dtype=np.float32)
        if xs.ndim not in (1, 2):
            raise ValueError(f"expected (N,) or (B, N) mono samples, got shape {xs.shape}")
        if self.in_channels != 1:
            raise ValueError(f"this model reads {self.in_channels} input channels; the (N,) "
                             f"and (B, N) calls feed one")
        rows = xs[None] if xs.ndim == 1 else xs
        ys = np.stack([self._run_fresh(r[None]) for r in rows])
        return _output(ys, xs.ndim == 1, self.out_channels, as_numpy, x)

    def stream(self, batch: int = 1, compile: bool = False) -> FastStream:
        """Block-by-block processing, prewarmed like a plugin, state kept between calls
        (compile is ignored: the kernel is always compiled)."""
        return FastStream(self, batch)


def _output(ys: np.ndarray, single: bool, out_channels: int, as_numpy: bool, x: Any) -> Any:
    """(B, out, n) float32 results in the caller's shape and type."""
    y = ys[:, 0, :] if out_channels == 1 else ys
    y = y[0] if single else y
    if as_numpy:
        return y if x.dtype == np.float32 else y.astype(np.float64)
    return torch.from_numpy(y)


_F32 = torch.float32
_UNIT_STRIDE = (1,)


def hot_process(run: Callable[[int, int, int], Any], general: Callable[[Any], Any]
                ) -> Callable[..., Any]:
    """process(block, out=None) of a batch-1 stream of a mono model, as a plugin-like
    caller makes it many times a second: a 1-D float32 CPU tensor of unit stride (its N
    samples contiguous) takes one `run(in address, out address, N)` into `out` (or into a
    new tensor), nothing else; any other block, or an `out` that is not such a tensor of N
    samples apart from the block, goes through `general(block)` and models/stream_output.

    An `out` passed again is checked by its address and length only (the checks of its
    kind run once; the last one is held for that). Per call at a 64-sample block this
    costs ~1.4 us on this project's Zen 3 core, besides the kernel; a new output tensor
    costs ~2 us more (torch's allocation), so a host that reuses its buffer runs faster."""
    last: list[Any] = [None, 0]  # the last `out` checked whole, and its address

    def process(block: torch.Tensor | np.ndarray,
                out: torch.Tensor | np.ndarray | None = None) -> Any:
        if (type(block) is torch.Tensor and block.dtype is _F32 and block.is_cpu
                and block.stride() == _UNIT_STRIDE):
            n, x = block.numel(), block.data_ptr()
            if out is None:
                out = torch.empty_like(block)
                y = out.data_ptr()
            elif out is last[0] and out.data_ptr() == last[1] and out.numel() == n:
                y = last[1]
            elif (type(out) is torch.Tensor and out.dtype is _F32 and out.is_cpu
                  and out.stride() == _UNIT_STRIDE and out.numel() == n):
                y = out.data_ptr()
                last[0], last[1] = out, y
            else:
                check_out(out, block, _F32)
                return into(out, general(block))
            if y == x:  # in place: a kernel may write a sample before reading the next
                return into(out, general(block))
            if n:
                run(x, y, n)
            return out
        check_out(out, block, _F32)
        return into(out, general(block))

    return process


class FastStream:
    """Consecutive blocks through a fast engine; the concatenation equals its forward."""

    def __init__(self, net: FastEngine, batch: int = 1) -> None:
        self.net, self.batch = net, batch
        self.states = [net.new_state() for _ in range(batch)]
        self._hot = net.hot_path(self.states[0]) if batch == 1 else None
        if self._hot is not None:  # the per-call path a plugin-like caller takes
            self.process = self._hot_process(self._hot)  # type: ignore[method-assign]

    def _hot_process(self, hot: Callable[[int, int, int], None]) -> Any:
        """process() on the one-row hot path (`hot_process`): the kernel's process function
        with a NULL condition where the kernel runs alone, else through `hot`."""
        native = self.net.native_process(self.states[0])
        net, batch, states = self.net, self.batch, self.states
        if native is not None:
            fn, model, state = native

            def run(x: int, y: int, n: int) -> None:
                fn(model, state, x, None, y, n)
        else:
            run = hot
        process = hot_process(run, lambda block: _process_rows(net, batch, states, block))
        # (bound to what it uses, never to the stream: no reference cycle, so a dropped
        # stream frees its state at once, and the states live as long as this does)
        process.__doc__ = FastStream.process.__doc__
        return process

    def process(self, block: torch.Tensor | np.ndarray,
                out: torch.Tensor | np.ndarray | None = None) -> Any:
        """The next block's output ((N,) or (B, N); NumPy in, float64 NumPy out (float32
        for float32 in); torch in, float32 torch out), written into `out` where given (a
        buffer of that type, shape and dtype, not overlapping the block; ValueError
        otherwise), checked before the block is processed."""
        check_out(out, block, _F32, self.net.out_channels)
        return into(out, self._process(block))

    def _process(self, block: torch.Tensor | np.ndarray) -> Any:
        return _process_rows(self.net, self.batch, self.states, block)

    def process_blocks(self, x: np.ndarray, block: int) -> np.ndarray:
        """x ((N,) float32 mono) through this stream in consecutive blocks of `block`
        samples, each one call of the kernel's process function made from C, as a plugin
        host calls its DSP; the (N,) float32 output equals process() block by block.
        A WaveNet with a condition DSP runs the DSP's kernel, then its own, per block
        (driver.c's namcheck_stream_blocks_dsp, as the runtime does). ValueError where the
        engine has no such call (a batch, several channels, a condition DSP whose kernel
        does not run alone from C)."""
        native = self.net.native_process(self.states[0]) if self.batch == 1 else None
        if native is not None:
            fn, model, state = native
            return native_blocks(fn, model, state, x, block, cond=True)
        with_dsp = getattr(self.net, "native_dsp_process", None)
        calls = with_dsp(self.states[0]) if with_dsp is not None and self.batch == 1 else None
        if calls is None:
            raise ValueError("process_blocks runs a batch-1 stream of a mono model whose "
                             "kernel runs alone from C")
        return native_dsp_blocks(calls, x, block)


def _process_rows(net: FastEngine, batch: int, states: list[FastState],
                  block: torch.Tensor | np.ndarray) -> Any:
    """FastStream.process's general path: every row through its own state."""
    as_numpy = isinstance(block, np.ndarray)
    xs = np.asarray(block.detach().cpu().numpy() if isinstance(block, torch.Tensor)
                    else block, dtype=np.float32)
    if xs.ndim not in (1, 2):
        raise ValueError(f"expected (N,) or (B, N) mono samples, got shape {xs.shape}")
    rows = xs[None] if xs.ndim == 1 else xs
    if rows.shape[0] != batch:
        raise ValueError(f"this stream was opened for batch {batch}, got {rows.shape[0]}")
    ys = np.stack([s.run(r[None]) for s, r in zip(states, rows, strict=True)])
    return _output(ys, xs.ndim == 1, net.out_channels, as_numpy, block)


def _block_io(x: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """The (N,) float32 input and an output of its shape for a run in blocks of `block`
    samples called from C; ValueError for a block below 1."""
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    xs = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    return xs, np.empty_like(xs)


def native_dsp_blocks(calls: Any, x: np.ndarray, block: int) -> np.ndarray:
    """x (N,) through a WaveNet and its condition DSP (`calls`: wavenet.NativeDsp) in blocks
    of `block` samples, each block's two kernel calls made from C (driver.c's
    namcheck_stream_blocks_dsp); the (N,) float32 output."""
    from namcheck.models.fast.build import library

    xs, out = _block_io(x, block)
    cond = np.empty(calls.rows * max(1, min(block, xs.size)), dtype=np.float32)
    driver = library().namcheck_stream_blocks_dsp
    driver.argtypes = [ctypes.c_void_p, ctypes.c_int32] + [ctypes.c_void_p] * 8 + [
        ctypes.c_int64, ctypes.c_int64]
    driver.restype = ctypes.c_int
    if xs.size:
        driver(ctypes.cast(calls.dsp_fn, ctypes.c_void_p), int(calls.dsp_cond),
               calls.dsp_model, calls.dsp_state, ctypes.cast(calls.fn, ctypes.c_void_p),
               calls.model, calls.state, xs.ctypes.data, cond.ctypes.data, out.ctypes.data,
               xs.size, block)
    return out


def native_blocks(fn: Any, model: int, state: int, x: np.ndarray, block: int,
                  cond: bool = False) -> np.ndarray:
    """x (N,) through `fn` (a kernel's process function; `cond`: wavenet.c's, with a NULL
    condition) in blocks of `block` samples, called from C; the (N,) float32 output."""
    from namcheck.models.fast.build import library

    xs, out = _block_io(x, block)
    lib = library()
    driver = lib.namcheck_stream_blocks_cond if cond else lib.namcheck_stream_blocks
    driver.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int64, ctypes.c_int64]
    driver.restype = ctypes.c_int
    if xs.size:
        driver(ctypes.cast(fn, ctypes.c_void_p), model, state, xs.ctypes.data,
               out.ctypes.data, xs.size, block)
    return out
