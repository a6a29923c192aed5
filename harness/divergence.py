"""Config features that the C++ runtime and upstream's PyTorch play differently
(NAM_FORMAT §8), found by reading a file, without running upstream.

Each finding names the JSON path and the cause in a NAM developer's words. `inspect` and
`audit` print them as warnings; `compare` uses them to explain a measured difference, and
`explain_loudness` a stored loudness that differs from the measured one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from namcheck.harness import checks as C
from namcheck.harness.core import Options, Signal, measure
from namcheck.models.format import NamModel
from namcheck.models.format.schema import ConvNetConfig, LinearConfig, LSTMConfig, WaveNetConfig
from namcheck.models.tolerances import HEAD_SCALE_REL_TOL, UPSTREAM_HEAD_SCALE_TOL

# Hardtanh's clamp bounds in the runtime, whatever the file says (NAM_FORMAT §4).
RUNTIME_HARDTANH = (-1.0, 1.0)
# Files upstream's .nam loader cannot read at all (inspect's upstream_loader fact).
UPSTREAM_UNREADABLE = frozenset({"legacy_layer_array", "no_upstream_reader",
                                 "gating_unreadable_upstream"})
NOT_PLAYED_DIFFERENTLY = UPSTREAM_UNREADABLE | {"lstm_start_state"}


@dataclass(frozen=True)
class Divergence:
    """One place where the runtime and upstream's PyTorch disagree about a file."""

    path: str
    cause: str  # stable code: linear_tap_order, layer1x1_inactive, ...
    message: str

    @property
    def plays_differently(self) -> bool:
        """The same file sounds different in the two (inspect/audit warn); the others are
        files upstream's loader cannot read, or an exporter's state (compare's causes)."""
        return self.cause not in NOT_PLAYED_DIFFERENTLY

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def runtime_divergences(model: NamModel, prefix: str = "") -> list[Divergence]:
    """Every feature of `model` (and nested models) that the runtime plays differently
    from upstream's PyTorch model, or that upstream's `.nam` loader cannot read."""
    at = (lambda key: f"{prefix}.{key}") if prefix else (lambda key: key)
    out: list[Divergence] = []
    cfg = model.config
    if isinstance(cfg, LinearConfig):
        taps = model.weights[: cfg.receptive_field]
        if cfg.receptive_field > 1 and any(taps != taps[::-1]):
            out.append(Divergence(at("weights"), "linear_tap_order",
                                  "Linear tap order: the runtime applies weights[0] to the "
                                  "newest sample (a convolution), PyTorch's Conv1d to the "
                                  "oldest; upstream plays the impulse response time-reversed"))
    elif isinstance(cfg, ConvNetConfig):
        out.append(Divergence(at("architecture"), "no_upstream_reader",
                              "upstream's .nam loader (init_from_nam) has no ConvNet reader"))
    elif isinstance(cfg, LSTMConfig):
        out.append(Divergence(at("weights"), "lstm_start_state",
                              "LSTM start state: the runtime starts from the file's h0/c0 and "
                              "prewarms on zeros (docs/nam_format_notes.md §5); a trainer's "
                              "in-memory model starts elsewhere, so the first ~0.5 s differ"))
    elif isinstance(cfg, WaveNetConfig):
        out.extend(_wavenet_divergences(model, cfg, at))
    if model.submodels:
        out.append(Divergence(at("architecture"), "no_upstream_reader",
                              "upstream's .nam loader (init_from_nam) has no "
                              "SlimmableContainer reader (KeyError 'SlimmableContainer')"))
    for i, sub in enumerate(model.submodels):
        out.extend(runtime_divergences(sub.model, at(f"config.submodels[{i}].model")))
    return out


def _wavenet_divergences(model: NamModel, cfg: WaveNetConfig, at: Any) -> list[Divergence]:
    out: list[Divergence] = []
    raw_layers = model.data["config"]["layers"]
    for a, la in enumerate(cfg.layers):
        p = at(f"config.layers[{a}]")
        if la.head_size is not None and la.head is None:
            out.append(Divergence(f"{p}.head_size", "legacy_layer_array",
                                  "legacy 0.5 layer array (head_size/head_bias): the runtime "
                                  "reads it, upstream's loader fails (KeyError 'head')"))
        if not la.layer1x1_active:
            out.append(Divergence(f"{p}.layer1x1.active", "layer1x1_inactive",
                                  "layer1x1 inactive: the runtime adds nothing to the residual, "
                                  "PyTorch adds the activation output"))
        if la.film("layer1x1_post_film") is not None:
            modes = sorted({la.gating_of(i) for i in range(la.num_layers)} - {"blended"})
            if modes:
                kinds = "/".join("ungated" if m == "none" else m for m in modes)
                out.append(Divergence(f"{p}.layer1x1_post_film", "layer1x1_post_film",
                                      f"layer1x1_post_film on {kinds} layers: the runtime "
                                      "applies it only to blended layers, PyTorch to every "
                                      "layer"))
        gating = _upstream_gating(raw_layers[a], la)
        if gating is not None:
            out.append(Divergence(f"{p}.gating_mode", *gating))
        for key in ("activation", "secondary_activation"):
            for path, bounds in _hardtanh_bounds(raw_layers[a].get(key), f"{p}.{key}"):
                out.append(Divergence(path, "hardtanh_bounds",
                                      f"Hardtanh with bounds {bounds}: the runtime ignores "
                                      f"them and clamps to {list(RUNTIME_HARDTANH)}, PyTorch "
                                      "uses them"))
    if cfg.head is not None:
        raw = model.data["config"]["head"].get("activation")
        for path, bounds in _hardtanh_bounds(raw, at("config.head.activation")):
            out.append(Divergence(path, "hardtanh_bounds",
                                  f"Hardtanh with bounds {bounds}: the runtime ignores them "
                                  f"and clamps to {list(RUNTIME_HARDTANH)}, PyTorch uses them"))
    if model.condition_dsp is not None:
        out.append(Divergence(at("config.condition_dsp"), "condition_dsp_dropped",
                              "condition_dsp: the runtime builds and uses it, upstream's "
                              ".nam loader drops it (the condition is then the raw input)"))
        out.extend(runtime_divergences(model.condition_dsp, at("config.condition_dsp")))
    tail, config_scale = model.head_scale, cfg.head_scale
    assert tail is not None
    diff = abs(config_scale - tail)
    if HEAD_SCALE_REL_TOL * max(abs(tail), abs(config_scale)) < diff <= UPSTREAM_HEAD_SCALE_TOL:
        out.append(Divergence(at("config.head_scale"), "head_scale_config_vs_tail",
                              f"config.head_scale {config_scale:.9g} differs from weights[-1] "
                              f"{tail:.9g} by {diff:.3g}: the runtime plays weights[-1], "
                              "upstream's loader keeps the config value (it takes the tail "
                              f"only beyond {UPSTREAM_HEAD_SCALE_TOL:g})"))
    return out


def _upstream_gating(raw: dict[str, Any], la: Any) -> tuple[str, str] | None:
    """(cause, message) where upstream's loader does not gate as the runtime does, or None.

    Upstream 0.13 (`nam.models.wavenet._packed._convert_export_layer_config`) turns
    `gating_mode` into gated activations only when `gating_mode` and `secondary_activation`
    are both present; it indexes them per layer, so one string is read letter by letter
    (its layers fail to build). With either key absent it drops `gating_mode` and builds
    ungated layers. The runtime gates in every form, defaulting the secondary activation
    to Sigmoid (NeuralAmpModelerCore's WaveNet layer-array config reader).
    """
    gated = [la.gating_of(i) for i in range(la.num_layers) if la.gating_of(i) != "none"]
    if not gated or "gating_mode" not in raw:
        return None
    modes, secondary = raw.get("gating_mode"), raw.get("secondary_activation")
    if isinstance(modes, list) and isinstance(secondary, list):
        return None
    form = "one string" if isinstance(modes, str) else "a list"
    if secondary is None:
        return ("gating_dropped", f"gating_mode as {form} without secondary_activation: the "
                f"runtime gates these layers ({gated[0]}, secondary Sigmoid), upstream's "
                "PyTorch loader drops gating_mode and builds ungated layers")
    return ("gating_unreadable_upstream", f"gating_mode as {form} with secondary_activation "
            "not a per-layer list: the runtime gates these layers, upstream's loader indexes "
            "both per layer (a string letter by letter) and fails to build them")


def _hardtanh_bounds(raw: Any, path: str) -> list[tuple[str, list[float]]]:
    """(path, [min, max]) for every Hardtanh object with bounds other than the runtime's."""
    if isinstance(raw, list):
        return [hit for i, item in enumerate(raw) for hit in _hardtanh_bounds(item, f"{path}[{i}]")]
    if not isinstance(raw, dict) or raw.get("type") != "Hardtanh":
        return []
    bounds = [float(raw.get("min_val", -1.0)), float(raw.get("max_val", 1.0))]
    return [(path, bounds)] if tuple(bounds) != RUNTIME_HARDTANH else []


def explain_loudness(model: NamModel, check: C.CheckResult, signal: Signal, opts: Options
                      ) -> C.CheckResult:
    """Name the cause of a stored-vs-measured loudness mismatch where namcheck knows it."""
    cause = ""
    if isinstance(model.config, LinearConfig) and model.loudness is not None:
        r = model.config.receptive_field

        def reverse_taps(doc: dict[str, Any]) -> None:
            doc["weights"][:r] = doc["weights"][:r][::-1]

        pytorch_reading = measure(model.replace_data(reverse_taps), signal, opts)
        gap = abs(pytorch_reading.loudness - model.loudness)
        if check.tolerance is not None and gap <= check.tolerance:
            cause = (f"cause: the stored value is the PyTorch reading of this file (taps "
                     f"time-reversed: {pytorch_reading.loudness:.6f} dB, within "
                     f"{gap:.2g} dB); the runtime convolves, so plugins play "
                     f"{check.measured:.6f} dB (Linear tap order, docs/nam_format_notes.md §6)")
    elif model.architecture == "LSTM":
        cause = ("likely cause: the exporter measured its in-memory LSTM, whose start state "
                 "differs from the file's h0/c0 plus the runtime's prewarm "
                 "(docs/nam_format_notes.md §5); plugins play the measured value")
    if not cause:
        return check
    return check.explained(cause, "runtime_divergence")
