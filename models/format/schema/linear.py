"""The Linear (FIR) config (NAM_FORMAT §6.1)."""

from __future__ import annotations

from namcheck.models.format.schema.base import PosInt, Schema


class LinearConfig(Schema):
    """A Linear config: receptive_field taps, bias, in/out channels, implementation."""

    receptive_field: PosInt
    bias: bool
    in_channels: PosInt = 1
    out_channels: PosInt = 1
    implementation: str = "auto"
