"""The WaveNet config (NAM_FORMAT §3.1): layer arrays in the new (0.6+) or legacy (0.5)
form, their FiLM slots and slimming spec, the post-stack head.

The properties of :class:`LayerArrayConfig` resolve the runtime's defaults (bottleneck =
channels, legacy `gated`, Sigmoid secondary, ...); they hold once the rules have passed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from namcheck.models.format.activations import SIGMOID, ActivationSpec
from namcheck.models.format.schema.base import Activations, PosInt, Schema, Secondaries

GatingMode = Literal["none", "gated", "blended"]

class FiLMConfig(Schema):
    """A FiLM slot: active, shift (scale and shift), groups."""

    active: bool = True
    shift: bool = True
    groups: PosInt = 1


class Layer1x1Config(Schema):
    """A layer array's layer1x1: active and groups."""

    active: bool
    groups: PosInt


class Head1x1Config(Schema):
    """A layer array's head1x1: active, out_channels, groups."""

    active: bool
    out_channels: PosInt
    groups: PosInt


class HeadRechannelConfig(Schema):
    """A layer array's head rechannel (new form)."""

    out_channels: PosInt
    kernel_size: PosInt
    bias: bool
    head_dilation: PosInt = 1


class SlimmableSpec(Schema):
    """A slimming method and its kwargs (NAM_FORMAT §7.1)."""

    method: str
    kwargs: dict[str, Any] | None = None


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
FiLMField = Literal[False] | FiLMConfig | None


class LayerArrayConfig(Schema):
    """One WaveNet layer array, in the new (0.6+) or legacy (0.5) form."""

    input_size: PosInt
    condition_size: PosInt
    channels: PosInt
    dilations: Annotated[list[PosInt], Field(min_length=1)]
    bottleneck: PosInt | None = None
    kernel_size: PosInt | None = None
    kernel_sizes: list[PosInt] | None = None
    head: HeadRechannelConfig | None = None
    head_size: PosInt | None = None
    head_bias: bool | None = None
    activation: Activations
    gating_mode: GatingMode | list[GatingMode] | None = None
    gated: bool | None = None
    secondary_activation: Secondaries = None
    groups_input: PosInt = 1
    groups_input_mixin: PosInt = 1
    layer1x1: Layer1x1Config | None = None
    head1x1: Head1x1Config | None = None
    conv_pre_film: FiLMField = None
    conv_post_film: FiLMField = None
    input_mixin_pre_film: FiLMField = None
    input_mixin_post_film: FiLMField = None
    activation_pre_film: FiLMField = None
    activation_post_film: FiLMField = None
    layer1x1_post_film: FiLMField = None
    head1x1_post_film: FiLMField = None
    slimmable: SlimmableSpec | None = None

    # ---- resolved values (runtime defaults); valid after _check_structure passed
    @property
    def num_layers(self) -> int:
        return len(self.dilations)

    @property
    def bottleneck_channels(self) -> int:
        return self.bottleneck if self.bottleneck is not None else self.channels

    def kernel(self, layer: int) -> int:
        if self.kernel_sizes is not None:
            return self.kernel_sizes[layer]
        assert self.kernel_size is not None
        return self.kernel_size

    def activation_of(self, layer: int) -> ActivationSpec:
        act = self.activation
        return act[layer] if isinstance(act, tuple) else act

    def gating_of(self, layer: int) -> str:
        if self.gating_mode is not None:
            g = self.gating_mode
            return g[layer] if isinstance(g, list) else g
        return "gated" if self.gated else "none"

    def secondary_of(self, layer: int) -> ActivationSpec:
        if self.gating_mode is None:  # legacy `gated: true` always uses Sigmoid
            return SIGMOID
        sec = self.secondary_activation
        sec = sec[layer] if isinstance(sec, tuple) else sec
        return sec if sec is not None else SIGMOID

    @property
    def layer1x1_active(self) -> bool:
        return self.layer1x1.active if self.layer1x1 is not None else True

    @property
    def layer1x1_groups(self) -> int:
        return self.layer1x1.groups if self.layer1x1 is not None else 1

    @property
    def head1x1_active(self) -> bool:
        return self.head1x1 is not None and self.head1x1.active

    @property
    def layer_head_width(self) -> int:
        """Per-layer head width H1 (head1x1 outputs if active, else the bottleneck)."""
        if self.head1x1_active:
            assert self.head1x1 is not None
            return self.head1x1.out_channels
        return self.bottleneck_channels

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
        return self.head.bias if self.head is not None else bool(self.head_bias)

    def film(self, slot: str) -> FiLMConfig | None:
        """The FiLM in `slot` if active, else None."""
        value = getattr(self, slot)
        if isinstance(value, FiLMConfig) and value.active:
            return value
        return None

    @property
    def allowed_channels(self) -> tuple[int, ...] | None:
        """Channel counts a slimmable array may be sliced to; None if not slimmable."""
        if self.slimmable is None:
            return None
        kwargs = self.slimmable.kwargs or {}
        allowed = kwargs.get("allowed_channels")
        if allowed is None:
            return tuple(range(1, self.channels + 1))
        return tuple(allowed)


class PostHeadConfig(Schema):
    """A WaveNet's post-stack (top-level) head."""

    channels: PosInt
    out_channels: PosInt
    kernel_sizes: Annotated[list[PosInt], Field(min_length=1)]
    activation: Activations
    in_channels: PosInt | None = None


class WaveNetConfig(Schema):
    """A WaveNet config (NAM_FORMAT §3.1)."""

    layers: Annotated[list[LayerArrayConfig], Field(min_length=1)]
    head_scale: float
    head: PostHeadConfig | None = None
    condition_dsp: dict[str, Any] | None = None
    in_channels: PosInt = 1


