"""What every architecture's schema shares: the strict pydantic base, positive integers,
and per-layer fields (one value for every layer, or a list of them).

Pydantic checks types and shapes; its error locations become JSON paths
(:mod:`namcheck.models.format.parse`). Cross-field rules live in :mod:`..rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from namcheck.models.format.activations import ActivationSpec, parse_activation

PosInt = Annotated[int, Field(strict=True, gt=0)]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]


class Schema(BaseModel):
    """Base of every config schema.

    Unknown keys are legal (the runtime ignores them); they stay in ``NamModel.data``.
    Strict: the runtime's JSON reader takes a boolean only as true/false and a number only
    as a JSON number, so "0.02", "true" or 0/1 for a boolean are errors, never coerced.
    """

    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True,
                              strict=True)


def one_or_list(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A validator for a per-layer field: one value for every layer, or a list of them."""

    def validate(value: Any) -> Any:
        if not isinstance(value, list):
            return parse(value)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(parse(item))
            except ValueError as exc:
                raise ValueError(f"entry {i}: {exc}") from None
        return tuple(out)

    return validate


def _secondary(value: Any) -> ActivationSpec | None:
    return None if value in (None, "") else parse_activation(value)


Activations = Annotated[Any, BeforeValidator(one_or_list(parse_activation))]
Secondaries = Annotated[Any, BeforeValidator(one_or_list(_secondary))]
