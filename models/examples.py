"""Built-in models made from code: the default model, and random configs for tests.

Weights come from a seeded generator, so every machine builds the same files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from namcheck.models.format import NamModel, parse_nam
from namcheck.models.format.layout import wavenet_spec
from namcheck.models.format.schema import parse_config

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
    n = wavenet_spec(parse_config("WaveNet", config)).n_weights
    rng = np.random.default_rng(seed)
    weights = (rng.standard_normal(n - 1) * weight_std).astype(np.float32).tolist()
    return {"version": "0.7.0", "architecture": "WaveNet", "config": config,
            "weights": [*weights, float(np.float32(head_scale))], "sample_rate": sample_rate,
            "metadata": {"name": "namcheck built-in"}}


A1_PRESETS = {"standard": (16, 8), "lite": (12, 6), "feather": (8, 4), "nano": (4, 2)}
A1_STANDARD_DILATIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def a1_doc(preset: str, seed: int = 0) -> dict[str, Any]:
    """NAM's A1 presets: standard has two arrays of dilations 1..512; the smaller presets
    split them 7 + 13 as the trainer does."""
    channels, head = A1_PRESETS[preset]
    if preset != "standard":
        return wavenet_doc(_a1_arrays(channels, head), seed=seed)
    layers = _a1_arrays(channels, head)
    layers[0]["dilations"] = list(A1_STANDARD_DILATIONS)
    layers[1]["dilations"] = list(A1_STANDARD_DILATIONS)
    return wavenet_doc(layers, seed=seed)


def a2_doc(channels: int = 8, seed: int = 0) -> dict[str, Any]:
    """The A2 shape (one array of 23 layers, kernels 6/15, LeakyReLU, head kernel 16)."""
    block = [1, 3, 7, 17, 41, 101, 239]
    layer = {"input_size": 1, "condition_size": 1, "channels": channels,
             "bottleneck": channels, "kernel_sizes": [6] * 14 + [15, 15] + [6] * 7,
             "dilations": block * 2 + [1, 13] + block,
             "activation": {"type": "LeakyReLU", "negative_slope": 0.01},
             "head": {"out_channels": 1, "kernel_size": 16, "bias": True}}
    return wavenet_doc([layer], seed=seed, head_scale=0.01, weight_std=0.2)


def builtin_doc() -> dict[str, Any]:
    """NAM's A1 "nano" shape (4/2 channels, 20 layers, R = 4093) with seed-0 weights."""
    return wavenet_doc(_a1_arrays(4, 2), seed=0)


def builtin_model() -> NamModel:
    """The built-in model (A1 nano shape, seed 0) as a NamModel."""
    return parse_nam(builtin_doc(), source=BUILTIN_NAME)


def _seeded(n: int, seed: int, std: float) -> list[float]:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * std).astype(np.float32).tolist()


def lstm_doc(hidden: int = 4, layers: int = 1, seed: int = 0) -> dict[str, Any]:
    """An LSTM `.nam` with seeded weights (h0/c0 included, as exported)."""
    from namcheck.models.format.layout import lstm_weight_count

    n = lstm_weight_count(1, hidden, layers, 1)
    return {"version": "0.5.0", "architecture": "LSTM", "sample_rate": 48000,
            "config": {"input_size": 1, "hidden_size": hidden, "num_layers": layers},
            "weights": _seeded(n, seed, 0.5)}


def linear_doc(taps: int = 16, seed: int = 0) -> dict[str, Any]:
    """A Linear (FIR) `.nam` with seeded taps and a bias."""
    return {"version": "0.5.0", "architecture": "Linear", "sample_rate": 48000,
            "config": {"receptive_field": taps, "bias": True},
            "weights": _seeded(taps + 1, seed, 0.3)}


def convnet_doc(channels: int = 3, dilations: tuple[int, ...] = (1, 2, 4), seed: int = 0
                ) -> dict[str, Any]:
    """A ConvNet `.nam` without batchnorm, seeded weights."""
    n = sum(channels * (1 if i == 0 else channels) * 2 + channels
            for i in range(len(dilations))) + channels + 1
    return {"version": "0.5.0", "architecture": "ConvNet", "sample_rate": 48000,
            "config": {"channels": channels, "dilations": list(dilations), "batchnorm": False,
                       "activation": "Tanh"}, "weights": _seeded(n, seed, 0.5)}


def container_doc(submodels: list[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    """A SlimmableContainer of (max_value, model document) pairs, ascending."""
    return {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],
            "sample_rate": 48000,
            "config": {"submodels": [{"max_value": v, "model": m} for v, m in submodels]}}


def legacy_a1_doc(seed: int = 0) -> dict[str, Any]:
    """The built-in A1 nano shape written as a 0.5 file (head_size/head_bias layer arrays),
    which the runtime reads and upstream's `.nam` loader rejects."""
    doc = wavenet_doc(_a1_arrays(4, 2), seed=seed)
    doc["version"] = "0.5.0"
    for layer in doc["config"]["layers"]:
        head = layer.pop("head")
        layer["head_size"], layer["head_bias"] = head["out_channels"], head["bias"]
    return doc
