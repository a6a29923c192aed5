"""FiLM slots (NAM_FORMAT §2.3, §3.1): head1x1_post_film needs head1x1 active, and the
FiLM's groups divide the condition size and its outputs (layer1x1_post_film without
layer1x1 is refused while the array is read, where the runtime refuses it)."""

from __future__ import annotations

from namcheck.models.format.errors import Fail
from namcheck.models.format.layout import film_dim
from namcheck.models.format.schema import FILM_SLOTS, LayerArrayConfig


def check(la: LayerArrayConfig, p: str, fail: Fail) -> None:
    """The active FiLM slots of layer array `la` at config path `p`."""
    for slot in FILM_SLOTS:
        film = la.film(slot)
        if film is None:
            continue
        if slot == "head1x1_post_film" and not la.head1x1_active:
            fail(f"{p}.{slot}", "active while head1x1 is inactive")
        out = film_dim(la, slot, 0) * (2 if film.shift else 1)
        if la.condition_size % film.groups or out % film.groups:
            fail(f"{p}.{slot}.groups", f"{film.groups} must divide condition_size "
                 f"{la.condition_size} and the FiLM's {out} outputs")
