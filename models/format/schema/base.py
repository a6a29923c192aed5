"""What every architecture's reader shares: the input/output channel keys that default
to 1 (`value("in_channels", 1)`: a null is refused)."""

from __future__ import annotations

from namcheck.models.format.access import Node


def channels_in_out(cfg: Node) -> tuple[int, int]:
    """(in_channels, out_channels), each defaulting to 1."""
    return (cfg.value_or("in_channels", 1, Node.to_positive_int),
            cfg.value_or("out_channels", 1, Node.to_positive_int))
