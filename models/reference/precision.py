"""IEEE float32 arithmetic for the reference on CUDA: no TensorFloat-32.

On Ampere and later GPUs PyTorch may compute float32 matrix products and convolutions in
TF32 (a 10-bit mantissa: relative error ~1e-3 per product): cuDNN convolutions and RNNs do
so by default, cuBLAS matmuls once a program asks for it (`torch.set_float32_matmul_precision
("high")`, as training scripts often do). The reference's error bounds (models/numerics.py)
assume float32's 24-bit mantissa, so every reference call on a CUDA device runs inside
`ieee_float32`, which turns TF32 off for the call and restores the caller's settings after.

torch >= 2.9 reads per-operation settings (`torch.backends.cuda.matmul.fp32_precision`,
`torch.backends.cudnn.conv.fp32_precision`, `.rnn.fp32_precision`) and keeps the older
`allow_tf32` flags and `set_float32_matmul_precision` in step with them; torch < 2.9 has
only the latter. The matmul setting goes through `set_float32_matmul_precision`, which
both generations keep consistent (torch >= 2.9 refuses a matmul whose old and new settings
disagree); cuDNN's per-operation settings where they exist, else `cudnn.allow_tf32`.

The settings are process-wide: two threads running models on one GPU at once would share
them (namcheck's corpus runs use processes, not threads).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch


def _cudnn_settings() -> list[Any] | None:
    """cuDNN's per-operation precision settings (torch >= 2.9), or None on older torch."""
    settings = [getattr(torch.backends.cudnn, op, None) for op in ("conv", "rnn")]
    try:
        for s in settings:
            s.fp32_precision  # noqa: B018 - AttributeError where torch lacks it
    except AttributeError:
        return None
    return settings


def _matmul_setting() -> Any | None:
    try:
        torch.backends.cuda.matmul.fp32_precision  # noqa: B018
    except AttributeError:
        return None
    return torch.backends.cuda.matmul


@contextmanager
def _matmul_ieee() -> Iterator[None]:
    new = _matmul_setting()
    saved_new = new.fp32_precision if new is not None else None
    with warnings.catch_warnings():  # some torch versions call these deprecated
        warnings.simplefilter("ignore")
        try:
            saved: str | None = torch.get_float32_matmul_precision()
        except RuntimeError:  # old and new settings disagree: restore the new one only
            saved = None
        torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if saved is not None:
                torch.set_float32_matmul_precision(saved)
        if new is not None:
            new.fp32_precision = saved_new


@contextmanager
def _cudnn_ieee() -> Iterator[None]:
    settings = _cudnn_settings()
    if settings is None:
        cudnn = torch.backends.cudnn
        saved_flag = cudnn.allow_tf32
        cudnn.allow_tf32 = False
        try:
            yield
        finally:
            cudnn.allow_tf32 = saved_flag
        return
    saved = [s.fp32_precision for s in settings]
    for s in settings:
        s.fp32_precision = "ieee"
    try:
        yield
    finally:
        for s, value in zip(settings, saved, strict=True):
            s.fp32_precision = value


@contextmanager
def ieee_float32(device: torch.device | str) -> Iterator[None]:
    """Within the block, CUDA float32 matmuls, convolutions and RNNs round as IEEE float32
    (no TF32); the caller's settings are restored on exit. A no-op off CUDA."""
    if torch.device(device).type != "cuda":
        yield
        return
    with ExitStack() as stack:
        stack.enter_context(_matmul_ieee())
        stack.enter_context(_cudnn_ieee())
        yield


def tf32_settings() -> dict[str, Any]:
    """The current settings `ieee_float32` changes, by name (for tests and reports)."""
    out: dict[str, Any] = {"float32_matmul_precision": torch.get_float32_matmul_precision()}
    new = _matmul_setting()
    if new is not None:
        out["cuda.matmul.fp32_precision"] = new.fp32_precision
    settings = _cudnn_settings()
    if settings is None:
        out["cudnn.allow_tf32"] = torch.backends.cudnn.allow_tf32
    else:
        out["cudnn.conv.fp32_precision"] = settings[0].fp32_precision
        out["cudnn.rnn.fp32_precision"] = settings[1].fp32_precision
    return out
