"""Weight-stream layouts: which tensors a config needs, in the order the file stores them.

One description serves the weight-count check (:mod:`.parse`), the forward passes (which
consume the stream in this order) and the size facts of a parsed model, so they cannot
disagree. Everything here is computed from a config alone; a parsed model computes its
layout once (``NamModel.layout``). Layout per tensor:
PyTorch ``Conv1d.weight`` of shape ``(out, in/groups, kernel)`` flattened in C order, then
``out`` biases if present (NAM_FORMAT §2).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from namcheck.models.format.activations import ActivationSpec
from namcheck.models.format.schema import (
    FILM_SLOTS,
    ArchConfig,
    ContainerConfig,
    ConvNetConfig,
    LayerArrayConfig,
    LinearConfig,
    LSTMConfig,
    WaveNetConfig,
)


@dataclass(frozen=True)
class ConvSpec:
    """A causal (dilated) convolution; kernel 1 is a 1x1 conv."""

    cin: int
    cout: int
    kernel: int = 1
    dilation: int = 1
    groups: int = 1
    bias: bool = True

    @property
    def weight_shape(self) -> tuple[int, int, int]:
        return (self.cout, self.cin // self.groups, self.kernel)

    @property
    def n_weights(self) -> int:
        o, i, k = self.weight_shape
        return o * i * k + (self.cout if self.bias else 0)

    @property
    def context(self) -> int:
        """Past samples the conv reads besides the current one."""
        return (self.kernel - 1) * self.dilation

    @property
    def macs_per_sample(self) -> int:
        o, i, k = self.weight_shape
        return o * i * k


@dataclass(frozen=True)
class FiLMSpec:
    """FiLM: a 1x1 conv of the condition giving a scale (and a shift) for `dim` rows."""

    slot: str
    dim: int
    shift: bool
    conv: ConvSpec


@dataclass(frozen=True)
class LayerSpec:
    """The tensors of one WaveNet layer, in the weight stream's order."""

    conv: ConvSpec
    mixer: ConvSpec
    layer1x1: ConvSpec | None
    head1x1: ConvSpec | None
    films: dict[str, FiLMSpec]
    activation: ActivationSpec
    secondary: ActivationSpec
    gating: str
    bottleneck: int

    def tensors(self) -> Iterator[ConvSpec]:
        yield self.conv
        yield self.mixer
        if self.layer1x1 is not None:
            yield self.layer1x1
        if self.head1x1 is not None:
            yield self.head1x1
        for film in self.films.values():
            yield film.conv


@dataclass(frozen=True)
class ArraySpec:
    """The tensors of one WaveNet layer array, in the weight stream's order."""

    rechannel: ConvSpec
    layers: tuple[LayerSpec, ...]
    head_rechannel: ConvSpec
    head_width: int  # per-layer head width H1 (the accumulator's rows)

    def tensors(self) -> Iterator[ConvSpec]:
        yield self.rechannel
        for layer in self.layers:
            yield from layer.tensors()
        yield self.head_rechannel

    @property
    def receptive_field(self) -> int:
        return sum(layer.conv.context for layer in self.layers) + self.head_rechannel.context


@dataclass(frozen=True)
class WaveNetSpec:
    """A WaveNet's whole weight layout and its sizes."""

    arrays: tuple[ArraySpec, ...]
    post_head: tuple[ConvSpec, ...] = ()
    post_head_activation: ActivationSpec | None = None
    in_channels: int = 1
    extra: dict[str, int] = field(default_factory=dict)

    def tensors(self) -> Iterator[ConvSpec]:
        for array in self.arrays:
            yield from array.tensors()
        yield from self.post_head

    @property
    def n_weights(self) -> int:
        return sum(t.n_weights for t in self.tensors()) + 1  # + head_scale

    @property
    def receptive_field(self) -> int:
        """R of this stack alone (without a condition DSP)."""
        heads = sum(c.context for c in self.post_head)
        return 1 + sum(a.receptive_field for a in self.arrays) + heads

    @property
    def out_channels(self) -> int:
        if self.post_head:
            return self.post_head[-1].cout
        return self.arrays[-1].head_rechannel.cout

    @property
    def macs_per_sample(self) -> int:
        return sum(t.macs_per_sample for t in self.tensors())


def split_weights(tensors: Iterable[ConvSpec], weights: np.ndarray
                  ) -> Iterator[tuple[ConvSpec, np.ndarray, np.ndarray | None]]:
    """Each tensor of `tensors` (in the weight stream's order) with its weight, shaped
    `(out, in/groups, kernel)` as PyTorch's Conv1d.weight, and its bias `(out,)` or None,
    read from the flat `weights` (float64 copies; NAM_FORMAT §2.1). Weights past the last
    tensor (a WaveNet's head_scale) are left to the caller. Raises ValueError when the
    stream ends early."""
    values = np.asarray(weights, dtype=np.float64)
    pos = 0
    for spec in tensors:
        n = int(np.prod(spec.weight_shape)) + (spec.cout if spec.bias else 0)
        if pos + n > values.size:
            raise ValueError("weight stream exhausted (the layout and the file disagree)")
        w = values[pos : pos + n - (spec.cout if spec.bias else 0)].reshape(spec.weight_shape)
        bias = values[pos + w.size : pos + n] if spec.bias else None
        pos += n
        yield spec, w.copy(), None if bias is None else bias.copy()


def film_dim(la: LayerArrayConfig, slot: str, layer: int) -> int:
    """Rows a FiLM slot modulates (NAM_FORMAT §3.2 item e)."""
    B = la.bottleneck_channels
    Z = 2 * B if la.gating_of(layer) != "none" else B
    return {
        "conv_pre_film": la.channels,
        "conv_post_film": Z,
        "input_mixin_pre_film": la.condition_size,
        "input_mixin_post_film": Z,
        "activation_pre_film": Z,
        "activation_post_film": B,
        "layer1x1_post_film": la.channels,
        "head1x1_post_film": la.layer_head_width,
    }[slot]


def array_spec(la: LayerArrayConfig) -> ArraySpec:
    """The weight layout of one layer array from its config."""
    C, B, Dc = la.channels, la.bottleneck_channels, la.condition_size
    H1 = la.layer_head_width
    layers = []
    for i, dilation in enumerate(la.dilations):
        gating = la.gating_of(i)
        Z = 2 * B if gating != "none" else B
        films = {}
        for slot in FILM_SLOTS:
            film = la.film(slot)
            if film is None:
                continue
            dim = film_dim(la, slot, i)
            out = dim * (2 if film.shift else 1)
            films[slot] = FiLMSpec(slot, dim, film.shift, ConvSpec(Dc, out, groups=film.groups))
        head1x1 = None
        if la.head1x1_active:
            assert la.head1x1 is not None
            head1x1 = ConvSpec(B, H1, groups=la.head1x1.groups)
        layers.append(
            LayerSpec(
                conv=ConvSpec(C, Z, la.kernel(i), dilation, la.groups_input, bias=True),
                mixer=ConvSpec(Dc, Z, groups=la.groups_input_mixin, bias=False),
                layer1x1=ConvSpec(B, C, groups=la.layer1x1_groups) if la.layer1x1_active else None,
                head1x1=head1x1,
                films=films,
                activation=la.activation_of(i),
                secondary=la.secondary_of(i),
                gating=gating,
                bottleneck=B,
            )
        )
    return ArraySpec(
        rechannel=ConvSpec(la.input_size, C, bias=False),
        layers=tuple(layers),
        head_rechannel=ConvSpec(
            H1, la.head_out_channels, la.head_kernel, la.head_dilation, bias=la.head_has_bias
        ),
        head_width=H1,
    )


def wavenet_spec(cfg: WaveNetConfig) -> WaveNetSpec:
    """The weight layout of a WaveNet config (NAM_FORMAT §3.2)."""
    arrays = tuple(array_spec(la) for la in cfg.layers)
    post_head: list[ConvSpec] = []
    activation = None
    if cfg.head is not None:
        head = cfg.head
        cin = cfg.layers[-1].head_out_channels
        n = len(head.kernel_sizes)
        for i, k in enumerate(head.kernel_sizes):
            cout = head.out_channels if i == n - 1 else head.channels
            post_head.append(ConvSpec(cin, cout, k, 1, 1, bias=True))
            cin = head.channels
        activation = head.activation
    return WaveNetSpec(arrays, tuple(post_head), activation, cfg.in_channels)


@dataclass(frozen=True)
class LSTMSpec:
    """An LSTM's sizes (NAM_FORMAT §5): per layer W, b, h0, c0; then the head."""

    input_size: int
    hidden: int
    layers: int
    in_channels: int = 1
    out_channels: int = 1

    @property
    def n_weights(self) -> int:
        return lstm_weight_count(self.input_size, self.hidden, self.layers, self.out_channels)

    @property
    def receptive_field(self) -> int:
        """1: the LSTM's memory is its state, prewarmed separately (NAM_FORMAT §5)."""
        return 1

    @property
    def macs_per_sample(self) -> int:
        return self.n_weights


@dataclass(frozen=True)
class LinearSpec:
    """A Linear (FIR) filter: `taps` weights, then one bias if `bias` (NAM_FORMAT §6.1)."""

    taps: int
    bias: bool
    in_channels: int = 1
    out_channels: int = 1

    @property
    def n_weights(self) -> int:
        return self.taps + (1 if self.bias else 0)

    @property
    def receptive_field(self) -> int:
        return self.taps

    @property
    def macs_per_sample(self) -> int:
        return self.taps


@dataclass(frozen=True)
class ConvNetSpec:
    """A ConvNet: one dilated conv per block (with batchnorm's 4 C + 1 values after each if
    `batchnorm`), then the head `out_channels x channels` and its biases (NAM_FORMAT §6.2)."""

    blocks: tuple[ConvSpec, ...]
    batchnorm: bool
    channels: int
    in_channels: int = 1
    out_channels: int = 1

    @property
    def n_weights(self) -> int:
        total = sum(s.n_weights for s in self.blocks)
        if self.batchnorm:
            total += len(self.blocks) * (4 * self.channels + 1)
        return total + self.out_channels * self.channels + self.out_channels

    @property
    def receptive_field(self) -> int:
        return 1 + sum(s.context for s in self.blocks)

    @property
    def macs_per_sample(self) -> int:
        return sum(s.macs_per_sample for s in self.blocks) + self.out_channels * self.channels


ModelLayout = WaveNetSpec | LSTMSpec | LinearSpec | ConvNetSpec


def lstm_weight_count(input_size: int, hidden: int, layers: int, out_channels: int) -> int:
    """Weights of an LSTM: per layer W, b, h0, c0; then the head (NAM_FORMAT §5)."""
    total = 0
    for layer in range(layers):
        width = input_size if layer == 0 else hidden
        total += 4 * hidden * (width + hidden) + 4 * hidden + 2 * hidden  # W, b, h0, c0
    return total + out_channels * hidden + out_channels


def convnet_specs(cfg: ConvNetConfig) -> list[ConvSpec]:
    """The dilated convs of a ConvNet config, one per block."""
    specs = []
    cin = cfg.in_channels
    for d in cfg.dilations:
        specs.append(ConvSpec(cin, cfg.channels, 2, d, cfg.groups, bias=not cfg.batchnorm))
        cin = cfg.channels
    return specs


def layout_of(cfg: ArchConfig) -> ModelLayout | None:
    """The weight layout of a config; None for a container (its submodels have their own,
    and the runtime ignores its top-level weights)."""
    if isinstance(cfg, WaveNetConfig):
        return wavenet_spec(cfg)
    if isinstance(cfg, LSTMConfig):
        return LSTMSpec(cfg.input_size, cfg.hidden_size, cfg.num_layers, cfg.in_channels,
                        cfg.out_channels)
    if isinstance(cfg, LinearConfig):
        return LinearSpec(cfg.receptive_field, cfg.bias, cfg.in_channels, cfg.out_channels)
    if isinstance(cfg, ConvNetConfig):
        return ConvNetSpec(tuple(convnet_specs(cfg)), cfg.batchnorm, cfg.channels,
                           cfg.in_channels, cfg.out_channels)
    assert isinstance(cfg, ContainerConfig)
    return None
