"""Per-layer settings of a layer array: kernel sizes, activations and gating (one value or
one per layer), PReLU slope counts, and the head rechannel's form (NAM_FORMAT §3.1, §4)."""

from __future__ import annotations

from namcheck.models.format.errors import Fail
from namcheck.models.format.schema import LayerArrayConfig


def check(la: LayerArrayConfig, p: str, fail: Fail) -> None:
    """Rules of one layer array `la` found at config path `p`."""
    n = la.num_layers
    if (la.kernel_size is None) == (la.kernel_sizes is None):
        fail(p, "exactly one of kernel_size and kernel_sizes is required")
    if la.kernel_sizes is not None and len(la.kernel_sizes) != n:
        fail(f"{p}.kernel_sizes", f"expected {n} entries (one per dilation), found "
             f"{len(la.kernel_sizes)}")
    for key in ("activation", "secondary_activation", "gating_mode"):
        value = getattr(la, key)
        if isinstance(value, (list, tuple)) and len(value) != n:
            fail(f"{p}.{key}", f"expected {n} entries (one per dilation), found {len(value)}")
    if la.head is None and la.head_size is None:
        fail(p, "no head rechannel: expected 'head' (or legacy 'head_size')")
    _check_slopes(la, p, fail)


def _check_slopes(la: LayerArrayConfig, p: str, fail: Fail) -> None:
    """PReLU `negative_slopes` has one slope per row it applies to (the bottleneck)."""
    B = la.bottleneck_channels
    for i in range(la.num_layers):
        gating = la.gating_of(i)
        for which, act in (("activation", la.activation_of(i)),
                           ("secondary_activation", la.secondary_of(i))):
            if which == "secondary_activation" and gating == "none":
                continue
            if act.slopes is not None and len(act.slopes) != B:
                fail(f"{p}.{which}", f"PReLU negative_slopes has {len(act.slopes)} entries, "
                     f"the layer applies it to {B} channels")
