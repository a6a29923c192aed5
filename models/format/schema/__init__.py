"""Config schemas, one module per architecture; `CONFIG_SCHEMAS` maps the file's
`architecture` string to its schema."""

from __future__ import annotations

from namcheck.models.format.schema.base import Schema
from namcheck.models.format.schema.container import ContainerConfig, SubmodelEntry
from namcheck.models.format.schema.convnet import ConvNetConfig
from namcheck.models.format.schema.linear import LinearConfig
from namcheck.models.format.schema.lstm import LSTMConfig
from namcheck.models.format.schema.wavenet import (
    FILM_SLOTS,
    FiLMConfig,
    GatingMode,
    Head1x1Config,
    HeadRechannelConfig,
    Layer1x1Config,
    LayerArrayConfig,
    PostHeadConfig,
    SlimmableSpec,
    WaveNetConfig,
)

ARCHITECTURES = ("WaveNet", "LSTM", "Linear", "ConvNet", "SlimmableContainer")

ArchConfig = WaveNetConfig | LSTMConfig | LinearConfig | ConvNetConfig | ContainerConfig
CONFIG_SCHEMAS: dict[str, type[Schema]] = {
    "WaveNet": WaveNetConfig,
    "LSTM": LSTMConfig,
    "Linear": LinearConfig,
    "ConvNet": ConvNetConfig,
    "SlimmableContainer": ContainerConfig,
}

__all__ = [
    "ARCHITECTURES",
    "CONFIG_SCHEMAS",
    "FILM_SLOTS",
    "ArchConfig",
    "ContainerConfig",
    "ConvNetConfig",
    "FiLMConfig",
    "GatingMode",
    "Head1x1Config",
    "HeadRechannelConfig",
    "LSTMConfig",
    "Layer1x1Config",
    "LayerArrayConfig",
    "LinearConfig",
    "PostHeadConfig",
    "Schema",
    "SlimmableSpec",
    "SubmodelEntry",
    "WaveNetConfig",
]
