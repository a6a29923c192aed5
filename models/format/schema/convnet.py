"""The ConvNet config (NAM_FORMAT §6.2; `nam::convnet::parse_config_json`)."""

from __future__ import annotations

from dataclasses import dataclass

from namcheck.models.format.access import Node
from namcheck.models.format.activations import (
    ActivationSpec,
    read_activation,
    runtime_slopes,
    slopes_note,
)
from namcheck.models.format.schema.base import channels_in_out


@dataclass(frozen=True)
class ConvNetConfig:
    """A ConvNet config: channels, one block per dilation, batchnorm, activation, groups."""

    channels: int
    dilations: tuple[int, ...]
    batchnorm: bool
    activation: ActivationSpec
    groups: int = 1
    in_channels: int = 1
    out_channels: int = 1


def read(cfg: Node) -> ConvNetConfig:
    """channels, dilations, batchnorm and activation must be there; `activation` is one
    name or object (a list is refused, as the runtime refuses it)."""
    cfg.require_object()
    channels = cfg.at("channels").to_positive_int()
    dilations_node = cfg.at("dilations")
    dilations = tuple(dilations_node.to_ints())
    if not dilations:
        dilations_node.fail("expected a non-empty list (the runtime crashes on an empty one)")
    batchnorm = cfg.at("batchnorm").to_bool()
    activation_node = cfg.at("activation")
    activation = read_activation(activation_node)
    groups = cfg.value_or("groups", 1, Node.to_positive_int)
    applied = runtime_slopes(activation, channels, flat=True)  # over the block's rows
    if isinstance(applied, str):
        activation_node.fail(applied)
    if applied is not activation:
        activation_node.warn(slopes_note(activation, channels))
    activation = applied
    return ConvNetConfig(channels, dilations, batchnorm, activation, groups,
                         *channels_in_out(cfg))
