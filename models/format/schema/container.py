"""The SlimmableContainer config (NAM_FORMAT §7.2): submodels, each a full model object
(parsed as a model of its own by :mod:`namcheck.models.format.parse`)."""

from __future__ import annotations

from typing import Any

from namcheck.models.format.schema.base import Schema


class SubmodelEntry(Schema):
    """One container entry: max_value and a full model object."""

    max_value: float
    model: dict[str, Any]


class ContainerConfig(Schema):
    """A SlimmableContainer config."""

    submodels: list[SubmodelEntry]
