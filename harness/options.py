"""The options shared by the command line and the pytest plugin: one table (name, type,
choices, default, help), and the one conversion of their values into a run's `Options` and
`Signal`, with the checks every value gets before any work.

This module imports nothing heavy (no torch, no other harness module at import time): the
CLI builds its parser and the pytest plugin registers its options from it at startup.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from namcheck.harness.core import Options, Signal

DTYPES = ("float32", "float64")
# The engines load_engine knows (models/engines.py: ENGINES; a test keeps them equal).
ENGINE_CHOICES = ("auto", "reference", "fast")
HOOKS = ("reference", "upstream")
DEFAULT_SCALES = (0.5, 2.0)
# NeuralAmpModelerCore's benchmodel, timed beside namcheck's engines by `bench`.
CORE_ENV = "NAMCHECK_CORE_BENCHMODEL"


def number(text: str) -> float:
    """An option's float: float(text), but a finite-looking number beyond float range
    ('1e400', which float() makes inf) is refused naming the text as typed."""
    import argparse

    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise argparse.ArgumentTypeError(f"invalid float value: '{text}' is beyond the "
                                         "float range (magnitude <= 1.8e308)")
    return value


number.__name__ = "float"  # argparse's message for a non-number: "invalid float value"


@dataclass(frozen=True)
class Option:
    """One option: `--NAME` on the command line (`--namcheck-NAME` in pytest), its value at
    `args.NAME` (`config.getoption("namcheck_NAME")`)."""

    name: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    default: Any = None
    action: str | None = None  # "store_true", "append"
    metavar: str | None = None
    plugin: bool = False  # also a pytest option

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def add_to(self, parser: Any, prefix: str = "", **overrides: Any) -> None:
        """Register on an argparse parser or group, or a pytest option group (the same
        keywords); `prefix` 'namcheck-' for pytest; `overrides` e.g. a command's own help."""
        kwargs: dict[str, Any] = {"help": self.help, "default": self.default}
        if self.action:
            kwargs["action"] = self.action
        if self.type is not None:
            kwargs["type"] = self.type
        if self.choices is not None:
            kwargs["choices"] = list(self.choices)
        if self.metavar is not None:
            kwargs["metavar"] = self.metavar
        kwargs.update(overrides)
        add = parser.add_argument if hasattr(parser, "add_argument") else parser.addoption
        add(f"--{prefix}{self.flag[2:]}", **kwargs)


_OPTIONS = [
    Option("scale", "scale to apply (repeatable; default 0.5 and 2). The reference hook "
           "refuses s <= 0, NaN and Inf; upstream's hook is given any value", number,
           action="append", metavar="S", plugin=True),
    Option("hook", "namcheck's reference hook, or upstream's _ScaleOutputHook (needs the "
           "'upstream' extra)", choices=HOOKS, default="reference"),
    Option("signal", "mono WAV at the model's rate. Stored loudness and gain are compared "
           "only on NAM's standard loudness input, recognised by its samples; default: the "
           "copy in an installed neural-amp-modeler, else a built-in generated signal", Path,
           metavar="WAV", plugin=True),
    Option("standard_input", "treat --signal as NAM's standard loudness input although its "
           "samples differ (e.g. a resampled copy)", action="store_true", default=False),
    Option("builtin_signal", "use the built-in generated signal even where NAM's standard "
           "input is installed (stored loudness is then not compared)", action="store_true",
           default=False, plugin=True),
    Option("dtype", "forward precision (default float32, as plugins run)", choices=DTYPES,
           default="float32", plugin=True),
    Option("device", "cpu (default) or cuda[:N]", default="cpu"),
    Option("engine", "forward engine: auto (default: the fast C engine where it covers the "
           "model in float32 on the CPU, else the reference), fast (the same, naming the "
           "reason wherever the reference stands in), reference (PyTorch, float32/float64, "
           "CPU/CUDA)", choices=ENGINE_CHOICES, default="auto", plugin=True),
    Option("slim", "slim value in [0, 1] for slimmable models; default full size", number),
    Option("no_gain", "skip the gain heuristic (11 extra forwards per model)",
           action="store_true", default=False, plugin=True),
    Option("fail_above_db", "level checks (unit dB) fail only when their error exceeds X dB "
           "(default: any error beyond the derived rounding bound fails)", number,
           metavar="X", plugin=True),
    Option("fail_on_runtime_limits", "runtime limitations (findings no edit of the file can "
           "fix, e.g. a SlimmableContainer's one loudness against each slim's level) fail the "
           "file (default: reported and counted, not failed)", action="store_true",
           default=False, plugin=True),
]
# Limits (models/format/limits.py), checked before anything large is allocated.
LIMITS = [
    Option("max_file_mb", "largest .nam file (64)", number, metavar="MB"),
    Option("max_nesting", "deepest nesting of containers / condition DSPs (16)", int,
           metavar="N"),
    Option("max_receptive_field", "largest receptive field (1048576)", int, metavar="SAMPLES"),
    Option("max_parameters", "most weights (16777216)", int, metavar="N"),
    Option("max_layers", "most layers (dilations) in a model (4096)", int, metavar="N"),
    Option("max_signal_seconds", "longest input signal (3600)", number, metavar="S"),
]
OPTIONS: dict[str, Option] = {o.name: o for o in [*_OPTIONS, *LIMITS]}
PLUGIN_OPTIONS = [o for o in _OPTIONS if o.plugin]


@dataclass
class Values:
    """Option values by name, from argparse (`Values.of(args)`) or pytest
    (`Values.of_pytest(config)`); a name that an entry point lacks reads as its default."""

    get: Callable[[str], Any]
    given: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, args: Any) -> Values:
        return cls(lambda name: getattr(args, name, OPTIONS[name].default
                                        if name in OPTIONS else None))

    @classmethod
    def of_pytest(cls, config: Any) -> Values:
        def get(name: str) -> Any:
            option = OPTIONS.get(name)
            if option is None or not option.plugin:
                return option.default if option else None
            return config.getoption(f"namcheck_{name}")

        return cls(get)

    def __getitem__(self, name: str) -> Any:
        return self.given[name] if name in self.given else self.get(name)


# --------------------------------------------------------------------------- value checks
# Each raises BadInputError (one line naming the option, exit 2) before any work.


def bad(message: str) -> Exception:
    """A BadInputError (imported when a check fails, not at startup)."""
    from namcheck.harness.errors import BadInputError

    return BadInputError(message)


def finite(flag: str, value: float, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> float:
    """`value` if it is finite and within [low, high] (low excluded with `low_open`)."""
    ok = math.isfinite(value) and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or value <= high)
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"<= {high:g}"
        raise bad(f"{flag} {value:g}: expected a finite number {lo}"
                  f"{' and ' if lo and hi else ''}{hi}")
    return value


def positive_int(flag: str, value: int, high: int | None = None) -> int:
    """`value` if it is an integer in [1, high]."""
    if value < 1 or (high is not None and value > high):
        bound = f" and <= {high}" if high is not None else ""
        raise bad(f"{flag} {value}: expected an integer >= 1{bound}")
    return value


def device(name: str) -> str:
    """A device torch can use here, or one line saying why not."""
    import torch

    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise bad(f"--device {name}: unknown device (expected cpu or cuda[:N])") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise bad(f"--device {name}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise bad(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA "
                      "device(s)")
    elif dev.type != "cpu":
        raise bad(f"--device {name}: namcheck runs on cpu or cuda, not {dev.type}")
    return name


def scale(flag: str, value: float) -> float:
    """A scale the reference hook accepts (finite, > 0)."""
    from namcheck.harness.hooks import HookRefusedError, check_scale

    try:
        check_scale(value)
    except HookRefusedError as exc:
        raise bad(f"{flag} {value:g}: {exc} (the reference hook refuses it)") from None
    return value


def dtype(name: str) -> Any:
    """The torch dtype of a --dtype choice."""
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[name]


def run_options(values: Values) -> Options:
    """The run's Options from the option values (dtype, device, slim, gain, gate, engine)."""
    from namcheck.harness.core import Options

    slim = values["slim"]
    if slim is not None:
        finite("--slim", slim, 0.0, 1.0)
    gate = values["fail_above_db"]
    if gate is not None:
        finite("--fail-above-db", gate, 0.0)
    return Options(dtype(values["dtype"]), device(values["device"]), slim,
                   not values["no_gain"], gate, values["engine"],
                   bool(values["fail_on_runtime_limits"]))


def run_signal(values: Values) -> Signal:
    """--signal, else NAM's standard input from an installed nam, else the built-in one."""
    from namcheck.harness.core import Signal

    path, builtin = values["signal"], values["builtin_signal"]
    if path and builtin:
        raise bad("--signal and --builtin-signal: give one of them")
    if values["standard_input"] and not path:
        raise bad("--standard-input: needs --signal WAV")
    return Signal.choose(path, builtin=builtin, treat_as_standard=values["standard_input"])


def apply_limits(values: Values) -> None:
    """Set the resource limits (models/format/limits.py) from the --max-* options."""
    from namcheck.models.format.limits import MIB, OPTION, set_limits, with_overrides

    overrides: dict[str, Any] = {
        name: values[name] for name in OPTION if name != "max_file_bytes"}
    mb = values["max_file_mb"]
    overrides["max_file_bytes"] = None if mb is None else int(finite(
        "--max-file-mb", mb, 0, low_open=True) * MIB)
    for name in ("max_nesting", "max_receptive_field", "max_parameters", "max_layers"):
        if overrides[name] is not None:
            positive_int(OPTION[name], overrides[name])
    if overrides["max_signal_seconds"] is not None:
        finite("--max-signal-seconds", overrides["max_signal_seconds"], 0, low_open=True)
    set_limits(with_overrides(**overrides))
