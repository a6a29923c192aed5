"""What the fast engines on the C kernels (LSTM, Linear, ConvNet) share: the engine
protocol's calls (models/engines.py) over a kernel state.

A subclass of `KernelEngine` says how to make a zero state of its kernel and how the
runtime prewarms it; this module does the rest the same way for every architecture:

- `engine(x)`: (N,) or (B, N) mono samples; every row starts from a copy of the prewarmed
  state (computed once per model), so a batch costs B single runs. NumPy in gives NumPy
  out (float32 in: float32 out, any other dtype: float64 out), torch in gives float32 torch
  out.
- `engine.stream(batch).process(block)`: state kept between calls, prewarmed like a plugin.
  The kernels do the same arithmetic per sample whatever the block boundaries, so the
  concatenated blocks equal the offline output bit for bit. A batch-1 stream of a mono
  model takes one short path per block (what a plugin at a 1-sample buffer costs in
  Python: see benchmarks/test_bench_fast_x.py).
"""

from __future__ import annotations

import ctypes
from functools import partial
from typing import Any

import numpy as np
import torch

from namcheck.models.fast.engine import FastEngine, hot_process, native_blocks
from namcheck.models.stream_output import check_out, into


class KernelState:
    """One signal's state in a kernel, continued call after call.

    Subclasses set `_fn` (the kernel's `process(model, state, in, out, n)` with its argtypes),
    `_model` and `_state` (addresses of the kernel's structures) and `out_channels`, and
    keep every array the structures point into alive."""

    _fn: Any
    _model: int
    _state: int
    out_channels: int

    def run(self, x: np.ndarray) -> np.ndarray:
        """(in_ch, n) float32 -> (out_ch, n) float32, continuing the state."""
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[-1]
        out = np.empty((self.out_channels, n), dtype=np.float32)
        if n:
            self._fn(self._model, self._state, x.ctypes.data, out.ctypes.data, n)
        return out

    def run_ptr(self, x: int, y: int, n: int) -> None:
        """run() on raw addresses: n float32 per input row at x, out at y (how a WaveNet
        runs its condition DSP without a copy)."""
        self._fn(self._model, self._state, x, y, n)

    def snapshot(self) -> list[np.ndarray]:
        """Copies of all a later state needs to continue from here."""
        raise NotImplementedError

    def reset(self, warm: list[np.ndarray]) -> None:
        """Back to the state `warm` (from snapshot()), in place."""
        raise NotImplementedError


class KernelEngine(FastEngine):
    """The engine protocol over a C kernel; subclasses give `blank_state` (a zero state,
    not prewarmed) and, where the runtime's prewarm is not R-1 zeros, `prewarm`."""

    def _rows(self, x: torch.Tensor | np.ndarray) -> tuple[np.ndarray, bool, Any]:
        """The input as float32 rows (B, N), whether it was one signal, and the output
        dtype (None: torch)."""
        if isinstance(x, torch.Tensor):
            out_dtype = None
            xs = x.detach().cpu().numpy()
        else:
            xs = np.asarray(x)
            out_dtype = np.float32 if xs.dtype == np.float32 else np.float64
        if xs.ndim not in (1, 2):
            raise ValueError(f"expected (N,) or (B, N) mono samples, got shape {xs.shape}")
        if self.in_channels != 1:
            raise ValueError(f"this model reads {self.in_channels} input channels; the engine "
                             "takes mono samples")
        xs = np.asarray(xs, dtype=np.float32)
        return (xs[None] if xs.ndim == 1 else xs), xs.ndim == 1, out_dtype

    def _output(self, ys: np.ndarray, single: bool, out_dtype: Any) -> Any:
        """(B, out_ch, N) float32 -> the protocol's shape and type."""
        y = ys[:, 0, :] if self.out_channels == 1 else ys
        y = y[0] if single else y
        if out_dtype is None:
            return torch.from_numpy(np.ascontiguousarray(y))
        return y.astype(out_dtype, copy=False)

    def __call__(self, x: torch.Tensor | np.ndarray) -> Any:
        """forward(): (N,) or (B, N) in, the same shape out ((B, C, N) for C > 1 outputs),
        each row from the prewarmed state."""
        rows, single, out_dtype = self._rows(x)
        if len(rows) == 1:  # no copy into a stack
            ys = self._run_fresh(rows)[None]
        elif len(rows):
            ys = np.stack([self._run_fresh(r[None]) for r in rows])
        else:
            ys = np.zeros((0, self.out_channels, rows.shape[-1]), dtype=np.float32)
        return self._output(ys, single, out_dtype)

    def stream(self, batch: int = 1, compile: bool = False) -> KernelStream:
        """Block-by-block processing with state kept between calls, prewarmed like a plugin
        (compile is ignored: the kernel is compiled)."""
        return KernelStream(self, batch)


class KernelStream:
    """Consecutive blocks through a KernelEngine; the concatenation equals its forward."""

    def __init__(self, net: KernelEngine, batch: int = 1) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.net, self.batch = net, batch
        self.states = [net.new_state() for _ in range(batch)]
        first = self.states[0]
        self._hot = batch == 1 and net.in_channels == 1 and net.out_channels == 1
        self._call = (first._fn, first._model, first._state)
        if self._hot:  # the per-call path a plugin-like caller takes, as a closure
            self.process = self._hot_process()  # type: ignore[method-assign]

    def _hot_process(self) -> Any:
        """process() on the one-row hot path (engine.hot_process): the kernel's process
        function with model and state bound (functools.partial: no Python frame)."""
        fn, model, state = self._call
        net, batch, states = self.net, self.batch, self.states
        process = hot_process(partial(fn, model, state),
                              lambda block: _process_rows(net, batch, states, block))
        # (bound to what it uses, never to the stream: no reference cycle, so a dropped
        # stream frees its state at once, and the states live as long as this does)
        process.__doc__ = KernelStream.process.__doc__
        return process

    def process(self, block: torch.Tensor | np.ndarray,
                out: torch.Tensor | np.ndarray | None = None) -> Any:
        """The next block's output ((N,) or (B, N); NumPy in, NumPy out as for a forward;
        torch in, float32 torch out), written into `out` where given (a buffer of that
        type, shape and dtype, not overlapping the block; ValueError otherwise, before the
        block is processed)."""
        check_out(out, block, torch.float32, self.net.out_channels)
        return into(out, self._process(block))

    def _process(self, block: torch.Tensor | np.ndarray) -> Any:
        return _process_rows(self.net, self.batch, self.states, block)

    def process_blocks(self, x: np.ndarray, block: int) -> np.ndarray:
        """x ((N,) float32 mono) through this stream in consecutive blocks of `block`
        samples, each one call of the kernel's process function made from C
        (driver.c's namcheck_stream_blocks), as a plugin host calls its DSP: the output
        (N,) float32 equals process() called block by block. ValueError unless the stream
        is batch 1 of a mono model."""
        if not self._hot:
            raise ValueError("process_blocks runs a batch-1 stream of a mono model")
        fn, model, state = self._call
        return native_blocks(fn, model, state, x, block)


def _process_rows(net: KernelEngine, batch: int, states: list[Any],
                  block: torch.Tensor | np.ndarray) -> Any:
    """KernelStream.process's general path: every row through its own state."""
    rows, single, out_dtype = net._rows(block)
    if rows.shape[0] != batch:
        raise ValueError(f"this stream was opened for batch {batch}, got {rows.shape[0]}")
    ys = np.stack([s.run(r[None]) for s, r in zip(states, rows, strict=True)])
    return net._output(ys, single, out_dtype)


def pointer(a: np.ndarray) -> Any:
    """A float* to a float32 C-contiguous array (the caller keeps the array alive)."""
    assert a.dtype == np.float32 and a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def process_function(lib: ctypes.CDLL, name: str) -> Any:
    """The kernel function `name(model*, state*, const float *in, float *out, int64 n)`."""
    fn = getattr(lib, name)
    fn.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn
