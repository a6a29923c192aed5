"""head_scale (NAM_FORMAT §3.3): the runtime plays weights[-1]; a config value that
differs from it, or a negative one, is worth a warning."""

from __future__ import annotations

from namcheck.models.format.errors import NamWarning
from namcheck.models.format.model import NamModel
from namcheck.models.format.schema import WaveNetConfig
from namcheck.models.tolerances import HEAD_SCALE_REL_TOL


def warnings_of(model: NamModel, cfg_path: str) -> list[NamWarning]:
    """Warnings about a WaveNet's head_scale (none for other architectures)."""
    cfg = model.config
    if not isinstance(cfg, WaveNetConfig):
        return []
    warnings: list[NamWarning] = []
    tail = model.head_scale
    assert tail is not None
    if abs(cfg.head_scale - tail) > HEAD_SCALE_REL_TOL * max(abs(tail), abs(cfg.head_scale)):
        warnings.append(NamWarning(
            f"{cfg_path}.head_scale",
            f"config head_scale {cfg.head_scale!r} differs from weights[-1] {tail!r}; "
            "the runtime uses weights[-1]"))
    if tail < 0:
        warnings.append(NamWarning(
            f"{cfg_path}.head_scale",
            f"negative head_scale (weights[-1] = {tail!r}, config {cfg.head_scale!r}): "
            "a polarity-inverted model"))
    return warnings
