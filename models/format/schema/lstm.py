"""The LSTM config (NAM_FORMAT §5; `nam::lstm::parse_config_json`, NAM/lstm.cpp)."""

from __future__ import annotations

from dataclasses import dataclass

from namcheck.models.format.access import Node
from namcheck.models.format.schema.base import channels_in_out


@dataclass(frozen=True)
class LSTMConfig:
    """An LSTM config: input_size, hidden_size, num_layers, in/out channels."""

    input_size: int
    hidden_size: int
    num_layers: int
    in_channels: int = 1
    out_channels: int = 1


def read(cfg: Node) -> LSTMConfig:
    """num_layers, input_size, hidden_size are read unchecked (must be there); the
    channel counts default to 1."""
    cfg.require_object()
    num_layers = cfg.at("num_layers").to_positive_int()
    input_size = cfg.at("input_size").to_positive_int()
    hidden = cfg.at("hidden_size").to_positive_int()
    return LSTMConfig(input_size, hidden, num_layers, *channels_in_out(cfg))
