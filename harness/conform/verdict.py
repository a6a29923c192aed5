"""One case's verdict, with its evidence and the likely cause of a difference.

Statuses:
- `pass`: a file the format allows played within the derived bound, or a file it refuses
  was refused (any error exit);
- `differs`: it played, and the output differs from namcheck's reference by more than
  the bound (max abs error, bound, ESR, first differing sample, the difference's shape);
- `refused`: the runtime would not load a file the format allows, or played one it must
  refuse;
- `crash`: killed by a signal (a segfault; an abort that is not an uncaught exception),
  no result within the timeout, or exit 0 with no readable output, the wrong length or a
  non-finite sample;
- `skipped`: the template cannot express the case (no slim or block argument).

A runtime refuses a file by exiting with an error status; NeuralAmpModelerCore's render
does it by letting the loader's exception escape (an abort with "terminate called after
throwing"), which counts as an error exit, not a crash.

The cause is named from the difference's shape (a constant delay found by the best lag,
a sign flip, a level offset in dB fitted by least squares, a difference confined to the
start or the end) and from what the case isolates (its feature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from namcheck.harness.compare import best_lag
from namcheck.harness.conform.expected import Prepared, esr
from namcheck.harness.conform.runner import RunResult

STATUSES = ("pass", "differs", "refused", "crash", "skipped")
# A shape "fits" when the runtime's output, corrected for it (shifted, scaled), is within
# this many bounds of the reference: the correction itself adds at most one rounding.
FIT_BOUNDS = 2.0
# The start (prewarm, initial state) and end (the last partial buffer) windows: a quarter
# of the signal each.
EDGE_FRACTION = 0.25
UNCAUGHT_EXCEPTION = "terminate called after throwing"


@dataclass
class Shape:
    """What a difference looks like: kind in delay | sign | level | start | end |
    throughout; `lag` in samples (positive: the runtime is late), `level_db`, and the
    first and last sample beyond the bound."""

    kind: str
    text: str
    lag: int | None = None
    level_db: float | None = None
    first: int | None = None
    last: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "lag": self.lag, "level_db": self.level_db,
                "first": self.first, "last": self.last}


@dataclass
class Verdict:
    """A case's status with its evidence (see the module docstring)."""

    status: str
    detail: str
    cause: str | None = None
    max_abs_error: float | None = None
    bound: float | None = None
    esr: float | None = None
    first_differing_sample: int | None = None
    shape: Shape | None = None


def skipped(reason: str) -> Verdict:
    """The template cannot express the case."""
    return Verdict("skipped", reason)


def judge(p: Prepared, run: RunResult, timeout: float) -> Verdict:
    """The verdict on one run of case `p`."""
    isolates = f"this case isolates {p.case.isolates}"
    how, what = _ending(run, timeout)
    said = " / ".join(line.strip() for line in run.output_tail.splitlines() if line.strip())
    evidence = f"{what}; output: {said or '(none)'}" if how != "ok" else what
    if how in ("timeout", "crash"):
        return Verdict("crash", evidence, f"{what}; {isolates}")
    if not p.plays:
        if how == "error_exit":
            return Verdict("pass", f"refused as the format requires ({p.refusal}): {what}")
        return Verdict("refused", f"exit 0 on a file namcheck refuses: {p.refusal}",
                       f"the runtime played a file the format refuses ({p.refusal}); "
                       f"{isolates}")
    if how == "error_exit":
        return Verdict("refused", evidence, f"the runtime refused a file the format allows "
                       f"(namcheck plays it); {isolates}")
    output, problem = _read_output(p)
    if problem is not None:
        return Verdict("crash", problem, f"{problem}; {isolates}")
    assert output is not None and p.expected is not None and p.bound is not None
    return compare(p, output)


def _ending(run: RunResult, timeout: float) -> tuple[str, str]:
    if run.timed_out:
        return "timeout", f"no result within {timeout:g} s (killed)"
    sig = run.signal_name()
    if sig is not None:
        if sig == "SIGABRT" and UNCAUGHT_EXCEPTION in run.output_tail:
            return "error_exit", "aborted on an uncaught exception"
        return "crash", f"killed by {sig}"
    if run.returncode != 0:
        return "error_exit", f"exit status {run.returncode}"
    return "ok", "exit 0"


def _read_output(p: Prepared) -> tuple[np.ndarray | None, str | None]:
    path = p.output_path
    if not path.is_file():
        return None, "exit 0 but no output file"
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return None, f"exit 0 but the output is not readable audio: {exc}"
    if data.shape[1] != 1:
        return None, f"exit 0 but the output has {data.shape[1]} channels (expected mono)"
    if rate != p.rate:
        return None, f"exit 0 but the output's sample rate is {rate} Hz (input: {p.rate} Hz)"
    y = data[:, 0]
    n = p.case.samples
    if y.size != n:
        return None, f"wrong length: {y.size} samples for an input of {n}"
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        return None, f"non-finite output: sample {bad[0]} is {y[bad[0]]} ({bad.size} in all)"
    return y, None


def compare(p: Prepared, output: np.ndarray) -> Verdict:
    """pass or differs, with the numbers and (for differs) the shape and cause."""
    e = p.expected
    assert e is not None and p.bound is not None
    diff = np.abs(output - e)
    max_err = float(diff.max())
    ratio = esr(output, e)
    beyond = np.flatnonzero(diff > p.bound)
    numbers = dict(max_abs_error=max_err, bound=p.bound, esr=ratio)
    if beyond.size == 0:
        return Verdict("pass", f"max |error| {max_err:.3g} <= bound {p.bound:.3g}", **numbers)
    first = int(beyond[0])
    shape = classify(e, output, p.bound)
    detail = (f"max |error| {max_err:.3g} > bound {p.bound:.3g} (peak-relative "
              f"{max_err / p.peak:.3g} > {p.bound_rel:.3g}); ESR {ratio:.3g}; first differing "
              f"sample {first}")
    cause = f"{shape.text}; this case isolates {p.case.isolates}"
    return Verdict("differs", detail, cause, first_differing_sample=first, shape=shape,
                   **numbers)


def classify(expected: np.ndarray, output: np.ndarray, bound: float) -> Shape:
    """The shape of a difference beyond `bound` (see the module docstring)."""
    e, a = expected, output
    n = e.size
    beyond = np.flatnonzero(np.abs(a - e) > bound)
    first, last = int(beyond[0]), int(beyond[-1])
    fit = FIT_BOUNDS * bound
    if n >= 8:
        # The lag of the differences too: a signal held at a level (silence, a step) has
        # its information in its changes, which the raw correlation drowns in DC.
        window = min(n // 2, 8192)
        for lag in dict.fromkeys((best_lag(np.diff(e), np.diff(a), window),
                                  best_lag(e, a, window))):
            if lag == 0:
                continue
            aligned = (a[lag:] - e[: n - lag]) if lag > 0 else (a[: n + lag] - e[-lag:])
            if float(np.max(np.abs(aligned))) <= fit:
                late = "late" if lag > 0 else "early"
                return Shape("delay", f"a constant delay: the output is {abs(lag)} sample"
                             f"{'s' if abs(lag) != 1 else ''} {late} (latency, or an "
                             "off-by-one in buffering)", lag=lag, first=first, last=last)
        energy = float(np.dot(e, e))
        if energy > 0:
            gain = float(np.dot(a, e)) / energy
            if gain != 0 and float(np.max(np.abs(a - gain * e))) <= fit * max(1.0, abs(gain)):
                db = 20 * math.log10(abs(gain))
                if gain < 0 and abs(db) < 0.01:
                    return Shape("sign", "a sign flip: the output is inverted (polarity; "
                                 "e.g. a negative head_scale taken as its magnitude or "
                                 "a subtraction swapped)", level_db=db, first=first, last=last)
                sign = "a sign flip and " if gain < 0 else ""
                return Shape("level", f"{sign}a level offset of {db:+.3f} dB (a gain error: "
                             "head_scale, an output scale, a calibration level applied)",
                             level_db=db, first=first, last=last)
    edge = max(1, int(EDGE_FRACTION * n))
    if last < edge and n >= 8:
        return Shape("start", f"only the start differs (samples {first}-{last} of {n}): "
                     "the prewarm, the initial state or the first buffer", first=first,
                     last=last)
    if first >= n - edge and n >= 8:
        return Shape("end", f"only the end differs (samples {first}-{last} of {n}): the "
                     "last, partial buffer", first=first, last=last)
    share = beyond.size / n
    return Shape("throughout", f"differs from sample {first} on, at {share:.1%} of the "
                 "samples", first=first, last=last)
