"""SlimmableContainer: several submodels; a slim value selects one (NAM_FORMAT §7.2)."""

from __future__ import annotations

import torch
from torch import nn

from namcheck.models.reference.base import NamModule
from namcheck.models.reference.conv import StreamState


class Container(NamModule):
    """Runs the submodel selected at construction; every submodel stays reachable."""

    def __init__(self, submodels: list[NamModule], max_values: list[float], active: int) -> None:
        super().__init__()
        self.submodels = nn.ModuleList(submodels)
        self.max_values = max_values
        self.active = active

    @property
    def selected(self) -> NamModule:
        return self.submodels[self.active]  # type: ignore[return-value]

    @property
    def receptive_field(self) -> int:  # type: ignore[override]
        return self.selected.receptive_field

    @property
    def stateful(self) -> bool:  # type: ignore[override]
        return self.selected.stateful

    @property
    def out_channels(self) -> int:  # type: ignore[override]
        return self.selected.out_channels

    def forward_valid(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        return self.selected.forward_valid(x, state)
