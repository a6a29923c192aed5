"""What every measuring command shares: the signal, the options, the per-model report and
its status, the start and finish of a model's run (bad input and internal faults kept
apart), and the one `measure` that runs a model on the signal.

A command (verify, audit, compare, stamp) runs each model as

    report = guarded(path, lambda: work(read_nam(path)))

where `work` begins with `start_report`, adds checks from harness/checks.py on
`measure`ments, and ends with `finish_report`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soundfile as sf
import torch

from namcheck.harness import checks as C
from namcheck.harness.errors import BAD_INPUT_ERRORS
from namcheck.harness.hooks import HookRefusedError
from namcheck.models.engines import cached_engine, reference_choice, selected_model
from namcheck.models.format import NamFileError, NamModel
from namcheck.models.identity import content_hash
from namcheck.models.reference.batched import ModelBatch, group_by_shape
from namcheck.signals.generate import DEFAULT_RATE, DEFAULT_SIGNAL_NAME
from namcheck.signals.generate import default_signal as generated_signal
from namcheck.signals.levels import (
    STREAM_SAMPLES,
    gain_sweep,
    gain_sweeps,
    stream_output,
    stream_sweep,
)
from namcheck.signals.metering import StreamingLufs
from namcheck.signals.metering import lufs as integrated_loudness
from namcheck.signals.standard_input import (
    STANDARD_RATE,
    find_standard_input,
    is_standard_input,
    samples_sha256,
)
from namcheck.signals.wav import SignalError, WavSamples, read_mono, read_mono_blocks

# Devices on which measure_many runs models of one shape as one batched forward (on the
# CPU the reference's own row joining is faster, and CPU behaviour stays as it was).
BATCH_DEVICES = ("cuda",)

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

    def __post_init__(self) -> None:
        if not isinstance(self.samples, WavSamples):  # (read_mono_blocks checked it)
            refuse_degenerate(self.samples, self.path or self.name)

    @classmethod
    def from_wav(cls, path: str | os.PathLike[str], treat_as_standard: bool = False) -> Signal:
        """A WAV; it is NAM's standard input when its samples are (or when told so). A
        file longer than STREAM_SAMPLES is checked in one pass and read in blocks where it
        is measured (signals/wav.py: WavSamples): never held whole."""
        if _frames(path) > STREAM_SAMPLES:
            long, rate, digest = read_mono_blocks(path)
            kind = ("treated as NAM's standard loudness input" if treat_as_standard else
                    "not NAM's standard loudness input: stored loudness is not compared")
            return cls(long, rate, f"{path} ({kind})", treat_as_standard,  # type: ignore
                       str(path), digest)
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
        """The built-in generated signal (1 s: tone, sweep, pink noise)."""
        samples = generated_signal()
        return cls(samples, None, DEFAULT_SIGNAL_NAME, False, None, samples_sha256(samples))


SignalSource = Signal | str | os.PathLike[str] | None


def _frames(path: str | os.PathLike[str]) -> int:
    """How many frames the file says it holds (0 where it cannot say: read_mono reports;
    a FIFO or device is never opened here)."""
    if not os.path.isfile(path):
        return 0
    try:
        return int(sf.info(str(path)).frames)
    except Exception:
        return 0


def refuse_degenerate(samples: np.ndarray, where: str) -> None:
    """A test signal must vary: a silent or constant one gives every model a constant (or
    no) output, so no level, shift or gain claim is tested on it. SignalError naming
    `where` (the file) otherwise."""
    x = np.asarray(samples)
    if x.size and bool(np.all(x == x.reshape(-1)[0])):
        what = "silent (every sample is 0)" if x.reshape(-1)[0] == 0 else (
            f"constant (every sample is {float(x.reshape(-1)[0]):g})")
        raise SignalError(f"{where}: the signal is {what}: it tests nothing; give a signal "
                          "that varies (e.g. NAM's loudness_input.wav)")


def default_signal() -> Signal:
    """NAM's standard loudness input where `neural-amp-modeler` is installed, else the
    built-in generated signal (against which stored loudness is not compared)."""
    return Signal.choose()


def as_signal(signal: SignalSource) -> Signal:
    """A Signal from a Signal, a WAV path, or None (default_signal())."""
    if signal is None:
        return default_signal()
    return signal if isinstance(signal, Signal) else Signal.from_wav(signal)


@dataclass
class Options:
    """How models are run: dtype, device, slim value, gain heuristic on/off, dB gate."""

    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    slim: float | None = None
    with_gain: bool = True
    fail_above_db: float | None = None  # CI gate for level checks (None: the rounding bound)
    engine: str = "auto"  # models/engines.py: auto (fast where it covers), reference, fast
    fail_on_runtime_limits: bool = False  # runtime limitations fail the file (CI gate)


@dataclass(frozen=True)
class Edit:
    """One value stamp writes (or, for --dry-run/--check, would write): the JSON path, the
    value stored before (None where absent; any JSON value, a wrong type included) and the
    value after (a number, or {} where metadata that was not an object is replaced)."""

    path: str
    before: Any
    after: Any


@dataclass
class ModelReport:
    """Everything found about one model: checks, warnings, measured levels, status.

    `error` is set when the model could not be checked: a bad input (exit 2), or, with
    `internal`, a fault inside namcheck while running it (exit 4)."""

    path: str
    architecture: str | None
    checks: list[C.CheckResult] = field(default_factory=list)
    error: str | None = None
    unverified: list[str] = field(default_factory=list)  # claims that could not be checked
    warnings: list[str] = field(default_factory=list)  # findings that are no verdict
    levels: list[dict[str, Any]] = field(default_factory=list)  # schema.Level fields
    changes: list[str] = field(default_factory=list)  # stamp: 'PATH: before -> after'
    edits: list[Edit] = field(default_factory=list)  # stamp: the same changes as values
    engines: list[str] = field(default_factory=list)  # the forwards that measured it
    internal: bool = False  # the error is a namcheck bug, not the input's
    content_hash: str | None = None  # models/identity.py: what plays (metadata excluded)
    metadata_hash: str | None = None  # of the metadata object (duplicates: does it differ)
    calibration: dict[str, Any] | None = None  # schema.Calibration (audit)
    unreadable: bool = False  # the error is the file's own: it could not be read as a model
    refused: bool = False  # the error is one field's: the runtime would refuse the file
    sample_rates: dict[str, Any] | None = None  # schema.SampleRates: model vs signal rate

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
        """error (bad input or internal fault), failed (a check failed), not_verified (no
        claim could be checked, or a requested one could not), or passed (claims checked
        and held)."""
        if self.error is not None:
            return "error"
        if any(c.passed is False for c in self.checks):
            return "failed"
        claims = [c for c in self.checks if not c.name.startswith(PRECONDITIONS)]
        unjudged = any(c.reason == "no_usable_bound" for c in self.checks)  # (claimed, unjudged)
        if self.unverified or unjudged or not any(c.passed for c in claims):
            return "not_verified"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def guarded(path: str, work: Callable[[], ModelReport]) -> ModelReport:
    """Run one model's work. A bad input becomes this model's `error` entry (one line;
    the run exits 2), a fault inside namcheck an `internal` error entry (one line, exit 4;
    NAMCHECK_DEBUG=1 prints its traceback on stderr); neither ends the run."""
    try:
        return work()
    except BAD_INPUT_ERRORS as exc:
        own = isinstance(exc, NamFileError)  # a field's path, or '' for the whole file
        return ModelReport(path, None, error=str(exc), unreadable=own and not exc.path,
                           refused=own and bool(exc.path))
    except HookRefusedError as exc:
        return ModelReport(path, None, error=str(exc) if exc.source else f"{path}: {exc}")
    except MemoryError:
        return ModelReport(path, None, error=f"{path}: out of memory")
    except RecursionError:
        return ModelReport(path, None, error=f"{path}: nested too deeply")
    except Exception as exc:
        if os.environ.get("NAMCHECK_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        return ModelReport(path, None, error=f"{path}: internal error: {type(exc).__name__}: "
                           f"{exc}", internal=True)


def rate_reading(model: NamModel, signal: Signal) -> dict[str, Any] | None:
    """How the model's rate and the signal's meet (schema.SampleRates), None where they
    agree (or the built-in signal, made at the model's rate, is used).

    - the model's rate unknown (no `sample_rate`, -1 or 0: the runtime's "unknown"): played
      at the signal's rate (`measured_as` "signal_rate");
    - a model at another rate than a 48 kHz signal: the signal's samples are fed to it as
      they are (`measured_as` "nam_exporter"), as NAM's exporter defines
      `metadata.loudness` and `metadata.gain` (neural-amp-modeler 0.13
      `nam/models/base.py` `_metadata_loudness`: the 48,000 samples of its standard input
      whatever the model's rate), so stored values of a 44.1 or 96 kHz file are checkable;
    - any other mismatch: SignalError (one line naming both rates and what to give)."""
    rate = model.sample_rate
    if signal.rate is None or rate == signal.rate:
        return None
    if rate is None:
        return {"model": None, "file_value": _file_rate(model), "signal": signal.rate,
                "measured_as": "signal_rate",
                "note": rate_note(model, signal)}
    if signal.rate == STANDARD_RATE:
        seconds = len(signal.samples) / rate
        return {"model": rate, "file_value": _file_rate(model), "signal": signal.rate,
                "measured_as": "nam_exporter",
                "note": (f"the model is at {rate:g} Hz, the signal at {signal.rate} Hz: its "
                         f"{len(signal.samples)} samples are fed to the model as they are "
                         f"({seconds:.3g} s at {rate:g} Hz), as NAM's exporter measures "
                         "metadata.loudness and metadata.gain whatever the model's rate")}
    standard = ("" if rate == STANDARD_RATE else
                f", or at {STANDARD_RATE} Hz (NAM's standard input), on whose samples NAM's "
                "exporter defines metadata.loudness at any rate")
    raise SignalError(f"{signal.path or signal.name}: sample rate {signal.rate} Hz differs "
                      f"from the model's {rate:g} Hz ({model.source}): give a WAV at "
                      f"{rate:g} Hz{standard}")


def check_rate(model: NamModel, signal: Signal) -> dict[str, Any] | None:
    """rate_reading(): SignalError where the model cannot be measured on the signal."""
    return rate_reading(model, signal)


def _file_rate(model: NamModel) -> float | None:
    """`sample_rate` as written in the file (None when absent)."""
    value = model.data.get("sample_rate") if isinstance(model.data, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def rate_note(model: NamModel, signal: Signal) -> str | None:
    """What rate a model of unknown rate was measured at (a report warning)."""
    if model.sample_rate is not None:
        return None
    rate = signal.rate or DEFAULT_RATE
    written = _file_rate(model)
    what = ("no sample_rate in the file" if written is None else
            f"sample_rate {written:g} in the file (the runtime's 'unknown')")
    return (f"{what}: measured at {rate} Hz (the signal's rate; NAM's standard input is "
            "48 kHz)")


def start_report(model: NamModel, signal: Signal, *warnings: str | None) -> ModelReport:
    """A model's report, begun: the signal's rate checked against the model's (SignalError),
    and the given warnings recorded in order (None skipped)."""
    rate = rate_reading(model, signal)
    return ModelReport(model.source, model.architecture, sample_rates=rate,
                       warnings=[w for w in warnings if w is not None],
                       content_hash=content_hash(model),
                       metadata_hash=hashlib.sha256(json.dumps(
                           model.metadata, sort_keys=True, default=repr).encode()).hexdigest())


def finish_report(report: ModelReport, opts: Options) -> ModelReport:
    """A model's report, finished: runtime limitations made failures where the user asks
    (--fail-on-runtime-limits), then the user's dB gate (--fail-above-db) applied."""
    report.checks = [C.gate_db(C.gate_runtime_limit(c, opts.fail_on_runtime_limits),
                               opts.fail_above_db) for c in report.checks]
    return report


def measure(model: NamModel, signal: Signal, opts: Options, slim: float | None = None
            ) -> C.Measurement:
    """Run `model` (at `slim`) on the signal on the engine `opts` asks for, built once per
    model and options (models/engines.py): its output, and with `opts.with_gain` the RMS at
    the gain heuristic's 11 input levels, in the same engine call (signals/levels.py)."""
    net, choice = cached_engine(model, opts.engine, dtype=opts.dtype, device=opts.device,
                                slim=slim)
    if len(signal.samples) > STREAM_SAMPLES:  # a long signal: in blocks, the output not kept
        rate = model.sample_rate or signal.rate or DEFAULT_RATE
        meter = StreamingLufs(rate, len(signal.samples))
        with allocation_named(signal):
            stats, levels = stream_sweep(net, signal.samples, opts.with_gain, meter)
        return C.Measurement(None, levels, choice.bound, choice.name, choice.note, stats,
                             lambda: stream_output(net, signal.samples))
    with allocation_named(signal):
        if opts.with_gain:
            output, levels = gain_sweep(net, signal.samples)
        else:
            output = net(torch.from_numpy(np.asarray(signal.samples, dtype=np.float64)))
            levels = None
    return C.Measurement(output, levels, choice.bound, choice.name, choice.note)


@contextlib.contextmanager
def allocation_named(signal: Signal) -> Iterator[None]:
    """An allocation that fails while measuring (Python's MemoryError, torch's CPU
    allocator's RuntimeError, CUDA's OutOfMemoryError) is a SignalError naming the signal,
    its length and what to do, not an error blamed on the model file."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        text = str(exc)
        if not isinstance(exc, MemoryError) and not (
                "can't allocate memory" in text or "out of memory" in text.lower()):
            raise
        seconds = len(signal.samples) / (signal.rate or DEFAULT_RATE)
        raise SignalError(f"{signal.path or signal.name}: out of memory measuring on this "
                          f"{seconds:.0f} s signal ({len(signal.samples)} samples); give a "
                          "shorter --signal (NAM's standard input is 1 s), free memory, or "
                          "run on the CPU where the device's memory is smaller") from None


def measure_many(models: Sequence[NamModel], signal: Signal, opts: Options,
                 slim: float | None = None) -> list[C.Measurement]:
    """measure() of each model, in order. On a device of BATCH_DEVICES (CUDA), models that
    play the same shape on the reference run as one batched forward (models/reference/
    batched.py: a ModelBatch's gain sweeps); each Measurement then equals its own
    measure()'s within the forward's rounding bound (tests/test_batched_forward.py), with
    the same engine choice and bound. Every other model runs through measure()."""
    if (torch.device(opts.device).type not in BATCH_DEVICES or len(models) < 2
            or len(signal.samples) > STREAM_SAMPLES):
        return [measure(m, signal, opts, slim) for m in models]
    targets = [selected_model(m, slim) for m in models]
    choices = [reference_choice(m, opts.engine, opts.dtype, opts.device, slim)
               for m in models]  # (as measure() would choose: the bound of the file)
    done: dict[int, C.Measurement] = {}
    for group in group_by_shape(targets)[0]:
        group = [i for i in group if choices[i] is not None]
        if len(group) < 2:
            continue
        batch = ModelBatch([targets[i] for i in group], dtype=opts.dtype, device=opts.device)
        for i, (output, levels) in zip(group, gain_sweeps(batch, signal.samples,
                                                          opts.with_gain), strict=True):
            choice = choices[i]
            assert choice is not None
            done[i] = C.Measurement(output, levels, choice.bound, choice.name, choice.note)
    return [done[i] if i in done else measure(m, signal, opts, slim)
            for i, m in enumerate(models)]


def measured_level(label: str, model: NamModel, m: C.Measurement, signal: Signal
                   ) -> dict[str, Any]:
    """What was measured on `model` (schema.Level), whether or not metadata is stored:
    NAM's RMS loudness (dB), BS.1770-4 integrated loudness of the same output (LUFS,
    signals/metering.py) and their difference, the gain heuristic, the stored values."""
    level = C.output_level(m)  # a level beyond NAM's float32 loudness is still measured
    finite = level.passed or level.reason == "level_beyond_float32"
    rate = float(model.sample_rate or signal.rate or DEFAULT_RATE)
    loudness = m.loudness if finite else None
    lufs = (None if not finite else m.summary().lufs if m.output is None else
            integrated_loudness(m.output, rate))
    lufs = lufs if lufs is not None and math.isfinite(lufs) else None
    return {"target": label.lstrip("."), "loudness_db": loudness,
            "gain": C.gain_from_levels(m.levels) if finite and m.levels else None,
            "sample_rate": rate,
            "stored_loudness_db": model.loudness, "stored_gain": model.gain,
            "loudness_lufs": lufs,
            "lufs_minus_rms_db": None if lufs is None or loudness is None else lufs - loudness,
            "engine": m.engine}
