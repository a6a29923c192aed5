"""The fast kernel's activations: their ids and parameters as the C side reads them, and the
proven error bounds of its approximations (tanh, sigmoid, SiLU).

Every other activation is exact float32 arithmetic of the runtime's formula (NAM_FORMAT §4).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from namcheck.models.fast.build import library
from namcheck.models.format.activations import ActivationSpec

# Worst absolute error of the kernel's float32 tanh over every float32 input, measured
# exhaustively by tests/test_fast_engine.py::test_tanh_bound_every_float32 (which fails if
# the kernel's tanh ever exceeds it).
TANH_ERROR_BOUND = 4e-7
# Sigmoid = (1 + tanh(x/2)) / 2: x/2 and half of tanh are exact, the sum rounds once (half
# an ulp of a value below 2: 2^-24), so its absolute error is at most half tanh's plus
# 2^-24 (tests/test_fast_engine.py::test_sigmoid_bound).
SIGMOID_ERROR_BOUND = TANH_ERROR_BOUND / 2 + 2.0**-24
# SiLU = x * sigmoid(x), one more rounding: |fl(x s~) - x s| <= |x| |s~ - s| + |x s~| 2^-24
# with |s~| <= 1 + SIGMOID_ERROR_BOUND, so the error is at most |x| times this (relative to
# the input, not absolute: tests/test_fast_engine.py::test_silu_bound).
SILU_ERROR_BOUND = SIGMOID_ERROR_BOUND + (1 + SIGMOID_ERROR_BOUND) * 2.0**-24

# The kernels' activation ids (vecmath.h's enum: A_IDENTITY = 0, A_TANH = 1, ...)
ACT_IDS = {"Tanh": 1, "Fasttanh": 2, "ReLU": 3, "LeakyReLU": 4, "Hardtanh": 5,
           "LeakyHardtanh": 6, "Sigmoid": 7, "Softsign": 8, "Hardswish": 9, "PReLU": 10,
           "SiLU": 11}
F32P = ctypes.POINTER(ctypes.c_float)


class Act(ctypes.Structure):
    """The kernel's `Act`: an id, scalar parameters, per-row PReLU slopes (or NULL)."""

    _fields_ = [("id", ctypes.c_int32), ("p", ctypes.c_float * 4), ("slopes", F32P)]


def make_act(spec: ActivationSpec | None, rows: int, keep: list[Any]) -> Act:
    """`spec` for the kernel, applied to `rows` rows (None: identity). Arrays the result
    points into are appended to `keep`, which must outlive it."""
    act = Act()
    if spec is None:
        return act
    act.id = ACT_IDS[spec.name]
    params = dict(spec.params)
    if spec.name in ("LeakyReLU", "PReLU"):
        act.p[0] = params["negative_slope"]
    elif spec.name == "LeakyHardtanh":
        for i, k in enumerate(("min_val", "max_val", "min_slope", "max_slope")):
            act.p[i] = params[k]
    if spec.slopes is not None and len(spec.slopes) == 1:
        act.p[0] = spec.slopes[0]
    elif spec.slopes is not None:  # one slope per row; padded for the rows a pass computes
        slopes = np.zeros(max(rows, len(spec.slopes)) + 16, dtype=np.float32)
        slopes[: len(spec.slopes)] = spec.slopes
        keep.append(slopes)
        act.slopes = slopes.ctypes.data_as(F32P)
    return act


def kernel_activation(symbol: str, spec: ActivationSpec, x: np.ndarray, row: int = 0
                      ) -> np.ndarray:
    """The kernels' activation `spec` (vecmath.h) on float32 values x (any shape; float32
    out, same shape), through the copy compiled into one source: `symbol` is its exported
    entry (namcheck_activation: wavenet.c's; namcheck_ff_activation: feedforward.c's)."""
    fn = getattr(library(), symbol)
    fn.argtypes = [ctypes.POINTER(Act), ctypes.c_int, F32P, F32P, ctypes.c_int64]
    keep: list[Any] = []
    act = make_act(spec, row + 1, keep)
    xs = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(xs)
    fn(ctypes.byref(act), row, xs.ctypes.data_as(F32P), y.ctypes.data_as(F32P), xs.size)
    return y


def activation(spec: ActivationSpec, x: np.ndarray, row: int = 0) -> np.ndarray:
    """The kernel's activation `spec` applied to float32 values (for tests and bounds)."""
    return kernel_activation("namcheck_activation", spec, x, row)


def covered(spec: ActivationSpec) -> bool:
    """Whether the kernel implements this activation."""
    return spec.name in ACT_IDS


APPROXIMATED = frozenset({"Tanh", "Sigmoid", "SiLU"})


def approximated(spec: ActivationSpec, x: np.ndarray) -> np.ndarray | None:
    """The kernel's values of `spec` on float32 `x` where it approximates the function
    (tanh, sigmoid, SiLU: APPROXIMATED), else None (it computes the exact formula in
    float32): the `approximated` argument of models/rounding_envelope.envelope."""
    return activation(spec, x) if spec.name in APPROXIMATED else None
