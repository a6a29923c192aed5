"""The runtime's A2 fast-path detector (`is_a2_shape`, NAM/wavenet/a2_fast.cpp;
RUNTIME_READING.md §10.2-10.3), ported check for check.

A WaveNet config of exactly the A2 shape never reaches the generic reader: the runtime
plays it on a hand-written path that reads fewer keys, so some values the generic reader
refuses play there (a null FiLM slot, `head1x1: null`, `gated: 1`, layer1x1 without
`groups`). The detector's `value()` calls still throw on a wrongly typed value when they
are reached, which refuses the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from namcheck.models.format.access import Node

NUM_LAYERS = 23
HEAD_KERNEL = 16
LEAKY_SLOPE = 0.01
KERNEL_SIZES = (6,) * 14 + (15, 15) + (6,) * 7
DILATIONS = (1, 3, 7, 17, 41, 101, 239, 1, 3, 7, 17, 41, 101, 239, 1, 13,
             1, 3, 7, 17, 41, 101, 239)
_FLOAT_EPS = 1e-7  # close_to: |v - 0.01f| <= 1e-7f in float32
_FILM_SLOTS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film",
               "input_mixin_post_film", "activation_pre_film", "activation_post_film",
               "layer1x1_post_film", "head1x1_post_film")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def detect(cfg: Node) -> int | None:
    """The A2 channel count (3 or 8) if `cfg` has the A2 shape, else None; raises
    NamFileError where the detector's own reads throw."""
    if not cfg.has("layers") or not isinstance(cfg.value["layers"], list):
        return None
    if len(cfg.value["layers"]) != 1:
        return None
    if cfg.has_value("head") or cfg.has_value("condition_dsp"):
        return None
    head_scale = cfg.value.get("head_scale")
    if isinstance(head_scale, bool) or not isinstance(head_scale, (int, float)):
        return None
    if cfg.value_or("in_channels", 1, Node.to_int) != 1:
        return None
    la = cfg.child("layers").child(0)
    if la.value_or("input_size", 0, Node.to_int) != 1:
        return None
    if la.value_or("condition_size", 0, Node.to_int) != 1:
        return None
    ch = la.value_or("channels", 0, Node.to_int)
    if ch != la.value_or("bottleneck", 0, Node.to_int) or ch not in (3, 8):
        return None
    for key, expected in (("kernel_sizes", KERNEL_SIZES), ("dilations", DILATIONS)):
        values = la.value.get(key)
        if not isinstance(values, list) or len(values) != NUM_LAYERS:
            return None
        if not all(_is_int(v) and v == e for v, e in zip(values, expected, strict=True)):
            return None
    if not _activations_match(la):
        return None
    if not _gating_matches(la):
        return None
    if la.has("head1x1") and isinstance(la.value["head1x1"], dict) and (
        la.child("head1x1").value_or("active", False, Node.to_bool)
    ):
        return None
    if not la.has("layer1x1") or not isinstance(la.value["layer1x1"], dict):
        return None
    l1 = la.child("layer1x1")
    if not l1.value_or("active", False, Node.to_bool) or l1.value_or("groups", 1, Node.to_int) != 1:
        return None
    if not la.has("head") or not isinstance(la.value["head"], dict):
        return None
    head = la.child("head")
    if (head.value_or("out_channels", 0, Node.to_int) != 1
            or head.value_or("kernel_size", 0, Node.to_int) != HEAD_KERNEL
            or head.value_or("head_dilation", 1, Node.to_int) != 1
            or not head.value_or("bias", False, Node.to_bool)):
        return None
    if not all(_film_inactive(la, slot) for slot in _FILM_SLOTS):
        return None
    if la.value_or("groups_input", 1, Node.to_int) != 1:
        return None
    if la.value_or("groups_input_mixin", 1, Node.to_int) != 1:
        return None
    if la.has_value("slimmable"):
        return None
    return ch


def _activations_match(la: Node) -> bool:
    acts = la.value.get("activation")
    if not isinstance(acts, list) or len(acts) != NUM_LAYERS:
        return False
    for node in la.child("activation").items():
        if not isinstance(node.value, dict):
            return False
        if node.value_or("type", "", Node.to_str) != "LeakyReLU":
            return False
        slope = node.value_or("negative_slope", 0.0, Node.to_float)
        if abs(_f32(slope) - _f32(LEAKY_SLOPE)) > _FLOAT_EPS:
            return False
    return True


def _gating_matches(la: Node) -> bool:
    gm = la.value.get("gating_mode")
    if gm is not None and not (isinstance(gm, list) and len(gm) == NUM_LAYERS
                               and all(g == "none" for g in gm)):
        return False
    if la.value.get("gated") is True:
        return False
    sa = la.value.get("secondary_activation")
    return sa is None or (isinstance(sa, list) and len(sa) == NUM_LAYERS
                          and all(s is None for s in sa))


def _film_inactive(la: Node, slot: str) -> bool:
    value = la.value.get(slot)
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, dict):
        return not la.child(slot).value_or("active", False, Node.to_bool)
    return False


def _f32(x: float) -> float:
    return float(np.float32(x))
