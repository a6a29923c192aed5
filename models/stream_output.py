"""A stream's output written into the caller's own buffer: `Stream.process(block, out=y)`.

A real-time host allocates its output buffer once and hands it to every call (as
NeuralAmpModelerCore's `process(input, output, n)` does); `out` lets a Python caller do the
same, and the fast engine's one-row path then writes the kernel's output straight into it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


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
