"""The WaveNet config (NAM_FORMAT §3.1), read key by key as the runtime reads it
(`parse_config_json` in NAM/wavenet/model.cpp; RUNTIME_READING.md §9-§10).

Routing first, as the runtime routes: a config with a slimmable layer array is read by the
SlimmableWavenet reader, an A2-shaped config by the A2 fast path's detector (which plays
some values the generic reader refuses, :mod:`.a2`), anything else by the generic reader.
The result holds resolved values (defaults applied, legacy forms mapped), one per layer
where the file may give one value or a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from namcheck.models.format.access import Node, describe
from namcheck.models.format.activations import (
    SIGMOID,
    ActivationSpec,
    read_activation,
    runtime_slopes,
    slopes_note,
)
from namcheck.models.format.errors import short
from namcheck.models.format.schema.a2 import (
    DILATIONS,
    HEAD_KERNEL,
    KERNEL_SIZES,
    LEAKY_SLOPE,
    detect,
)

GATING_MODES = ("none", "gated", "blended")
FILM_SLOTS = (
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
)
SLIMMING_METHOD = "slice_channels_uniform"


@dataclass(frozen=True)
class FiLMConfig:
    """An active FiLM slot: shift (scale and shift) and groups."""

    active: bool = True
    shift: bool = True
    groups: int = 1


@dataclass(frozen=True)
class Layer1x1Config:
    """A layer array's layer1x1: active and groups (absent: active, groups 1)."""

    active: bool = True
    groups: int = 1


@dataclass(frozen=True)
class Head1x1Config:
    """A layer array's head1x1: active, out_channels, groups (absent: inactive)."""

    active: bool
    out_channels: int
    groups: int


@dataclass(frozen=True)
class HeadRechannelConfig:
    """A layer array's head rechannel in the new form (`head` object)."""

    out_channels: int
    kernel_size: int
    bias: bool
    head_dilation: int = 1


@dataclass(frozen=True)
class SlimmableSpec:
    """A channel-slicing slimmable array (NAM_FORMAT §7.1): the allowed channel counts."""

    method: str
    allowed: tuple[int, ...]


@dataclass(frozen=True)
class LayerArrayConfig:
    """One WaveNet layer array, resolved (new 0.6+ or legacy 0.5 form)."""

    input_size: int
    condition_size: int
    channels: int
    bottleneck: int
    dilations: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    activations: tuple[ActivationSpec, ...]
    gating: tuple[str, ...]
    secondaries: tuple[ActivationSpec, ...]
    head: HeadRechannelConfig | None  # None: legacy head_size/head_bias
    head_size: int | None  # legacy form only
    head_bias: bool
    groups_input: int = 1
    groups_input_mixin: int = 1
    layer1x1: Layer1x1Config = Layer1x1Config()
    head1x1: Head1x1Config | None = None
    films: tuple[tuple[str, FiLMConfig], ...] = ()
    slimmable: SlimmableSpec | None = None
    activation_is_list: bool = False

    @property
    def num_layers(self) -> int:
        return len(self.dilations)

    @property
    def bottleneck_channels(self) -> int:
        return self.bottleneck

    def kernel(self, layer: int) -> int:
        return self.kernel_sizes[layer]

    def activation_of(self, layer: int) -> ActivationSpec:
        return self.activations[layer]

    def gating_of(self, layer: int) -> str:
        return self.gating[layer]

    def secondary_of(self, layer: int) -> ActivationSpec:
        return self.secondaries[layer]

    @property
    def layer1x1_active(self) -> bool:
        return self.layer1x1.active

    @property
    def layer1x1_groups(self) -> int:
        return self.layer1x1.groups

    @property
    def head1x1_active(self) -> bool:
        return self.head1x1 is not None and self.head1x1.active

    @property
    def layer_head_width(self) -> int:
        """Per-layer head width H1 (head1x1 outputs if active, else the bottleneck)."""
        if self.head1x1 is not None and self.head1x1.active:
            return self.head1x1.out_channels
        return self.bottleneck

    @property
    def head_out_channels(self) -> int:
        """Output width of the head rechannel (new `head.out_channels`, legacy `head_size`)."""
        if self.head is not None:
            return self.head.out_channels
        assert self.head_size is not None
        return self.head_size

    @property
    def head_kernel(self) -> int:
        return self.head.kernel_size if self.head is not None else 1

    @property
    def head_dilation(self) -> int:
        return self.head.head_dilation if self.head is not None else 1

    @property
    def head_has_bias(self) -> bool:
        return self.head.bias if self.head is not None else self.head_bias

    def film(self, slot: str) -> FiLMConfig | None:
        """The FiLM in `slot` if active, else None."""
        return dict(self.films).get(slot)

    @property
    def allowed_channels(self) -> tuple[int, ...] | None:
        """Channel counts a slimmable array may be sliced to; None if not slimmable."""
        return self.slimmable.allowed if self.slimmable is not None else None


@dataclass(frozen=True)
class PostHeadConfig:
    """A WaveNet's post-stack (top-level) head."""

    channels: int
    out_channels: int
    kernel_sizes: tuple[int, ...]
    activation: ActivationSpec
    in_channels: int | None = None


@dataclass(frozen=True)
class WaveNetConfig:
    """A WaveNet config (NAM_FORMAT §3.1); `condition_dsp` is the nested model's JSON."""

    layers: tuple[LayerArrayConfig, ...]
    head_scale: float
    head: PostHeadConfig | None = None
    condition_dsp: dict[str, Any] | None = None
    in_channels: int = 1
    a2_shape: bool = False  # played by the runtime's A2 fast path


# --------------------------------------------------------------------------- reading


def read(cfg: Node) -> WaveNetConfig:
    """A WaveNet `config` object as the runtime reads it."""
    cfg.require_object()
    slimmable = _is_slimmable(cfg)
    if not slimmable:
        channels = detect(cfg)
        if channels is not None:
            return _make_a2(cfg, channels)
    condition_dsp = None
    if cfg.has_value("condition_dsp"):
        node = cfg.child("condition_dsp")
        if not isinstance(node.value, dict):
            node.fail(f"expected a model object, got {describe(node.value)}")
        condition_dsp = node.value
    layers_node = cfg.at("layers")
    if not isinstance(layers_node.value, list) or not layers_node.value:
        layers_node.fail("expected a non-empty list of layer arrays (the runtime needs at "
                         "least one)")
    layers = tuple(_read_layer_array(n, slimmable) for n in layers_node.items())
    if slimmable and all(la.slimmable is None for la in layers):
        layers_node.fail("a slimmable WaveNet needs a layer array with allowed_channels "
                         "(the runtime refuses it)")
    head_scale = cfg.at("head_scale").to_float()
    in_channels = cfg.value_or("in_channels", 1, Node.to_positive_int)
    head = None
    if cfg.has_value("head"):
        head = _read_post_head(cfg.child("head"), layers[-1].head_out_channels)
    return WaveNetConfig(layers, head_scale, head, condition_dsp, in_channels)


def _make_a2(cfg: Node, channels: int) -> WaveNetConfig:
    """The config the A2 fast path plays (a2_fast.h): one array of `channels`, its fixed
    kernels and dilations, LeakyReLU(0.01), layer1x1 active, head kernel 16 with bias."""
    act = ActivationSpec("LeakyReLU", (("negative_slope", LEAKY_SLOPE),))
    dilations, kernel_sizes = DILATIONS, KERNEL_SIZES
    n = len(dilations)
    la = LayerArrayConfig(
        input_size=1, condition_size=1, channels=channels, bottleneck=channels,
        dilations=dilations, kernel_sizes=kernel_sizes, activations=(act,) * n,
        gating=("none",) * n, secondaries=(SIGMOID,) * n,
        head=HeadRechannelConfig(1, HEAD_KERNEL, True, 1), head_size=None, head_bias=True,
        activation_is_list=True)
    return WaveNetConfig((la,), cfg.at("head_scale").to_float(), None, None, 1, a2_shape=True)


def _is_slimmable(cfg: Node) -> bool:
    """`config_is_slimmable_wavenet`: some layer array's `slimmable` is an object whose
    method is the runtime's; another non-empty method is refused."""
    if not cfg.has("layers") or not isinstance(cfg.value["layers"], list):
        return False
    for la in cfg.child("layers").items():
        if not la.has("slimmable") or not isinstance(la.value["slimmable"], dict):
            continue
        method = la.child("slimmable").value_or("method", "", Node.to_str)
        if method == SLIMMING_METHOD:
            return True
        if method:
            la.child("slimmable").child("method").fail(
                f"unknown slimming method {short(method)} "
                f"(the runtime knows {short(SLIMMING_METHOD)})")
    return False


def _read_layer_array(la: Node, slimmable: bool) -> LayerArrayConfig:
    la.require_object()
    groups_input = la.value_or("groups_input", 1, Node.to_positive_int)
    groups_input_mixin = la.value_or("groups_input_mixin", 1, Node.to_positive_int)
    channels = la.member("channels").to_positive_int()
    bottleneck = la.value_or("bottleneck", channels, Node.to_positive_int)
    layer1x1 = Layer1x1Config()
    if la.has("layer1x1"):
        node = la.child("layer1x1")
        layer1x1 = Layer1x1Config(node.at("active").to_bool(), node.at("groups").to_positive_int())
    input_size = la.member("input_size").to_positive_int()
    condition_size = la.member("condition_size").to_positive_int()
    head, head_size, head_bias = _read_head_rechannel(la)
    dilations_node = la.member("dilations")
    dilations = tuple(_read_dilations(dilations_node))
    n = len(dilations)
    kernel_sizes = _read_kernel_sizes(la, n)
    activations, is_list = _read_activations(la, n)
    gating, secondaries = _read_gating(la, n)
    activations, secondaries = _applied(la, bottleneck, activations, is_list, gating,
                                        secondaries)
    head1x1 = None
    if la.has("head1x1"):
        node = la.child("head1x1")
        head1x1 = Head1x1Config(node.at("active").to_bool(),
                                node.at("out_channels").to_positive_int(),
                                node.at("groups").to_positive_int())
    films = tuple((slot, film) for slot in FILM_SLOTS
                  if (film := _read_film(la, slot)) is not None)
    if dict(films).get("layer1x1_post_film") is not None and not layer1x1.active:
        la.child("layer1x1_post_film").fail("active while layer1x1 is inactive (the runtime "
                                            "refuses it)")
    spec = _read_slimmable(la, channels) if slimmable else None
    return LayerArrayConfig(
        input_size=input_size, condition_size=condition_size, channels=channels,
        bottleneck=bottleneck, dilations=dilations, kernel_sizes=kernel_sizes,
        activations=activations, gating=gating, secondaries=secondaries, head=head,
        head_size=head_size, head_bias=head_bias, groups_input=groups_input,
        groups_input_mixin=groups_input_mixin, layer1x1=layer1x1, head1x1=head1x1,
        films=films, slimmable=spec, activation_is_list=is_list)


def _read_head_rechannel(la: Node) -> tuple[HeadRechannelConfig | None, int | None, bool]:
    """The new `head` object (a null reads as absent) or the legacy head_size/head_bias."""
    if la.has_value("head"):
        node = la.child("head")
        if not isinstance(node.value, dict):
            node.fail(f"expected an object, got {describe(node.value)}")
        out = node.at("out_channels").to_positive_int()
        dilation = node.at("head_dilation").to_positive_int() if node.has("head_dilation") else 1
        kernel_node = node.at("kernel_size")
        kernel = kernel_node.to_int()
        if kernel < 1:
            kernel_node.fail(f"expected a kernel size >= 1, got {short(kernel_node.value)}")
        bias = node.at("bias").to_bool()
        return HeadRechannelConfig(out, kernel, bias, dilation), None, bias
    if la.has("head_size"):
        size = la.child("head_size").to_positive_int()
        return None, size, la.at("head_bias").to_bool()
    la.fail("no head rechannel: expected a 'head' object (out_channels, kernel_size, bias) "
            "or the legacy 'head_size' and 'head_bias'")


def _read_dilations(node: Node) -> list[int]:
    items = node.items()
    if not items:
        node.fail("expected a non-empty list (one dilation per layer)")
    out = []
    for item in items:
        d = item.to_int()
        if d == 0:
            item.fail("dilation 0: the runtime plays it (every tap reads the current "
                      "sample), namcheck does not model it")
        if d < 0:
            item.fail(f"expected a positive integer, got {short(item.value)}")
        out.append(d)
    return out


def _read_kernel_sizes(la: Node, n: int) -> tuple[int, ...]:
    has_one, has_list = la.has("kernel_size"), la.has("kernel_sizes")
    if has_one and has_list:
        la.fail("only one of kernel_size and kernel_sizes may be given (the runtime "
                "refuses both)")
    if has_list:
        node = la.child("kernel_sizes")
        if not isinstance(node.value, list):
            node.fail(f"expected a list, got {describe(node.value)}")
        sizes = node.to_ints()
        if len(sizes) != n:
            node.fail(f"expected {n} entries (one per dilation), found {len(sizes)}")
        return tuple(sizes)
    if has_one:
        return (la.child("kernel_size").to_positive_int(),) * n
    la.fail("exactly one of kernel_size and kernel_sizes is required")


def _read_activations(la: Node, n: int) -> tuple[tuple[ActivationSpec, ...], bool]:
    node = la.member("activation")
    if isinstance(node.value, list):
        acts = tuple(read_activation(item) for item in node.items())
        if len(acts) != n:
            node.fail(f"expected {n} entries (one per dilation), found {len(acts)}")
        return acts, True
    return (read_activation(node),) * n, False


def _read_gating(la: Node, n: int) -> tuple[tuple[str, ...], tuple[ActivationSpec, ...]]:
    """gating_mode (one string or a list), else legacy `gated`, else none; the secondary
    activation is read only for gated/blended layers and defaults to Sigmoid."""
    if la.has("gating_mode"):
        node = la.child("gating_mode")
        has_sec = la.has("secondary_activation")
        sec_node = la.child("secondary_activation") if has_sec else None
        if isinstance(node.value, list):
            modes, secs = [], []
            for j, item in enumerate(node.items()):
                mode = _gating_mode(item)
                modes.append(mode)
                if mode == "none":
                    secs.append(SIGMOID)
                elif sec_node is None:
                    secs.append(SIGMOID)
                elif isinstance(sec_node.value, list):
                    if j >= len(sec_node.value):
                        sec_node.fail(f"expected at least {j + 1} entries (layer {j} is {mode})")
                    secs.append(read_activation(sec_node.child(j)))
                else:
                    secs.append(read_activation(sec_node))
            if len(modes) != n:
                node.fail(f"expected {n} entries (one per dilation), found {len(modes)}")
            if sec_node is not None and isinstance(sec_node.value, list) and (
                len(sec_node.value) != n
            ):
                sec_node.fail(f"expected {n} entries (one per dilation), found "
                              f"{len(sec_node.value)}")
            return tuple(modes), tuple(secs)
        mode = _gating_mode(node)
        sec = SIGMOID
        if mode != "none" and sec_node is not None:
            sec = read_activation(sec_node)
        return (mode,) * n, (sec,) * n
    if la.has("gated"):
        gated = la.child("gated").to_bool()
        return ("gated" if gated else "none",) * n, (SIGMOID,) * n
    return ("none",) * n, (SIGMOID,) * n


def _applied(la: Node, rows: int, activations: tuple[ActivationSpec, ...], is_list: bool,
             gating: tuple[str, ...], secondaries: tuple[ActivationSpec, ...]
             ) -> tuple[tuple[ActivationSpec, ...], tuple[ActivationSpec, ...]]:
    """The activations as the runtime applies them to the bottleneck rows: flat without
    gating, row by row in the gated/blended pair (`runtime_slopes`)."""
    acts, secs = [], []
    for i, mode in enumerate(gating):
        at = la.child("activation")
        at = at.child(i) if is_list else at
        acts.append(_slopes_or_fail(activations[i], rows, mode == "none", at))
        secs.append(secondaries[i] if mode == "none" else _slopes_or_fail(
            secondaries[i], rows, False, la.child("secondary_activation")))
    return tuple(acts), tuple(secs)


def _slopes_or_fail(spec: ActivationSpec, rows: int, flat: bool, at: Node) -> ActivationSpec:
    result = runtime_slopes(spec, rows, flat)
    if isinstance(result, str):
        at.fail(result)
    if result is not spec:
        at.warn(slopes_note(spec, rows))
    return result


def _gating_mode(node: Node) -> str:
    mode = node.to_str()
    if mode not in GATING_MODES:
        node.fail(f"unknown gating mode {short(mode)} "
                  f"(the runtime knows {', '.join(GATING_MODES)})")
    return mode


def _read_film(la: Node, slot: str) -> FiLMConfig | None:
    """Absent or `false`: inactive; otherwise an object whose `active` defaults to TRUE
    (so `{}` is an active FiLM); null, true, numbers and strings are refused."""
    if not la.has(slot) or la.value[slot] is False:
        return None
    node = la.child(slot)
    if not isinstance(node.value, dict):
        node.fail(f"expected an object or false, got {describe(node.value)}")
    active = node.value_or("active", True, Node.to_bool)
    shift = node.value_or("shift", True, Node.to_bool)
    groups = node.value_or("groups", 1, Node.to_positive_int)
    return FiLMConfig(True, shift, groups) if active else None


def _read_slimmable(la: Node, channels: int) -> SlimmableSpec | None:
    """The array's slimming spec in a slimmable WaveNet (SlimmableWavenetConfig::create):
    only an object counts; allowed_channels default to 1..channels."""
    if not la.has("slimmable") or not isinstance(la.value["slimmable"], dict):
        return None
    node = la.child("slimmable")
    method = node.value_or("method", "", Node.to_str)
    if method != SLIMMING_METHOD:
        node.fail(f"unknown slimming method {short(method)} "
                  f"(the runtime knows {short(SLIMMING_METHOD)})")
    kwargs = node.child("kwargs") if node.has("kwargs") else None
    if kwargs is not None and kwargs.has("allowed_channels"):
        allowed_node = kwargs.child("allowed_channels")
        if allowed_node.value is None:
            return None  # iterating a null reads nothing: not sliced
        if isinstance(allowed_node.value, (int, float)):  # iterating a number reads it once
            allowed = (allowed_node.to_positive_int(),)
        else:
            allowed = tuple(allowed_node.to_ints())
        if not allowed:
            return None
    else:
        allowed = tuple(range(1, channels + 1))
    return SlimmableSpec(method, allowed)


def _read_post_head(node: Node, in_rows: int) -> PostHeadConfig:
    """The post-stack head; its activation is applied flat before each conv (to the last
    array's head output, then to `channels` rows)."""
    node.require_object()
    in_channels = None
    if node.has_value("in_channels"):
        in_channels = node.child("in_channels").to_int()
    channels = node.at("channels").to_positive_int()
    out_channels = node.at("out_channels").to_positive_int()
    ks_node = node.at("kernel_sizes")
    kernel_sizes = tuple(ks_node.to_ints())
    activation = read_activation(node.at("activation"))
    if not kernel_sizes:
        ks_node.fail("expected a non-empty list")
    rows = {in_rows} | ({channels} if len(kernel_sizes) > 1 else set())
    applied = {_slopes_or_fail(activation, r, True, node.child("activation")) for r in rows}
    if len(applied) > 1:
        node.child("activation").fail("PReLU slopes that map differently onto the head's "
                                      "blocks (namcheck does not model it)")
    return PostHeadConfig(channels, out_channels, kernel_sizes, applied.pop(), in_channels)
