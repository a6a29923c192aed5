"""Small seeded `.nam` documents the conformance suite is built from.

Weights come from a seeded generator (float32 values), so every machine writes the same
files. Each builder returns a complete model object (version, architecture, config,
weights, sample_rate) that namcheck's reader accepts; the suite then edits documents (or
their JSON text) to isolate one feature of the format at a time.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from namcheck.models.examples import a1_doc, a2_doc, container_doc, wavenet_doc

Doc = dict[str, Any]
VERSION = "0.7.0"
RATE = 48000


def seeded(n: int, seed: int, std: float) -> list[float]:
    """`n` normal values of standard deviation `std`, rounded to float32 (seeded)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * std).astype(np.float32).tolist()


def layer_array(input_size: int, channels: int, dilations: list[int], head_out: int, *,
                kernel: int = 3, head_bias: bool = True, **options: Any) -> Doc:
    """One WaveNet layer array in the 0.6+ form (`head` object); `options` are added as
    they are (activation, gating_mode, FiLM slots, kernel_sizes instead of kernel_size,
    ...). Activation Tanh, no gating."""
    array: Doc = {"input_size": input_size, "condition_size": 1, "channels": channels,
                  "kernel_size": kernel, "dilations": dilations, "activation": "Tanh",
                  "gating_mode": "none",
                  "head": {"out_channels": head_out, "kernel_size": 1, "bias": head_bias}}
    array.update(copy.deepcopy(options))
    if "kernel_sizes" in options:  # one of the two, never both
        del array["kernel_size"]
    return array


def wavenet(layers: list[Doc], seed: int, *, head_scale: float = 0.5, weight_std: float = 0.4,
            head: Doc | None = None, condition_dsp: Doc | None = None,
            sample_rate: float | None = RATE, version: str = VERSION) -> Doc:
    """A WaveNet document with seeded weights; `head_scale` is written in the config and
    as the last weight (as exporters do)."""
    doc = wavenet_doc(copy.deepcopy(layers), seed=seed, head_scale=head_scale, head=head,
                      weight_std=weight_std)
    doc["version"] = version
    doc.pop("metadata", None)
    if condition_dsp is not None:
        doc["config"]["condition_dsp"] = condition_dsp
    _rate(doc, sample_rate)
    return doc


def small_wavenet(seed: int, *, first: Doc | None = None, second: Doc | None = None,
                  **kwargs: Any) -> Doc:
    """Two layer arrays (the A1 pattern in miniature, R = 33): array 0 reads the input
    with 4 channels, kernel 3, dilations 1, 2, 4 and a 2-channel head; array 1 has 2
    channels, dilations 8, 1 and the 1-channel output head with bias. `first` / `second`
    update array 0 / 1 (a feature under test)."""
    a0 = layer_array(1, 4, [1, 2, 4], 2, head_bias=False, **(first or {}))
    a1 = layer_array(4, 2, [8, 1], 1, **(second or {}))
    return wavenet([a0, a1], seed, **kwargs)


def a1(preset: str, seed: int) -> Doc:
    """NAM's A1 preset `preset` (standard, lite, feather, nano) with seeded weights."""
    doc = a1_doc(preset, seed)
    doc.pop("metadata", None)
    return doc


def a2(channels: int, seed: int) -> Doc:
    """The A2 shape (one array of 23 layers, kernels 6 and 15, LeakyReLU(0.01), head
    kernel 16), which NeuralAmpModelerCore routes to its hand-written fast path for 3 and
    8 channels."""
    doc = a2_doc(channels, seed)
    doc.pop("metadata", None)
    return doc


def lstm(hidden: int, layers: int, seed: int, *, sample_rate: float | None = RATE,
         version: str = VERSION, state_std: float = 0.8) -> Doc:
    """An LSTM with seeded weights and a stored initial state h0/c0 far from zero (so the
    prewarm that runs from it matters)."""
    weights: list[float] = []
    rng_seed = seed
    for layer in range(layers):
        width = 1 if layer == 0 else hidden
        weights += seeded(4 * hidden * (width + hidden) + 4 * hidden, rng_seed, 0.5)
        weights += seeded(2 * hidden, rng_seed + 1000, state_std)  # h0, c0
        rng_seed += 1
    weights += seeded(hidden + 1, seed + 2000, 0.5)  # head
    doc: Doc = {"version": version, "architecture": "LSTM",
                "config": {"input_size": 1, "hidden_size": hidden, "num_layers": layers},
                "weights": weights}
    return _rate(doc, sample_rate)


def linear(taps: int, seed: int, *, bias: bool = True, sample_rate: float | None = RATE
           ) -> Doc:
    """A Linear (FIR) model: `taps` seeded taps decaying in time (h[0] the largest, an
    asymmetric impulse response whose reversal is audible), then a bias if `bias`."""
    h = np.asarray(seeded(taps, seed, 0.5)) * np.exp(-np.arange(taps) / max(taps / 4, 1))
    weights = h.astype(np.float32).tolist() + (seeded(1, seed + 1, 0.1) if bias else [])
    doc: Doc = {"version": VERSION, "architecture": "Linear",
                "config": {"receptive_field": taps, "bias": bias}, "weights": weights}
    return _rate(doc, sample_rate)


def convnet(channels: int, dilations: list[int], seed: int, *, batchnorm: bool = False,
            activation: Any = "Tanh", sample_rate: float | None = RATE) -> Doc:
    """A ConvNet (kernel-2 blocks, then a 1x1 head); with `batchnorm`, each block stores
    running mean, a positive running variance, weight, bias and eps (folded at load)."""
    weights: list[float] = []
    cin = 1
    for i, _ in enumerate(dilations):
        weights += seeded(channels * cin * 2 + (0 if batchnorm else channels), seed + i, 0.6)
        if batchnorm:
            rng = np.random.default_rng(seed + 100 + i)
            weights += rng.normal(0.0, 0.2, channels).astype(np.float32).tolist()  # mean
            weights += rng.uniform(0.5, 2.0, channels).astype(np.float32).tolist()  # var
            weights += rng.uniform(0.5, 1.5, channels).astype(np.float32).tolist()  # weight
            weights += rng.normal(0.0, 0.2, channels).astype(np.float32).tolist()  # bias
            weights.append(1e-5)  # eps
        cin = channels
    weights += seeded(channels + 1, seed + 200, 0.6)
    doc: Doc = {"version": VERSION, "architecture": "ConvNet",
                "config": {"channels": channels, "dilations": dilations,
                           "batchnorm": batchnorm, "activation": activation},
                "weights": weights}
    return _rate(doc, sample_rate)


def container(submodels: list[tuple[float, Doc]], *, sample_rate: float | None = RATE) -> Doc:
    """A SlimmableContainer of (max_value, model) pairs, ascending."""
    doc = container_doc([(v, copy.deepcopy(m)) for v, m in submodels])
    return _rate(doc, sample_rate)


def _rate(doc: Doc, sample_rate: float | None) -> Doc:
    if sample_rate is None:
        doc.pop("sample_rate", None)
    else:
        doc["sample_rate"] = sample_rate
    return doc
