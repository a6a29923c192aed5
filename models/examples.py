"""Built-in models made from code: the default model, and random configs for tests.

Weights come from a seeded generator, so every machine builds the same files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from namcheck.models.layout import wavenet_spec
from namcheck.models.nam_file import NamModel, WaveNetConfig, parse_nam

BUILTIN_NAME = "<built-in: A1 nano WaveNet, seed 0>"


def _a1_arrays(channels: int, head: int) -> list[dict[str, Any]]:
    def array(inp: int, ch: int, out: int, dilations: list[int], bias: bool) -> dict[str, Any]:
        return {"input_size": inp, "condition_size": 1, "channels": ch, "kernel_size": 3,
                "dilations": dilations, "activation": "Tanh", "gating_mode": "none",
                "head": {"out_channels": out, "kernel_size": 1, "bias": bias}}

    return [
        array(1, channels, head, [1, 2, 4, 8, 16, 32, 64], False),
        array(channels, head, 1, [128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512], True),
    ]


def wavenet_doc(layers: list[dict[str, Any]], *, seed: int, head_scale: float = 0.02,
                head: dict[str, Any] | None = None, weight_std: float = 0.3,
                sample_rate: float = 48000.0) -> dict[str, Any]:
    """A complete WaveNet `.nam` document with seeded weights (head_scale last, as exported)."""
    config = {"layers": layers, "head": head, "head_scale": head_scale}
    n = wavenet_spec(WaveNetConfig.model_validate(config)).n_weights
    rng = np.random.default_rng(seed)
    weights = (rng.standard_normal(n - 1) * weight_std).astype(np.float32).tolist()
    return {"version": "0.7.0", "architecture": "WaveNet", "config": config,
            "weights": [*weights, float(np.float32(head_scale))], "sample_rate": sample_rate,
            "metadata": {"name": "namcheck built-in"}}


def builtin_doc() -> dict[str, Any]:
    """NAM's A1 "nano" shape (4/2 channels, 20 layers, R = 4093) with seed-0 weights."""
    return wavenet_doc(_a1_arrays(4, 2), seed=0)


def builtin_model() -> NamModel:
    return parse_nam(builtin_doc(), source=BUILTIN_NAME)
