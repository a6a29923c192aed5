"""Cross-field rules of the runtime, one module per concern; :func:`check_structure` runs
those of a parsed model's architecture and raises :class:`NamFileError` with the JSON path.

Each rule takes the parsed model (or config) and `fail(relative path, message)`, whose
paths are relative to the model's `config`.
"""

from __future__ import annotations

from namcheck.models.format.errors import Fail, NamFileError, NamWarning, join
from namcheck.models.format.model import NamModel
from namcheck.models.format.rules import (
    chaining,
    condition_dsp,
    container,
    film,
    groups,
    head_scale,
    post_head,
    slimmable,
)
from namcheck.models.format.schema import (
    ContainerConfig,
    ConvNetConfig,
    LSTMConfig,
    WaveNetConfig,
)


def check_structure(model: NamModel, prefix: str) -> None:
    """Every cross-field rule for `model` (found at JSON path `prefix` in its file)."""
    cfg_path = join(prefix, "config")

    def fail(rel: str, message: str) -> None:
        raise NamFileError(model.source, join(cfg_path, rel) if rel else cfg_path, message)

    cfg = model.config
    if isinstance(cfg, WaveNetConfig):
        check_wavenet(model, cfg, fail)  # type: ignore[arg-type]
    elif isinstance(cfg, ConvNetConfig):
        groups.check_convnet(cfg, fail)  # type: ignore[arg-type]
    elif isinstance(cfg, LSTMConfig):
        chaining.check_lstm_input(cfg, fail)  # type: ignore[arg-type]
    elif isinstance(cfg, ContainerConfig):
        container.check(model, cfg, fail)  # type: ignore[arg-type]


def check_wavenet(model: NamModel, cfg: WaveNetConfig, fail: Fail) -> None:
    """The WaveNet rules, array by array, then the whole model's."""
    chaining.check_model_input(model, cfg, fail)
    if model.condition_dsp is not None:
        condition_dsp.check_input(model.condition_dsp, cfg, fail)
    for a, la in enumerate(cfg.layers):
        p = f"layers[{a}]"
        groups.check_array(la, p, fail)
        film.check(la, p, fail)
        if a > 0:
            chaining.check_arrays(cfg.layers[a - 1], la, a, fail)
    post_head.check(cfg, fail)
    slimmable.check(cfg, fail)
    if model.condition_dsp is not None:
        condition_dsp.check(model, model.condition_dsp, cfg, fail)


def warnings_of(model: NamModel, prefix: str) -> list[NamWarning]:
    """Legal but noteworthy content of `model` itself (not its nested models)."""
    return head_scale.warnings_of(model, join(prefix, "config"))
