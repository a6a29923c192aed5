"""A stream's output written into the caller's own buffer: `Stream.process(block, out=y)`.

A real-time host allocates its output buffer once and hands it to every call (as
NeuralAmpModelerCore's `process(input, output, n)` does); `out` lets a Python caller do the
same, and the fast engine's one-row path then writes the kernel's output straight into it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def check_out(out: torch.Tensor | np.ndarray | None, block: Any, torch_dtype: torch.dtype,
              out_channels: int = 1) -> None:
    """Raise ValueError, before `block` is processed (a refused buffer never costs the
    stream a block), where `out` cannot take its output: the output of a torch block is a
    `torch_dtype` tensor, of a NumPy block a float32 (for float32 in) or float64 array; its
    shape is the block's, (C, N) or (B, C, N) for C > 1 outputs; a NumPy `out` must be
    writeable. A block of another kind is left to the stream's own checks."""
    if out is None or not isinstance(block, torch.Tensor | np.ndarray):
        return
    shape = tuple(block.shape)
    if out_channels != 1 and shape:
        shape = (*shape[:-1], out_channels, shape[-1])
    if isinstance(block, torch.Tensor):
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"out: a torch block writes a torch tensor, got {type(out).__name__}")
        want: Any = torch_dtype
    else:
        if not isinstance(out, np.ndarray):
            raise ValueError(f"out: a NumPy block writes a NumPy array, got {type(out).__name__}")
        want = np.dtype(np.float32 if block.dtype == np.float32 else np.float64)
        if not out.flags.writeable:
            raise ValueError("out: the array is read-only")
    if tuple(out.shape) != shape or out.dtype != want:
        name = str(want).removeprefix("torch.")
        got = str(out.dtype).removeprefix("torch.")
        raise ValueError(f"out: expected {name} of shape {shape}, got {got} of shape "
                         f"{tuple(out.shape)}")


def into(out: torch.Tensor | np.ndarray | None, y: torch.Tensor | np.ndarray) -> Any:
    """`y`, or, where the caller gave `out`, `y` copied into it and `out` returned.

    `out` must have y's type (torch or NumPy), shape and dtype, and must not share memory
    with the block being processed. Raises ValueError where it does not match."""
    if out is None:
        return y
    if isinstance(y, torch.Tensor):
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"out: a torch block writes a torch tensor, got {type(out).__name__}")
        if out.shape != y.shape or out.dtype != y.dtype:
            want, got = (str(t.dtype).removeprefix("torch.") for t in (y, out))
            raise ValueError(f"out: expected a {want} tensor of shape {tuple(y.shape)}, got "
                             f"{got} of shape {tuple(out.shape)}")
        out.copy_(y)
        return out
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out: a NumPy block writes a NumPy array, got {type(out).__name__}")
    if out.shape != y.shape or out.dtype != y.dtype:
        raise ValueError(f"out: expected a {y.dtype} array of shape {y.shape}, got {out.dtype} "
                         f"of shape {out.shape}")
    np.copyto(out, y)
    return out
