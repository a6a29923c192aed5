"""`verify`: apply an output-scaling hook at several scales and prove its claims by running
the model. Also the pieces every command shares: the signal, the options, the per-model
report and its status."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from namcheck.harness import checks as C
from namcheck.harness.errors import BAD_INPUT_ERRORS
from namcheck.harness.hooks import (
    HookRefusedError,
    linearity_obstacle,
    scale_output,
    upstream_scale_output,
)
from namcheck.models.engines import load_engine
from namcheck.models.format import NamModel
from namcheck.models.format.schema import LinearConfig
from namcheck.models.slimming import select_submodel, slim_intervals
from namcheck.signals.generate import DEFAULT_RATE, DEFAULT_SIGNAL_NAME, default_signal
from namcheck.signals.standard_input import (
    find_standard_input,
    is_standard_input,
    samples_sha256,
)
from namcheck.signals.wav import SignalError, read_mono

# Per-model status, from best to worst; a run's exit code follows its worst model.
STATUSES = ("passed", "not_verified", "failed", "error")
# Checks that are preconditions of the claims, not claims: passing them verifies nothing.
PRECONDITIONS = ("output_level",)


@dataclass
class Signal:
    """The input every model is measured on. `standard_input`: may stored loudness be
    compared against it (it is NAM's standard loudness input)?"""

    samples: np.ndarray
    rate: int | None
    name: str
    standard_input: bool
    path: str | None = None
    sha256: str = ""

    @classmethod
    def from_wav(cls, path: str | os.PathLike[str], treat_as_standard: bool = False) -> Signal:
        """A WAV; it is NAM's standard input when its samples are (or when told so)."""
        samples, rate = read_mono(path)
        recognised = is_standard_input(samples, rate)
        standard = recognised or treat_as_standard
        kind = ("NAM's standard loudness input" if recognised else
                "treated as NAM's standard loudness input" if standard else
                "not NAM's standard loudness input: stored loudness is not compared")
        return cls(samples, rate, f"{path} ({kind})", standard, str(path),
                   samples_sha256(samples))

    @classmethod
    def choose(cls, path: str | os.PathLike[str] | None = None, *, builtin: bool = False,
               treat_as_standard: bool = False) -> Signal:
        """`path`, else NAM's standard input from an installed neural-amp-modeler (unless
        `builtin`), else the built-in generated signal: the one rule every entry point
        (CLI, Python API, pytest plugin) uses."""
        if path:
            return cls.from_wav(path, treat_as_standard)
        found = None if builtin else find_standard_input()
        return cls.from_wav(found) if found else cls.default()

    @classmethod
    def default(cls) -> Signal:
        samples = default_signal()
        return cls(samples, None, DEFAULT_SIGNAL_NAME, False, None, samples_sha256(samples))


@dataclass
class Options:
    """How models are run: dtype, device, slim value, gain heuristic on/off, dB gate."""

    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    slim: float | None = None
    with_gain: bool = True
    fail_above_db: float | None = None  # CI gate for level checks (None: the rounding bound)
    engine: str = "auto"  # models/engines.py: auto (fast where it covers), reference, fast


@dataclass
class ModelReport:
    """Everything found about one model: checks, warnings, measured levels, status."""

    path: str
    architecture: str | None
    checks: list[C.CheckResult] = field(default_factory=list)
    error: str | None = None
    unverified: list[str] = field(default_factory=list)  # claims that could not be checked
    warnings: list[str] = field(default_factory=list)  # findings that are no verdict
    levels: list[dict[str, Any]] = field(default_factory=list)  # schema.Level fields
    changes: list[str] = field(default_factory=list)  # stamp: before -> after
    engines: list[str] = field(default_factory=list)  # the forwards that measured it

    def used(self, m: C.Measurement) -> None:
        """Record the engine behind a measurement (once per distinct engine and reason)."""
        label = m.engine_note or m.engine
        if label not in self.engines:
            self.engines.append(label)

    @property
    def engine(self) -> str | None:
        """The engine(s) that ran this model: 'fast', 'reference', or the reference with the
        reason it stood in for the fast engine; None where nothing ran."""
        return "; ".join(self.engines) or None

    @property
    def status(self) -> str:
        """error (bad input), failed (a check failed), not_verified (no claim could be
        checked, or a requested one could not), or passed (claims checked and held)."""
        if self.error is not None:
            return "error"
        if any(c.passed is False for c in self.checks):
            return "failed"
        claims = [c for c in self.checks if not c.name.startswith(PRECONDITIONS)]
        if self.unverified or not any(c.passed for c in claims):
            return "not_verified"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"



def guarded(path: str, work: Callable[[], ModelReport]) -> ModelReport:
    """Run one model's work; a bad input or a crash becomes this model's `error` entry
    (one line), never the end of the run."""
    try:
        return work()
    except BAD_INPUT_ERRORS as exc:
        return ModelReport(path, None, error=str(exc))
    except HookRefusedError as exc:
        return ModelReport(path, None, error=f"{path}: {exc}")
    except MemoryError:
        return ModelReport(path, None, error=f"{path}: out of memory")
    except RecursionError:
        return ModelReport(path, None, error=f"{path}: nested too deeply")
    except Exception as exc:  # a model namcheck cannot run: report it, go on
        return ModelReport(path, None, error=f"{path}: {type(exc).__name__}: {exc}")


def check_rate(model: NamModel, signal: Signal) -> None:
    """The signal's rate must be the model's (a model without a rate is played at the
    signal's, or at 48 kHz, NAM's standard rate, for the built-in signal)."""
    if signal.rate is not None and model.sample_rate is not None and (
            signal.rate != model.sample_rate):
        raise SignalError(f"{signal.path or signal.name}: sample rate {signal.rate} Hz "
                          f"differs from the model's {model.sample_rate:g} Hz ({model.source})")


def measure(model: NamModel, signal: Signal, opts: Options, slim: float | None = None
            ) -> C.Measurement:
    """Run `model` (at `slim`) on the signal once: output, and the 11 gain levels if asked."""
    net, choice = load_engine(model, opts.engine, dtype=opts.dtype, device=opts.device,
                              slim=slim)
    m = C.measure(net, signal.samples, opts.with_gain, choice.bound, choice.name)
    m.engine_note = choice.note
    return m


def rate_note(model: NamModel, signal: Signal) -> str | None:
    """What rate a model without `sample_rate` was measured at (a report warning)."""
    if model.sample_rate is not None:
        return None
    rate = signal.rate or DEFAULT_RATE
    return (f"no sample_rate in the file: measured at {rate} Hz (the signal's rate; NAM's "
            "standard input is 48 kHz)")


def verify_model(model: NamModel, scales: Iterable[float], hook: str, signal: Signal,
                 opts: Options) -> ModelReport:
    """All checks of one model under `hook` ('reference' or 'upstream') at each scale."""
    check_rate(model, signal)
    report = ModelReport(model.source, model.architecture)
    out = report.checks
    note = rate_note(model, signal)
    if note:
        report.warnings.append(note)
    report.warnings.extend(str(w) for w in model.warnings)
    if model.submodels:
        out.append(C.container_metadata(model))
    before = measure(model, signal, opts, opts.slim)
    report.used(before)
    level = C.output_level(before)
    out.append(level)
    # What plays, and whose stored loudness describes it: at a slim value a container plays
    # one submodel, described by that submodel's own metadata (the container's is what
    # hosts normalise with: normalised_level_error).
    playing, label, index = model, "", None
    if model.submodels and opts.slim is not None:
        index = select_submodel(model, opts.slim)
        playing, label = model.submodels[index].model, f".submodel{index}"
        lo, hi = next((t[1], t[2]) for t in slim_intervals(model) if t[0] == index)
        out.append(C.normalised_level_error(model, index, lo, hi, before,
                                            signal.standard_input))
    stored = C.metadata_loudness(playing, before, signal.standard_input, opts.dtype, label)
    if stored.passed is False and level.passed:
        stored = explain_loudness(playing, stored, signal, opts)
    out.append(stored)
    if not level.passed:
        report.unverified.append("the hook's level claims: the output has no finite level")
        return _gated(report, opts)
    sub_before: dict[int, C.Measurement] = {}
    for s in scales:
        hooked, forced = _apply_hook(model, s, hook, report)
        if hooked is None:
            continue
        after = measure(hooked, signal, opts, opts.slim)
        at_s = [C.loudness_shift(before, after, s, opts.dtype),
                C.linearity(model, before, after, s, opts.dtype)]
        if opts.with_gain:
            at_s.append(C.gain_invariant(before, after, opts.dtype))
        if not forced:  # (a file we scaled with force claims nothing)
            hooked_playing = hooked if index is None else hooked.submodels[index].model
            at_s += [C.metadata_shift(model, hooked, s),
                     C.metadata_loudness(hooked_playing, after, signal.standard_input,
                                         opts.dtype, label),
                     C.metadata_gain_kept(model, hooked), C.head_scale_scaled(model, hooked, s)]
            if model.submodels:
                at_s.append(C.container_metadata(hooked))
                for i, (sub0, sub1) in enumerate(zip(model.submodels, hooked.submodels,
                                                     strict=True)):
                    if sub0.model.head_scale is None:
                        continue
                    if i not in sub_before:  # measured once for every scale
                        sub_before[i] = measure(sub0.model, signal, opts)
                    b, a = sub_before[i], measure(sub1.model, signal, opts)
                    at_s.append(C.loudness_shift(b, a, s, opts.dtype).at_scale(
                        s, f"submodel{i}.loudness_shift"))
                    at_s.append(C.metadata_shift(sub0.model, sub1.model, s).at_scale(
                        s, f"submodel{i}.metadata_shift"))
        out.extend(c.at_scale(s) for c in at_s)
    return _gated(report, opts)


def _gated(report: ModelReport, opts: Options) -> ModelReport:
    report.checks = [C.gate_db(c, opts.fail_above_db) for c in report.checks]
    return report


def _apply_hook(model: NamModel, scale: float, hook: str, report: ModelReport
                ) -> tuple[NamModel | None, bool]:
    """(the hooked model or None, whether we forced it); records hook_atomic / n/a."""
    out = report.checks
    if hook == "upstream":
        hooked, changes, problem = upstream_scale_output(model, scale)
        if problem is None and not (math.isfinite(scale) and scale > 0):
            out.append(C.failed(
                "hook_atomic", f"upstream's hook accepted s={scale:g}, for which 20*log10(s) "
                "has no value, and changed the model dict: " + "; ".join(changes),
                "hook_accepted_invalid_scale").at_scale(scale))
            return None, False
        if problem is None:
            out.append(C.CheckResult("hook_atomic", True, None, None, None, None,
                                     f"upstream's hook applied cleanly ({len(changes)} JSON "
                                     "values changed)", scale=scale))
            return hooked, False
        if changes:
            reason = ("hook_wrote_invalid_model" if "invalid model" in problem
                      else "hook_not_atomic")
            out.append(C.failed("hook_atomic", f"{problem}; it changed the model dict: "
                                + "; ".join(changes), reason).at_scale(scale))
        else:
            out.append(C.not_applicable("hook", f"{problem} (the model dict is unchanged)",
                                        "hook_refused").at_scale(scale))
            report.unverified.append(f"s={scale:g}: upstream's hook did not apply")
        return None, False
    try:
        return scale_output(model, scale), False
    except HookRefusedError as exc:
        out.append(C.not_applicable("hook", f"reference hook refused: {exc}", "hook_refused")
                   .at_scale(scale))
        if linearity_obstacle(model) is None or model.architecture != "WaveNet":
            report.unverified.append(f"s={scale:g}: the reference hook does not apply")
            return None, False
        return scale_output(model, scale, force=True), True  # measure the gap anyway


def explain_loudness(model: NamModel, check: C.CheckResult, signal: Signal, opts: Options
                      ) -> C.CheckResult:
    """Name the cause of a stored-vs-measured loudness mismatch where namcheck knows it."""
    cause = ""
    if isinstance(model.config, LinearConfig) and model.loudness is not None:
        r = model.config.receptive_field

        def reverse_taps(doc: dict[str, Any]) -> None:
            doc["weights"][:r] = doc["weights"][:r][::-1]

        pytorch_reading = measure(model.replace_data(reverse_taps), signal, opts)
        gap = abs(pytorch_reading.loudness - model.loudness)
        if check.tolerance is not None and gap <= check.tolerance:
            cause = (f"cause: the stored value is the PyTorch reading of this file (taps "
                     f"time-reversed: {pytorch_reading.loudness:.6f} dB, within "
                     f"{gap:.2g} dB); the runtime convolves, so plugins play "
                     f"{check.measured:.6f} dB (Linear tap order, NAM_FORMAT §8.3)")
    elif model.architecture == "LSTM":
        cause = ("likely cause: the exporter measured its in-memory LSTM, whose start state "
                 "differs from the file's h0/c0 plus the runtime's prewarm (NAM_FORMAT §8.4); "
                 "plugins play the measured value")
    if not cause:
        return check
    return check.explained(cause, "runtime_divergence")
