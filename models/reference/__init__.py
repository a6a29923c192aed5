"""The PyTorch reference forward: every architecture, float32 or float64, CPU or CUDA.

It follows the C++ runtime (NeuralAmpModelerCore) and is what every other engine is checked
against. `load(model)` builds it; it satisfies the Engine protocol (models/engines.py).
"""

from namcheck.models.reference.base import NamModule, Streamer
from namcheck.models.reference.loader import load, load_submodels

__all__ = ["NamModule", "Streamer", "load", "load_submodels"]
