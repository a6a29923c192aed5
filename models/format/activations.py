"""Activation specifications as a `.nam` file states them (name plus parameters).

The runtime accepts a name string or an object ``{"type": NAME, ...params}``; only the
parameters listed here are read, other keys are ignored (as the runtime does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# name -> parameters the runtime reads, with their defaults.
KNOWN_ACTIVATIONS: dict[str, dict[str, float]] = {
    "Tanh": {},
    "Fasttanh": {},
    "Hardtanh": {},
    "ReLU": {},
    "LeakyReLU": {"negative_slope": 0.01},
    "PReLU": {"negative_slope": 0.01},
    "Sigmoid": {},
    "SiLU": {},
    "Hardswish": {},
    "LeakyHardtanh": {"min_val": -1.0, "max_val": 1.0, "min_slope": 0.01, "max_slope": 0.01},
    "Softsign": {},
}
ALIASES = {"LeakyHardTanh": "LeakyHardtanh"}


@dataclass(frozen=True)
class ActivationSpec:
    """A resolved activation: canonical name, scalar parameters, optional per-channel slopes."""

    name: str
    params: tuple[tuple[str, float], ...] = ()
    slopes: tuple[float, ...] | None = field(default=None)  # PReLU `negative_slopes`

    def param(self, key: str) -> float:
        return dict(self.params)[key]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    return float(value)


def parse_activation(value: Any) -> ActivationSpec:
    """Parse a name string or ``{"type": ...}`` object; raise ValueError naming the problem."""
    if isinstance(value, str):
        name, extra = value, {}
    elif isinstance(value, dict):
        if "type" not in value:
            raise ValueError("activation object has no 'type'")
        name, extra = value["type"], value
        if not isinstance(name, str):
            raise ValueError(f"activation 'type' must be a string, got {name!r}")
    else:
        raise ValueError(f"expected an activation name or object, got {value!r}")
    name = ALIASES.get(name, name)
    if name not in KNOWN_ACTIVATIONS:
        known = ", ".join(sorted(KNOWN_ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r} (the runtime knows: {known})")
    defaults = KNOWN_ACTIVATIONS[name]
    params = tuple(
        (key, _number(extra[key], key) if key in extra else default)
        for key, default in defaults.items()
    )
    slopes = None
    if name == "PReLU" and "negative_slopes" in extra:
        raw = extra["negative_slopes"]
        if not isinstance(raw, list) or not raw:
            raise ValueError("negative_slopes: expected a non-empty list of numbers")
        slopes = tuple(_number(v, "negative_slopes") for v in raw)
    return ActivationSpec(name, params, slopes)


SIGMOID = ActivationSpec("Sigmoid")
