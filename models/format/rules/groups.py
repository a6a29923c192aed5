"""Grouped convolutions: each `groups` must divide the channels on both sides of its conv,
and an inactive layer1x1 needs bottleneck == channels (NAM_FORMAT §2.1, §3.1, §6.2)."""

from __future__ import annotations

from namcheck.models.format.errors import Fail
from namcheck.models.format.schema import ConvNetConfig, LayerArrayConfig


def check_array(la: LayerArrayConfig, p: str, fail: Fail) -> None:
    """Groups of one layer array `la` at config path `p`."""
    C, B = la.channels, la.bottleneck_channels
    for i in range(la.num_layers):
        Z = 2 * B if la.gating_of(i) != "none" else B
        if C % la.groups_input or Z % la.groups_input:
            fail(f"{p}.groups_input", f"{la.groups_input} must divide channels {C} and the "
                 f"conv output {Z}")
        if la.condition_size % la.groups_input_mixin or Z % la.groups_input_mixin:
            fail(f"{p}.groups_input_mixin", f"{la.groups_input_mixin} must divide "
                 f"condition_size {la.condition_size} and {Z}")
    if la.layer1x1_active:
        g = la.layer1x1_groups
        if B % g or C % g:
            fail(f"{p}.layer1x1.groups", f"{g} must divide bottleneck {B} and channels {C}")
    elif B != C:
        fail(f"{p}.bottleneck", f"with layer1x1 inactive the bottleneck ({B}) must equal "
             f"channels ({C})")
    if la.head1x1_active:
        assert la.head1x1 is not None
        g = la.head1x1.groups
        if B % g or la.head1x1.out_channels % g:
            fail(f"{p}.head1x1.groups", f"{g} must divide bottleneck {B} and "
                 f"out_channels {la.head1x1.out_channels}")


def check_convnet(cfg: ConvNetConfig, fail: Fail) -> None:
    """A ConvNet's groups divide its input and block channels."""
    if cfg.channels % cfg.groups or cfg.in_channels % cfg.groups:
        fail("groups", f"groups {cfg.groups} must divide in_channels and channels")
