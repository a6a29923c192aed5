"""`compare`: another implementation's output vs namcheck's runtime-faithful reference on
the same signal: upstream's PyTorch model (`nam.models.init_from_nam`, the `upstream`
extra), or any render WAV (a plugin's bounce, NeuralAmpModelerCore's `render`, ...);
or two models with each other (`compare A.nam B.nam`: a re-export, a retrain).

Each comparison reports the peak-relative and maximum absolute error and the loudness
difference in dB, and passes within a derived bound. Where the outputs differ, the cause is
named where namcheck can identify it (harness/divergence.py), and for a Linear model
confirmed by re-running with the taps reversed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
import torch

from namcheck.harness import checks as C
from namcheck.harness.core import (
    ModelReport,
    Options,
    Signal,
    SignalSource,
    as_signal,
    check_rate,
    finish_report,
    rate_note,
    start_report,
)
from namcheck.harness.divergence import runtime_divergences
from namcheck.harness.errors import BadInputError
from namcheck.models.engines import NamSource, cached_engine
from namcheck.models.format import NamModel, read_nam
from namcheck.models.format.schema import LinearConfig, WaveNetConfig
from namcheck.models.numerics import (
    eps,
    forward_tolerance,
    peak_relative_error,
    rounding_stages,
    stages_text,
    unjudgeable,
)
from namcheck.models.rounding_envelope import envelope
from namcheck.models.tolerances import (
    DB_PER_REL,
    ENVELOPE_FALSE_FAILURE,
    HEAD_SCALE_REL_TOL,
    UPSTREAM_HEAD_SCALE_TOL,
    WIDEST_BOUND,
)
from namcheck.signals.levels import loudness_of_output
from namcheck.signals.wav import read_mono

# A render may be shifted against the input (plugin latency, a bounce started late): we look
# for the best lag within this many samples either way (0.17 s at 48 kHz).
MAX_LAG = 8192


def run(model: NamSource, *, render: str | os.PathLike[str] | None = None,
        signal: SignalSource = None, options: Options | None = None) -> ModelReport:
    """The Python API: upstream's PyTorch forward (the `upstream` extra), or a render WAV of
    `signal` by another implementation, vs namcheck's reference."""
    nam, sig = read_nam(model), as_signal(signal)
    if render is not None:
        return compare_render(nam, render, sig, options or Options())
    upstream_loader()
    return compare_upstream(nam, sig, options or Options())


def upstream_loader() -> Any:
    """upstream's `init_from_nam`, or BadInputError saying how to install it."""
    try:
        from nam.models import init_from_nam  # type: ignore[import-not-found]
    except Exception:
        raise BadInputError("compare: upstream's neural-amp-modeler is not installed "
                            "(pip install 'namcheck[upstream]'), or pass --render OUT.wav "
                            "to compare a render instead") from None
    return init_from_nam


@dataclass
class Outputs:
    """Two implementations' outputs for the same input, as float64 on the CPU."""

    ours: torch.Tensor
    theirs: torch.Tensor

    def errors(self) -> tuple[float, float, float]:
        """(peak-relative error, max |difference|, loudness difference in dB)."""
        diff = float((self.ours - self.theirs).abs().max())
        level = loudness_of_output(self.theirs) - loudness_of_output(self.ours)
        return peak_relative_error(self.theirs, self.ours), diff, level


def _head_scale_rounding(model: NamModel) -> float:
    """Relative output difference when upstream plays config.head_scale (it keeps the config
    value within 1e-5 of the tail) and the runtime plays weights[-1] = float32(config):
    the float32 rounding of the stored tail, allowed. A larger gap is a real divergence
    (divergence.py: head_scale_config_vs_tail) and is not covered by the bound."""
    if not isinstance(model.config, WaveNetConfig) or not model.head_scale:
        return 0.0
    gap = abs(model.config.head_scale - model.head_scale)
    rel = gap / abs(model.head_scale)
    return rel if rel <= HEAD_SCALE_REL_TOL and gap <= UPSTREAM_HEAD_SCALE_TOL else 0.0


def _comparison(name: str, model: NamModel, out: Outputs, dtype: torch.dtype, what: str,
                extra_rel: float = 0.0, extra_note: str = "", implementations: int = 2,
                amplified: Callable[[], float | None] | None = None) -> list[C.CheckResult]:
    """Output and level checks of `theirs` against `ours` within the derived bound:
    `implementations` rounding forwards (numerics.forward_tolerance) plus `extra_rel`. Where
    the output misses that bound and `amplified` is given, it is called for the float32
    rounding envelope on this signal (models/rounding_envelope.py, peak-relative), and the
    larger of the two bounds judges: the envelope follows a network that amplifies its
    rounding, which the depth bound does not see."""
    rel, diff, level_db = out.errors()
    rounding = forward_tolerance(model, dtype, implementations=implementations)
    why = unjudgeable(model, rounding / implementations)
    if why is not None:
        return [C.not_applicable(f"{name}{what_}", f"{what} vs namcheck's reference: {why}",
                                 "no_usable_bound") for what_ in ("output", "loudness")]
    kind = str(dtype).removeprefix("torch.")
    how = (f"{implementations} rounding implementation{'s' if implementations > 1 else ''}"
           f" x {stages_text(model)} x 8 eps({kind})")
    if amplified is not None and rel > rounding + extra_rel:
        print(f"namcheck: {model.source}: {what} misses {how}; computing the float32 "
              "rounding envelope on this signal (about 35 forwards' work)", file=sys.stderr,
              flush=True)
        env = amplified()
        envelope_is = (f"the float32 rounding envelope of {implementations} forward"
                       f"{'s' if implementations > 1 else ''} on this signal")
        if env is not None and not env / implementations <= WIDEST_BOUND:
            # the rule of numerics.unjudgeable, for the bound the signal gives
            why = (f"{envelope_is}, {env:.3g} of the peak, is wider than float16's rounding "
                   f"({WIDEST_BOUND:.3g} per forward): too wide to tell a right result from "
                   f"a wrong one (the error measured: {rel:.3g})")
            return [C.not_applicable(f"{name}{what_}", f"{what} vs namcheck's reference: "
                                     f"{why}", "no_usable_bound")
                    for what_ in ("output", "loudness")]
        if env is not None and env > rounding:
            rounding = env
            how = f"{envelope_is}, P(exceeded) <= {ENVELOPE_FALSE_FAILURE:g}"
        elif env is not None:
            how += f"; {envelope_is}, {env:.3g}, is below it"
    bound = rounding + extra_rel
    note = f" (bound: {how}{extra_note})"
    output = C.CheckResult(f"{name}output", bool(rel <= bound), rel, 0.0, rel, bound,
                           f"{what} vs namcheck's reference, peak-relative; max |diff| "
                           f"{diff:.3g}{note}", "peak-relative")
    crest = float(out.ours.abs().max()) / max(math.sqrt(float((out.ours ** 2).mean())), 1e-300)
    level_tol = DB_PER_REL * bound * crest + 4 * eps(torch.float64)
    level = C.CheckResult(f"{name}loudness", bool(abs(level_db) <= level_tol),
                          loudness_of_output(out.theirs), loudness_of_output(out.ours),
                          abs(level_db), level_tol,
                          f"{what} loudness vs namcheck's ({level_db:+.6f} dB)", "dB")
    return [output, level]


def _pair_envelope(model: NamModel, x: torch.Tensor, ours: torch.Tensor, dtype: torch.dtype
                   ) -> Callable[[], float | None] | None:
    """The lazy envelope bound of two float32 forwards of `model` on `x` (peak-relative to
    `ours`), for _comparison; None in float64, whose depth bound is far below any fault."""
    if dtype != torch.float32:
        return None

    def amplified() -> float | None:
        env = envelope(model, x.numpy())
        peak = float(ours.abs().max())
        return env.bound(implementations=2) / peak if env is not None and peak > 0 else None

    return amplified


def _explain(checks: list[C.CheckResult], model: NamModel, prefix: str,
             confirm: str | None = None) -> list[C.CheckResult]:
    """Attach the known runtime-vs-PyTorch causes to failed checks."""
    causes = [str(d) for d in runtime_divergences(model, prefix)]
    if confirm:
        causes.insert(0, confirm)
    if not causes:
        return checks
    text = "; cause: " + " | ".join(causes)
    return [c if c.passed is not False else c.explained(text.removeprefix("; "),
                                                      "runtime_divergence") for c in checks]


def run_upstream(doc: dict[str, Any], x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Upstream's PyTorch model of `doc` on `x` with zero history (pad_start), as float64."""
    net = upstream_loader()(doc).to(dtype=dtype).eval()
    with torch.no_grad():
        return net(x.to(dtype), pad_start=True).detach().double().reshape(-1)


def reference_output(model: NamModel, x: torch.Tensor, dtype: torch.dtype, device: str,
                     slim: float | None = None) -> torch.Tensor:
    """namcheck's reference forward of `model` on `x` (zero history), as float64 on the CPU."""
    net, _ = cached_engine(model, "reference", dtype=dtype, device=device, slim=slim)
    return net(x).detach().double().cpu().reshape(-1)


def _compare_one(model: NamModel, label: str, prefix: str, x: torch.Tensor, opts: Options
                 ) -> list[C.CheckResult]:
    name = f"{label}." if label else ""
    try:
        theirs = run_upstream(model.to_dict(), x, opts.dtype)
    except Exception as exc:
        found = [str(d) for d in runtime_divergences(model, prefix)]
        why = f"; cause: {' | '.join(found)}" if found else ""
        return [C.failed(f"{name}upstream_loads", f"upstream's loader/forward failed on a "
                         f"file the runtime plays: {type(exc).__name__}: {exc}{why}",
                         "upstream_cannot_load")]
    ours = reference_output(model, x, opts.dtype, opts.device)
    level = C.output_level(C.Measurement(ours), f".{label}" if label else "")
    if not level.passed:  # nothing to compare a NaN, infinite or silent model with
        return [level]
    gap = _head_scale_rounding(model)
    checks = _comparison(name, model, Outputs(ours, theirs), opts.dtype, "upstream's output",
                         gap, f" + float32 rounding of the head_scale tail {gap:.2g}"
                         if gap else "", amplified=_pair_envelope(model, x, ours, opts.dtype))
    confirm = None
    if isinstance(model.config, LinearConfig) and checks[0].passed is False:
        r = model.config.receptive_field

        def reverse(doc: dict[str, Any]) -> None:
            doc["weights"][:r] = doc["weights"][:r][::-1]

        flipped = reference_output(model.replace_data(reverse), x, opts.dtype, opts.device)
        rel = peak_relative_error(theirs, flipped)
        if rel <= checks[0].tolerance:  # type: ignore[operator]
            confirm = (f"confirmed: with the taps reversed namcheck matches upstream to "
                       f"{rel:.2g} (Linear tap order: the runtime convolves, PyTorch "
                       "correlates)")
    return _explain(checks, model, prefix, confirm)


def compare_upstream(model: NamModel, signal: Signal, opts: Options) -> ModelReport:
    """Upstream's PyTorch model vs the reference, per model and per container submodel."""
    report = start_report(model, signal, rate_note(model, signal))
    x = torch.from_numpy(np.asarray(signal.samples, dtype=np.float64))
    if model.submodels:
        report.warnings.append("upstream's .nam loader has no SlimmableContainer: each "
                               "submodel is compared on its own")
        for i, sub in enumerate(model.submodels):
            report.checks.extend(_compare_one(sub.model, f"submodel{i}",
                                              f"config.submodels[{i}].model", x, opts))
    else:
        report.checks.extend(_compare_one(model, "", "", x, opts))
    return finish_report(report, opts)


def _quantisation(path: str | os.PathLike[str], peak: float) -> tuple[float, str]:
    """Absolute error the render's integer sample format allows at an output peak `peak`.

    A step of b-bit PCM is q = 2**-(b-1) as read back (full scale 2**(b-1)). Writers differ
    in the full scale they multiply by: 2**(b-1) - 1 (libsndfile's documented float
    scaling) or 2**(b-1), and a reader divides by 2**(b-1): a gain of up to 1 - q, one step
    at full scale (peak x q). They differ in how they reach an integer too: round to
    nearest (half a step) or truncate toward -inf (a full step: libsndfile 1.2.2, hence
    soundfile 0.14, writes floor(32768 y)). So a correct render may be off by q + peak x q.
    Float files round relatively, inside the forward's own bound (0)."""
    subtype = sf.info(str(path)).subtype
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_S8": 8, "PCM_U8": 8}.get(subtype)
    if bits:
        step = 2.0 ** -(bits - 1)
        return step + peak * step, (f"{subtype} one step (writers round or truncate) + a "
                                    f"writer's full scale 2**{bits - 1} - 1")
    return 0.0, subtype  # float32/64: rounding is relative, inside the forward bound


def best_lag(ours: np.ndarray, theirs: np.ndarray, max_lag: int = MAX_LAG) -> int:
    """The shift of `theirs` against `ours` (positive: theirs is late) that correlates
    best, searched by FFT within +-max_lag samples."""
    n = min(len(ours), len(theirs))
    if n == 0:
        return 0
    size = 1 << math.ceil(math.log2(2 * n))
    spec = np.fft.rfft(theirs[:n], size) * np.conj(np.fft.rfft(ours[:n], size))
    corr = np.fft.irfft(spec, size)
    lags = np.concatenate([np.arange(0, min(max_lag, n - 1) + 1),
                           np.arange(-min(max_lag, n - 1), 0)])
    values = np.concatenate([corr[: min(max_lag, n - 1) + 1], corr[size - min(max_lag, n - 1):]])
    return int(lags[int(np.argmax(values))])


@dataclass
class Compared:
    """A comparison's report with what it compared: the aligned outputs (ours, theirs) and
    the shift of theirs found and undone (samples; positive: theirs was late). Figures
    (harness/plot.py) are drawn from this, so they show what the report judged."""

    report: ModelReport
    outputs: Outputs
    lag: int = 0

    @property
    def output_check(self) -> C.CheckResult:
        """The peak-relative output check (its measured value, bound and verdict)."""
        return next(c for c in self.report.checks if c.name.endswith("output"))


def compare_render(model: NamModel, render: str | os.PathLike[str], signal: Signal,
                   opts: Options) -> ModelReport:
    """A render of `signal` by another implementation vs the reference. A shift or a length
    difference is reported as a failed check, then the aligned overlap is compared."""
    return render_comparison(model, render, signal, opts).report


def render_comparison(model: NamModel, render: str | os.PathLike[str], signal: Signal,
                      opts: Options) -> Compared:
    """compare_render's report together with the aligned outputs it judged (Compared)."""
    report = start_report(model, signal)
    theirs_np, rate = read_mono(render)
    if signal.rate is not None and rate != signal.rate:
        raise BadInputError(f"{render}: sample rate {rate} Hz differs from the signal's "
                            f"{signal.rate} Hz")
    x = torch.from_numpy(np.asarray(signal.samples, dtype=np.float64))
    ours_t = reference_output(model, x, torch.float64, opts.device, opts.slim)
    level = C.output_level(C.Measurement(ours_t))
    if not level.passed:  # the model fails, whatever the render holds
        report.checks.append(level)
    ours = ours_t.numpy()
    n_ours, n_theirs = len(ours), len(theirs_np)
    report.checks.append(C.CheckResult(
        "render_length", n_theirs == n_ours, float(n_theirs), float(n_ours),
        float(abs(n_theirs - n_ours)), 0.0,
        f"{render} has {n_theirs} samples, the input {n_ours}", "samples",
        "" if n_theirs == n_ours else "render_length_differs"))
    lag = best_lag(ours, theirs_np)
    report.checks.append(C.CheckResult(
        "render_alignment", lag == 0, float(lag), 0.0, float(abs(lag)), 0.0,
        "best-correlating shift of the render against the reference"
        + (f": the render is {abs(lag)} sample{'s' if abs(lag) != 1 else ''} "
           f"{'late' if lag > 0 else 'early'}; the "
           "comparison below uses the aligned overlap" if lag else ""), "samples",
        "render_misaligned" if lag else ""))
    if lag >= 0:
        a, b = ours[: max(0, min(n_ours, n_theirs - lag))], theirs_np[lag: lag + n_ours]
    else:
        a, b = ours[-lag: -lag + n_theirs], theirs_np[: max(0, n_ours + lag)]
    m = min(len(a), len(b))
    peak = float(np.max(np.abs(a[:m]))) if m else 0.0
    allowed, fmt = _quantisation(render, peak)
    extra = allowed / peak if peak > 0 else 0.0
    # The render ran in float32 (plugins do): ours is float64, so one implementation rounds.
    out = Outputs(torch.from_numpy(a[:m].copy()), torch.from_numpy(np.asarray(b[:m]).copy()))
    window = slice(0, m) if lag >= 0 else slice(-lag, -lag + m)

    def amplified() -> float | None:
        env = envelope(model, x.numpy(), opts.slim)
        return env.bound(window) / peak if env is not None and peak > 0 else None

    checks = _comparison("", model, out, torch.float32, f"{render}", extra,
                         f" + {fmt} {extra:.2g}" if extra else "", implementations=1,
                         amplified=amplified)
    report.checks.extend(checks)
    return Compared(finish_report(report, opts), out, lag)


def upstream_comparison(model: NamModel, signal: Signal, opts: Options) -> Compared:
    """One model (not a container) vs upstream's PyTorch forward, as compare_upstream
    judges it, with both outputs (Compared). Upstream's failure to run is BadInputError."""
    report = start_report(model, signal, rate_note(model, signal))
    x = torch.from_numpy(np.asarray(signal.samples, dtype=np.float64))
    try:
        theirs = run_upstream(model.to_dict(), x, opts.dtype)
    except BadInputError:
        raise
    except Exception as exc:
        raise BadInputError(f"{model.source}: upstream cannot run this model: "
                            f"{type(exc).__name__}: {exc}") from None
    ours = reference_output(model, x, opts.dtype, opts.device)
    gap = _head_scale_rounding(model)
    out = Outputs(ours, theirs)
    report.checks.extend(_explain(_comparison(
        "", model, out, opts.dtype, "upstream's output", gap,
        f" + float32 rounding of the head_scale tail {gap:.2g}" if gap else "",
        amplified=_pair_envelope(model, x, ours, opts.dtype)), model, ""))
    return Compared(finish_report(report, opts), out)


def compare_models(a: NamModel, b: NamModel, signal: Signal, opts: Options) -> ModelReport:
    """`compare A.nam B.nam`: B's output vs A's on the same signal (a re-export, a
    retrain, a conversion), both by namcheck's reference in `opts.dtype` at `opts.slim`.

    "The same model" is what two rounding forwards of one model can differ by: the
    bound is forward_tolerance(the deeper model, dtype, implementations=2), peak-relative.
    Checks: the output within it; NAM's ESR (mean squared difference / mean squared A,
    no pre-emphasis) within (bound x crest factor)^2, which the output bound implies; the
    loudness difference in dB within the bound's effect on RMS."""
    check_rate(a, signal)
    check_rate(b, signal)
    if a.sample_rate and b.sample_rate and a.sample_rate != b.sample_rate:
        raise BadInputError(f"{b.source}: sample rate {b.sample_rate:g} Hz differs from "
                            f"{a.source}'s {a.sample_rate:g} Hz: not one signal for both")
    report = ModelReport(f"{a.source} vs {b.source}", f"{a.architecture} vs {b.architecture}")
    x = torch.from_numpy(np.asarray(signal.samples, dtype=np.float64))
    ya = reference_output(a, x, opts.dtype, opts.device, opts.slim)
    yb = reference_output(b, x, opts.dtype, opts.device, opts.slim)
    for name, y in ((a.source, ya), (b.source, yb)):
        if not bool(torch.isfinite(y).all()) or float(y.abs().max()) == 0.0:
            report.checks.append(C.failed("output", f"{name}: the output is not finite or "
                                          "silent: nothing to compare", "non_finite_output"))
            return report
    deeper = a if rounding_stages(a) >= rounding_stages(b) else b
    bound = forward_tolerance(deeper, opts.dtype, implementations=2)
    why = unjudgeable(deeper, bound / 2)
    if why is not None:
        report.checks += [C.not_applicable(check, f"{deeper.source}: {why}", "no_usable_bound")
                          for check in ("output", "esr", "loudness")]
        return finish_report(report, opts)
    rel, diff, level_db = Outputs(ya, yb).errors()
    mse = float(((yb - ya) ** 2).mean())
    ratio = mse / float((ya ** 2).mean())
    crest = float(ya.abs().max()) / math.sqrt(float((ya ** 2).mean()))
    dtype = str(opts.dtype).removeprefix("torch.")
    note = f"bound: 2 x {stages_text(deeper)} x 8 eps({dtype}), two rounding plays of one model"
    report.checks.append(C.CheckResult(
        "output", bool(rel <= bound), rel, 0.0, rel, bound,
        f"{b.source} vs {a.source}, peak-relative; max |diff| {diff:.3g}; ESR {ratio:.3g} "
        f"({note})", "peak-relative"))
    esr_tol = (bound * crest) ** 2
    report.checks.append(C.CheckResult(
        "esr", bool(ratio <= esr_tol), ratio, 0.0, ratio, esr_tol,
        "NAM's ESR: mean squared difference / mean squared A, no pre-emphasis (tolerance: "
        "(bound x crest factor)^2)", "ratio"))
    level_tol = DB_PER_REL * bound * crest + 4 * eps(torch.float64)
    report.checks.append(C.CheckResult(
        "loudness", bool(abs(level_db) <= level_tol), loudness_of_output(yb),
        loudness_of_output(ya), abs(level_db), level_tol,
        f"level of B - level of A: {level_db:+.6f} dB", "dB"))
    return finish_report(report, opts)
