"""The SlimmableContainer config (NAM_FORMAT §7.2; `container::ContainerConfig::create`):
submodels, each a max_value and a full model object (parsed as a model of its own by
:mod:`namcheck.models.format.parse`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from namcheck.models.format.access import Node


@dataclass(frozen=True)
class SubmodelEntry:
    """One container entry: max_value and the model's JSON."""

    max_value: float
    model: dict[str, Any]


@dataclass(frozen=True)
class ContainerConfig:
    """A SlimmableContainer config."""

    submodels: tuple[SubmodelEntry, ...]


def read(cfg: Node) -> ContainerConfig:
    """`submodels` must be a non-empty list; each entry's max_value a number (not a
    boolean) and its model an object."""
    cfg.require_object()
    node = cfg.member("submodels")
    if not isinstance(node.value, list) or not node.value:
        node.fail("expected a non-empty list of submodels (the runtime refuses anything else)")
    entries = []
    for entry in node.items():
        max_value = entry.at("max_value").to_double()
        model = entry.at("model")
        model.require_object()
        entries.append(SubmodelEntry(max_value, model.value))
    return ContainerConfig(tuple(entries))
