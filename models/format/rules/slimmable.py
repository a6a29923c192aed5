"""Channel-slicing slimmable layer arrays (NAM_FORMAT §7.1): the method, the allowed
channel counts, and what slicing needs (no post-stack head, groups 1, head kernel 1)."""

from __future__ import annotations

import itertools

from namcheck.models.format.errors import Fail
from namcheck.models.format.schema import LayerArrayConfig, WaveNetConfig


def check(la: LayerArrayConfig, p: str, cfg: WaveNetConfig, fail: Fail) -> None:
    """Rules of `la.slimmable` (nothing to check when it is absent or null)."""
    if la.slimmable is None:
        return
    if la.slimmable.method != "slice_channels_uniform":
        fail(f"{p}.slimmable.method", f"unknown slimming method {la.slimmable.method!r} "
             "(the runtime knows 'slice_channels_uniform')")
    allowed = la.allowed_channels
    assert allowed is not None
    if not allowed or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0
                              for c in allowed):
        fail(f"{p}.slimmable.kwargs.allowed_channels", "expected a list of positive integers")
    if any(b <= a for a, b in itertools.pairwise(allowed)):
        fail(f"{p}.slimmable.kwargs.allowed_channels", "must be strictly ascending")
    if allowed[-1] != la.channels:
        fail(f"{p}.slimmable.kwargs.allowed_channels", f"last entry {allowed[-1]} must equal "
             f"channels {la.channels}")
    if cfg.head is not None:
        fail("head", "a slimmable WaveNet cannot have a post-stack head")
    groups = (la.groups_input, la.groups_input_mixin, la.layer1x1_groups,
              la.head1x1.groups if la.head1x1_active and la.head1x1 else 1)
    if any(g != 1 for g in groups):
        fail(p, "a slimmable layer array needs all groups = 1")
    if len(allowed) > 1 and la.head_kernel != 1:
        fail(f"{p}.head.kernel_size", "a slimmable layer array needs a head kernel of 1")
