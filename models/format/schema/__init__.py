"""Config readers, one module per architecture: each reads a `config` object key by key
as the runtime's parser for that architecture does, into a frozen dataclass of resolved
values. `CONFIG_READERS` maps the file's `architecture` string to its reader."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from namcheck.models.format.access import Node, Reading
from namcheck.models.format.schema import container, convnet, linear, lstm, wavenet
from namcheck.models.format.schema.container import ContainerConfig, SubmodelEntry
from namcheck.models.format.schema.convnet import ConvNetConfig
from namcheck.models.format.schema.linear import LinearConfig
from namcheck.models.format.schema.lstm import LSTMConfig
from namcheck.models.format.schema.wavenet import (
    FILM_SLOTS,
    FiLMConfig,
    Head1x1Config,
    HeadRechannelConfig,
    Layer1x1Config,
    LayerArrayConfig,
    PostHeadConfig,
    SlimmableSpec,
    WaveNetConfig,
)

ArchConfig = WaveNetConfig | LSTMConfig | LinearConfig | ConvNetConfig | ContainerConfig
CONFIG_READERS: dict[str, Callable[[Node], ArchConfig]] = {
    "WaveNet": wavenet.read,
    "LSTM": lstm.read,
    "Linear": linear.read,
    "ConvNet": convnet.read,
    "SlimmableContainer": container.read,
}
ARCHITECTURES = tuple(CONFIG_READERS)


def parse_config(architecture: str, config: Any, source: str = "<config>") -> ArchConfig:
    """Read a bare `config` object of `architecture` (raises NamFileError)."""
    return CONFIG_READERS[architecture](Node(config, "config", Reading(source)))


__all__ = [
    "ARCHITECTURES",
    "CONFIG_READERS",
    "FILM_SLOTS",
    "ArchConfig",
    "ContainerConfig",
    "ConvNetConfig",
    "FiLMConfig",
    "Head1x1Config",
    "HeadRechannelConfig",
    "LSTMConfig",
    "Layer1x1Config",
    "LayerArrayConfig",
    "LinearConfig",
    "PostHeadConfig",
    "SlimmableSpec",
    "SubmodelEntry",
    "WaveNetConfig",
    "parse_config",
]
