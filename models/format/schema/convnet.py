"""The ConvNet config (NAM_FORMAT §6.2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from namcheck.models.format.schema.base import Activations, PosInt, Schema


class ConvNetConfig(Schema):
    """A ConvNet config: channels, one block per dilation, batchnorm, activation, groups."""

    channels: PosInt
    dilations: Annotated[list[PosInt], Field(min_length=1)]
    batchnorm: bool
    activation: Activations
    groups: PosInt = 1
    in_channels: PosInt = 1
    out_channels: PosInt = 1
