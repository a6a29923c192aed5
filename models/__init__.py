"""namcheck.models: `.nam` files, and the engines that run them behind one protocol
(`Engine`, models/engines.py): the PyTorch reference (models/reference/) and the fast C
engine (models/fast/)."""

from namcheck.models.engines import Engine, EngineChoice, load_engine
from namcheck.models.format import NamFileError, NamModel, NamWarning, read_nam, write_nam
from namcheck.models.reference import NamModule, Streamer, load, load_submodels

__all__ = [
    "Engine",
    "EngineChoice",
    "NamFileError",
    "NamModel",
    "NamModule",
    "NamWarning",
    "Streamer",
    "load",
    "load_engine",
    "load_submodels",
    "read_nam",
    "write_nam",
]
