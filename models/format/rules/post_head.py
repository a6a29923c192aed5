"""The post-stack head of a WaveNet (NAM_FORMAT §3.1): it reads the last array's head
output (a stated `in_channels` must say so)."""

from __future__ import annotations

from namcheck.models.format.errors import Fail
from namcheck.models.format.schema import WaveNetConfig


def check(cfg: WaveNetConfig, fail: Fail) -> None:
    """Rules of `cfg.head` (nothing to check without one)."""
    if cfg.head is None:
        return
    last = cfg.layers[-1].head_out_channels
    if cfg.head.in_channels is not None and cfg.head.in_channels != last:
        fail("head.in_channels", f"expected {last} (head size of the last layer array)")
