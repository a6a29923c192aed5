"""Activation specifications as a `.nam` file states them (name plus parameters).

The runtime accepts a name string or an object ``{"type": NAME, ...params}``; only the
parameters listed here are read, other keys are ignored (as the runtime does). A PReLU's
``negative_slopes`` are stored as written; how many rows they apply to is a matter of the
layer they sit in (:func:`namcheck.models.format.layout.runtime_slopes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from namcheck.models.format.access import Node, Reading, describe
from namcheck.models.format.errors import NamFileError, short

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


def read_activation(node: Node) -> ActivationSpec:
    """`ActivationConfig::from_json` (NAM/activations.cpp): a name string or an object
    with a string `type`; anything else (null, a number, a list) is refused."""
    value = node.value
    if isinstance(value, str):
        name_node, extra = node, None
    elif isinstance(value, dict):
        name_node, extra = node.at("type"), node
    else:
        node.fail(f"expected an activation name or object, got {describe(value)}")
    name = name_node.to_str()
    name = ALIASES.get(name, name)
    if name not in KNOWN_ACTIVATIONS:
        known = ", ".join(sorted(KNOWN_ACTIVATIONS))
        name_node.fail(f"unknown activation {short(name)} (the runtime knows: {known})")
    defaults = KNOWN_ACTIVATIONS[name]
    if extra is None:
        return ActivationSpec(name, tuple(defaults.items()))
    slopes = None
    if name == "PReLU":
        # negative_slope wins over negative_slopes; neither: 0.01 (activations.cpp).
        if extra.has("negative_slope"):
            params = (("negative_slope", extra.child("negative_slope").to_float()),)
        else:
            params = tuple(defaults.items())
            if extra.has("negative_slopes"):
                items = extra.child("negative_slopes").items()
                if not items:
                    extra.child("negative_slopes").fail(
                        "an empty list (the runtime would divide by its length, zero)")
                slopes = tuple(n.to_float() for n in items)
    else:
        params = tuple((key, extra.value_or(key, default, Node.to_float))
                       for key, default in defaults.items())
    return ActivationSpec(name, params, slopes)


def parse_activation(value: Any) -> ActivationSpec:
    """:func:`read_activation` of a plain value; raises ValueError naming the problem."""
    try:
        return read_activation(Node(value, "", Reading("activation")))
    except NamFileError as exc:
        raise ValueError(f"{exc.path}: {exc.message}" if exc.path else exc.message) from None


SIGMOID = ActivationSpec("Sigmoid")


def runtime_slopes(spec: ActivationSpec, rows: int, flat: bool) -> ActivationSpec | str:
    """The PReLU the runtime applies to `rows` channels, as one slope per channel, or why
    namcheck refuses it (RUNTIME_READING.md §10.4; NAM/activations.h `ActivationPReLU`).

    The runtime keeps a PReLU's slopes as written (one `negative_slope` is a list of one)
    and applies them in one of two ways. `flat` (a layer's activation without gating, the
    post-stack head, ConvNet blocks): over the column-major buffer, slope[(t * rows + c)
    mod n], which is slope[c mod n] for every sample when n divides `rows` and otherwise
    changes with time. Otherwise (the gated/blended pair): slope[c] for c < rows, which
    reads past the list when it is shorter than `rows` (undefined behaviour).
    """
    if spec.name != "PReLU":
        return spec
    slopes = spec.slopes if spec.slopes is not None else (spec.param("negative_slope"),)
    n = len(slopes)
    if n == rows:
        return spec
    if flat and rows % n == 0:
        if spec.slopes is None:
            return spec
        return ActivationSpec(spec.name, spec.params, tuple(slopes[c % n] for c in range(rows)))
    if flat:
        return (f"PReLU has {n} slopes for {rows} channels: the runtime applies slope "
                f"[(t*{rows} + c) mod {n}], which changes from sample to sample; namcheck "
                "refuses it")
    if n > rows:
        return ActivationSpec(spec.name, spec.params, tuple(slopes[:rows]))
    return (f"PReLU has {n} slope(s) for {rows} channels in a gated/blended layer: the "
            "runtime reads slopes past the end of its list (undefined behaviour)")


def slopes_note(spec: ActivationSpec, rows: int) -> str:
    """The warning for a PReLU whose slopes the runtime maps onto `rows` channels."""
    n = len(spec.slopes or ())
    if n > rows:
        return f"PReLU has {n} slopes for {rows} channels: the runtime uses the first {rows}"
    return (f"PReLU has {n} slopes for {rows} channels: the runtime applies slope[c mod {n}] "
            "to channel c")
