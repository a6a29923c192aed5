"""The Linear (FIR) config (NAM_FORMAT §6.1; `nam::linear::parse_config_json`)."""

from __future__ import annotations

from dataclasses import dataclass

from namcheck.models.format.access import Node
from namcheck.models.format.errors import short
from namcheck.models.format.schema.base import channels_in_out

# `implementation` values the runtime knows (case-insensitive), by what they select.
IMPLEMENTATIONS = {"auto": "auto", "direct": "direct", "legacy": "direct", "old": "direct",
                   "fft": "fft", "partitioned_fft": "fft", "partitioned-fft": "fft"}


@dataclass(frozen=True)
class LinearConfig:
    """A Linear config: receptive_field taps, bias, in/out channels, implementation."""

    receptive_field: int
    bias: bool
    in_channels: int = 1
    out_channels: int = 1
    implementation: str = "auto"


def read(cfg: Node) -> LinearConfig:
    cfg.require_object()
    taps = cfg.at("receptive_field").to_positive_int()
    bias = cfg.at("bias").to_bool()
    in_channels, out_channels = channels_in_out(cfg)
    implementation = cfg.value_or("implementation", "auto", Node.to_str)
    if implementation.lower() not in IMPLEMENTATIONS:
        cfg.child("implementation").fail(
            f"unknown implementation {short(implementation)} (the runtime knows "
            f"{', '.join(IMPLEMENTATIONS)})")
    return LinearConfig(taps, bias, in_channels, out_channels, implementation)
