"""Channel-slicing slimmable WaveNets (NAM_FORMAT §7.1; NAM/wavenet/slimmable.cpp): the
allowed channel counts of each slimmable array, at least one such array, no post-stack
head. Groups and the head kernel matter only when a smaller size is played
(:func:`slice_refusal`)."""

from __future__ import annotations

import itertools

from namcheck.models.format.errors import Fail
from namcheck.models.format.schema import WaveNetConfig


def check(cfg: WaveNetConfig, fail: Fail) -> None:
    """Rules of a WaveNet whose arrays the runtime reads as slimmable."""
    if not any(la.slimmable is not None for la in cfg.layers):
        return
    for a, la in enumerate(cfg.layers):
        allowed = la.allowed_channels
        if allowed is None:
            continue
        at = f"layers[{a}].slimmable.kwargs.allowed_channels"
        if any(b <= x for x, b in itertools.pairwise(allowed)):
            fail(at, "must be strictly ascending")
        if allowed[-1] != la.channels:
            fail(at, f"last entry {allowed[-1]} must equal channels {la.channels}")
    if cfg.head is not None:
        fail("head", "a slimmable WaveNet cannot have a post-stack head")


def slice_refusal(cfg: WaveNetConfig) -> tuple[str, str] | None:
    """(config path, reason) why the runtime refuses to play this slimmable WaveNet below
    full size (it checks every array when it slices), or None."""
    for a, la in enumerate(cfg.layers):
        if la.head_kernel != 1:
            return (f"layers[{a}].head.kernel_size", "the runtime slims only arrays whose "
                    "head rechannel kernel_size is 1")
        groups = {"groups_input": la.groups_input, "groups_input_mixin": la.groups_input_mixin,
                  "layer1x1.groups": la.layer1x1_groups if la.layer1x1_active else 1,
                  "head1x1.groups": la.head1x1.groups if la.head1x1 and la.head1x1.active
                  else 1}
        for key, g in groups.items():
            if g != 1:
                return (f"layers[{a}].{key}", f"the runtime slims only arrays with {key} 1")
    return None
