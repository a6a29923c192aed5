"""The LSTM config (NAM_FORMAT §5)."""

from __future__ import annotations

from namcheck.models.format.schema.base import PosInt, Schema


class LSTMConfig(Schema):
    """An LSTM config: input_size, hidden_size, num_layers, in/out channels."""

    input_size: PosInt
    hidden_size: PosInt
    num_layers: PosInt
    in_channels: PosInt = 1
    out_channels: PosInt = 1
