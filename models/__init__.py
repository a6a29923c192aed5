"""namcheck.models: `.nam` files and the reference forward passes."""

from namcheck.models.base import NamModule, Streamer
from namcheck.models.engines import EngineChoice, load_engine
from namcheck.models.format import NamFileError, NamModel, NamWarning, read_nam, write_nam
from namcheck.models.loader import load, load_submodels

__all__ = [
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
