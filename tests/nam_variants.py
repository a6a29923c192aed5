"""Small seeded `.nam` documents and edits of them, shared by the runtime-reading tests.

Each builder returns a complete document with seeded weights (models/examples.py), small
enough to render in a fraction of a second, and covering the keys the runtime reads: a
two-array WaveNet, a gated one with FiLM, head1x1 and a post-stack head, a legacy 0.5 file,
the A2 fast path's exact shape, a WaveNet with a condition DSP, LSTM, Linear, ConvNet (with
batchnorm) and a SlimmableContainer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from namcheck.models.examples import (
    a2_doc,
    container_doc,
    convnet_doc,
    legacy_a1_doc,
    linear_doc,
    lstm_doc,
    wavenet_doc,
)
from namcheck.models.format.layout import wavenet_spec
from namcheck.models.format.schema import parse_config

Doc = dict[str, Any]
DELETE = object()


def small_wavenet(**layer: Any) -> Doc:
    """Two small layer arrays (4 then 2 channels); `layer` edits the first array."""
    arrays = [{"input_size": 1, "condition_size": 1, "channels": 4, "kernel_size": 3,
               "dilations": [1, 2], "activation": "Tanh",
               "head": {"out_channels": 2, "kernel_size": 1, "bias": False}},
              {"input_size": 4, "condition_size": 1, "channels": 2, "kernel_size": 2,
               "dilations": [1, 4], "activation": "Tanh",
               "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}]
    arrays[0].update(layer)
    return wavenet_doc(arrays, seed=1)


def gated_wavenet() -> Doc:
    return small_wavenet(gating_mode=["gated", "none"],
                         secondary_activation=["Sigmoid", None])


def featured_wavenet() -> Doc:
    """Gating lists, a FiLM, head1x1, layer1x1 groups, a post-stack head: many keys."""
    layer = {"input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 2,
             "kernel_sizes": [3, 2], "dilations": [1, 3],
             "activation": ["Tanh", {"type": "LeakyReLU", "negative_slope": 0.1}],
             "gating_mode": ["blended", "none"], "secondary_activation": ["Sigmoid", None],
             "groups_input": 1, "groups_input_mixin": 1,
             "layer1x1": {"active": True, "groups": 2},
             "head1x1": {"active": True, "out_channels": 2, "groups": 1},
             "head": {"out_channels": 2, "kernel_size": 2, "bias": True, "head_dilation": 1},
             "conv_pre_film": {"active": True, "shift": True, "groups": 1},
             "activation_post_film": {"active": False, "shift": True, "groups": 1},
             "slimmable": None}
    head = {"channels": 2, "out_channels": 1, "kernel_sizes": [2], "activation": "ReLU"}
    return wavenet_doc([layer], seed=7, head=head)


def prelu_wavenet(slopes: list[float]) -> Doc:
    return small_wavenet(activation={"type": "PReLU", "negative_slopes": slopes})


def legacy_wavenet() -> Doc:
    doc = legacy_a1_doc(seed=3)
    doc["config"]["layers"][0]["gated"] = False
    return doc


def a2_shaped() -> Doc:
    """The A2 fast path's exact shape (a per-layer activation list), 3 channels."""
    doc = a2_doc(3, seed=2)
    layer = doc["config"]["layers"][0]
    layer["activation"] = [{"type": "LeakyReLU", "negative_slope": 0.01}] * 23
    layer["layer1x1"] = {"active": True, "groups": 1}
    return doc


def with_dsp(dsp_rate: float | None = 48000, rate: float | None = 48000) -> Doc:
    """A WaveNet whose condition DSP is a Linear model, at the given rates (None: absent)."""
    doc = small_wavenet()
    dsp = linear_doc(4, seed=3)
    for d, r in ((doc, rate), (dsp, dsp_rate)):
        d.pop("sample_rate")
        if r is not None:
            d["sample_rate"] = r
    doc["config"]["condition_dsp"] = dsp
    return doc


def two_lstms() -> Doc:
    return container_doc([(0.5, lstm_doc(3, seed=4)), (1.0, lstm_doc(3, seed=5))])


def mixed_container() -> Doc:
    return container_doc([(0.5, lstm_doc(3, seed=4)), (1.0, small_wavenet())])


def small_convnet() -> Doc:
    return convnet_doc(3, (1, 2), seed=6)


def batchnorm_convnet() -> Doc:
    doc = convnet_doc(2, (1, 2), seed=8)
    cfg = doc["config"]
    cfg["batchnorm"] = True
    blocks = [2 * 1 * 2, 2 * 2 * 2]  # conv weights without bias, then 4C+1 batchnorm values
    rng = np.random.default_rng(9)
    weights: list[float] = []
    for n in blocks:
        weights += rng.standard_normal(n).tolist()
        weights += [0.1, -0.2, 1.5, 0.8, 1.1, 0.9, 0.05, -0.05, 1e-5]  # mean, var, w, b, eps
    weights += rng.standard_normal(2 + 1).tolist()  # head 1x2 and its bias
    doc["weights"] = weights
    return doc


def weight_count(config: dict[str, Any]) -> int:
    return wavenet_spec(parse_config("WaveNet", config)).n_weights


# --------------------------------------------------------------------------- edits
def keys(path: str) -> list[str | int]:
    """'config.layers[0].head' -> ['config', 'layers', 0, 'head']."""
    return [int(k) if k.lstrip("-").isdigit() else k
            for k in re.split(r"\.|\[|\]\.?", path) if k != ""]


def setter(path: str, value: Any) -> Callable[[Doc], None]:
    """An edit that sets the value at a dotted path (DELETE removes the key)."""
    def edit(doc: Doc) -> None:
        *parents, last = keys(path)
        node = doc
        for key in parents:
            node = node[key]
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return edit


def both(*edits: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        for e in edits:
            e(doc)
    return edit


def leaves(node: Any, path: str = "", max_items: int = 3) -> Iterator[tuple[str, Any]]:
    """(JSON path, value) of every member and list element below `node` except weight
    lists (long lists: their first `max_items` elements)."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            yield sub, value
            if key != "weights":
                yield from leaves(value, sub, max_items)
    elif isinstance(node, list):
        for i, value in enumerate(node[:max_items]):
            sub = f"{path}[{i}]"
            yield sub, value
            yield from leaves(value, sub, max_items)
