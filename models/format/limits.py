"""Resource limits, decided before anything large is allocated.

A `.nam` file or a signal is refused when it would need more than these, with a message
that names the limit and the command-line option that raises it. The defaults sit far
above every real model (NAM's largest presets: ~14k weights, receptive field ~8k samples,
nesting depth 3) and far below what exhausts a 24 GB machine:

- ``max_file_bytes`` (64 MiB): decoding JSON costs ~10x its size in Python objects.
- ``max_nesting`` (16): containers and condition DSPs inside each other; each level is a
  full model object. A1/A2 files use at most 3.
- ``max_receptive_field`` (2**20 samples, 21.8 s at 48 kHz): every dilated conv holds
  ``channels x receptive field`` of history; at 2**20 a 16-channel float64 array is 128 MB.
- ``max_parameters`` (2**24 = 16.8 M weights): the weights are held in float64 and in the
  forward's dtype; a real capture has 1e3..1e5.
- ``max_layers`` (4096): dilations (one layer each) summed over every layer array, and
  ConvNet blocks; checked before the config is walked.
- ``max_signal_seconds`` (3600 s at the signal's rate): an hour of audio is 1.4 GB as
  float64 at 48 kHz, read whole before the forward streams through it in chunks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits (see the module docstring for each default and why)."""

    max_file_bytes: int = 64 * MIB
    max_nesting: int = 16
    max_receptive_field: int = 1 << 20
    max_parameters: int = 1 << 24
    max_layers: int = 4096
    max_signal_seconds: float = 3600.0


# The limits in force for this process: set once by the command line (and handed to worker
# processes), read by the file and signal readers.
_current = Limits()

# The command-line option that raises each limit (named in refusals).
OPTION = {
    "max_file_bytes": "--max-file-mb",
    "max_nesting": "--max-nesting",
    "max_receptive_field": "--max-receptive-field",
    "max_parameters": "--max-parameters",
    "max_layers": "--max-layers",
    "max_signal_seconds": "--max-signal-seconds",
}


def limits() -> Limits:
    """The limits in force."""
    return _current


def set_limits(new: Limits) -> None:
    """Replace the limits in force (the CLI does this from its options)."""
    global _current
    _current = new


def with_overrides(**values: float | int | None) -> Limits:
    """The default limits with the given (non-None) fields replaced."""
    return dataclasses.replace(Limits(), **{k: v for k, v in values.items() if v is not None})


def refusal(name: str, value: float | int, what: str) -> str:
    """The one-line reason for exceeding limit `name` (value found vs limit, and the option)."""
    limit = getattr(_current, name)
    return f"{what} {value:,} exceeds the limit {limit:,} (raise it with {OPTION[name]})"
