"""namcheck.models: `.nam` files, and the engines that run them behind one protocol
(`Engine`, models/engines.py): the PyTorch reference (models/reference/) and the fast C
engine (models/fast/). The exports are imported on first use (models/lazy_exports.py)."""

from typing import TYPE_CHECKING

from namcheck.models.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from namcheck.models.engines import Engine, EngineChoice, load_engine
    from namcheck.models.format import NamFileError, NamModel, NamWarning, read_nam, write_nam
    from namcheck.models.reference import NamModule, Streamer, load, load_submodels

_ENGINES, _FORMAT, _REFERENCE = ("namcheck.models.engines", "namcheck.models.format",
                                 "namcheck.models.reference")
__getattr__, __dir__ = lazy_exports(__name__, {
    "Engine": _ENGINES, "EngineChoice": _ENGINES, "load_engine": _ENGINES,
    "NamFileError": _FORMAT, "NamModel": _FORMAT, "NamWarning": _FORMAT,
    "read_nam": _FORMAT, "write_nam": _FORMAT,
    "NamModule": _REFERENCE, "Streamer": _REFERENCE, "load": _REFERENCE,
    "load_submodels": _REFERENCE,
})

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
