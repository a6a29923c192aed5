"""SlimmableContainer rules (NAM_FORMAT §7.2): at least one submodel, max_value strictly
ascending with the last >= 1, and submodel rates equal to the container's unless either
is -1 (container.cpp)."""

from __future__ import annotations

from namcheck.models.format.errors import Fail, short
from namcheck.models.format.model import NamModel
from namcheck.models.format.schema import ContainerConfig

UNKNOWN_RATE = -1.0


def check(model: NamModel, cfg: ContainerConfig, fail: Fail) -> None:
    """Rules of container `model` (its submodels are already parsed)."""
    if not cfg.submodels:
        fail("submodels", "a SlimmableContainer needs at least one submodel")
    values = [s.max_value for s in cfg.submodels]
    for i in range(1, len(values)):
        if not values[i] > values[i - 1]:
            fail(f"submodels[{i}].max_value",
                 f"max_value must be strictly ascending, got {short(values[i - 1])} then "
                 f"{short(values[i])}")
    if not values[-1] >= 1.0:
        fail(f"submodels[{len(values) - 1}].max_value",
             f"the last max_value must be >= 1.0, got {short(values[-1])}")
    # Equal unless either is -1 (absent, or a literal -1): 0 against 48000 is refused.
    rate = model.expected_sample_rate
    for i, sub in enumerate(model.submodels):
        sub_rate = sub.model.expected_sample_rate
        if rate != sub_rate and UNKNOWN_RATE not in (rate, sub_rate):
            fail(f"submodels[{i}].model.sample_rate",
                 f"sample rate {sub_rate:g} differs from the container's {rate:g}")
