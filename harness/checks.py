"""Checks: each compares one measured quantity with what a claim says, within a tolerance
derived from the dtype's precision and written here.

A check whose premise does not hold (e.g. stored loudness when the signal is not NAM's
standard input) is `passed=None`, "not applicable", with the reason: never a false pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from namcheck.harness.hooks import closed_form_shift_db, linearity_obstacle
from namcheck.models.format import NamModel
from namcheck.models.format.access import describe
from namcheck.models.numerics import eps, forward_tolerance, unjudgeable
from namcheck.models.tolerances import (
    DB_PER_REL,
    FLOAT32_MAX,
    FLOAT32_TINY,
    HEAD_SCALE_REL_TOL,
    MAX_NAM_LOUDNESS_DB,
    MAX_NAM_LOUDNESS_PEAK,
    STORED_REL,
)
from namcheck.signals.levels import OutputStats, gain_from_levels, to_db


@dataclass(frozen=True)
class CheckResult:
    """One check: measured and expected values, |error| and tolerance in `unit`;
    `passed` is None when the check does not apply."""

    name: str
    passed: bool | None  # None: not applicable
    measured: float | None
    expected: float | None
    error: float | None
    tolerance: float | None
    detail: str
    unit: str = ""  # of measured / expected / error / tolerance: "dB", "relative", ...
    reason: str = ""  # stable code (schema.REASONS); empty: held / beyond_tolerance / n/a
    scale: float | None = None  # the hook's scale this check is about, if any

    def __post_init__(self) -> None:
        # A pass rests on numbers: one that is NaN or infinite computed nothing, so the check
        # fails with that reason, whoever built it (a verdict never passes on -inf dB).
        if self.passed is not True:
            return
        bad = [f"{key} {value}" for key, value in (
            ("measured", self.measured), ("expected", self.expected), ("error", self.error),
            ("tolerance", self.tolerance)) if value is not None and not math.isfinite(value)]
        if bad:
            object.__setattr__(self, "passed", False)
            object.__setattr__(self, "reason", "no_finite_value")
            object.__setattr__(self, "detail", f"{self.detail}; no finite number to pass on: "
                               + ", ".join(bad))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def at_scale(self, scale: float, name: str | None = None) -> CheckResult:
        return replace(self, scale=scale, name=name or self.name)

    def explained(self, text: str, reason: str | None = None) -> CheckResult:
        """The same verdict with `text` appended to the detail (a cause namcheck found)."""
        return replace(self, detail=f"{self.detail}; {text}", reason=reason or self.reason)


def result(name: str, measured: float, expected: float, tol: float, detail: str,
           unit: str = "") -> CheckResult:
    """A check that passes when |measured - expected| <= tol (a NaN error fails)."""
    error = abs(measured - expected)
    passed = bool(error <= tol)  # False for a NaN error
    return CheckResult(name, passed, measured, expected, error, tol, detail, unit)


def gate_db(check: CheckResult, fail_above_db: float | None) -> CheckResult:
    """`--fail-above-db X`: a level check (unit dB) that failed only by exceeding its
    rounding bound, with an error of at most X dB, passes under the user's gate (the detail
    keeps the bound it exceeded). Checks in other units and NaN errors are untouched."""
    if (fail_above_db is None or check.passed is not False or check.unit != "dB"
            or check.error is None or not check.error <= fail_above_db):
        return check
    return replace(check, passed=True, tolerance=fail_above_db, reason="within_fail_above_db",
                   detail=f"{check.detail}; error {check.error:.3g} dB exceeds the rounding "
                   f"bound {check.tolerance:.3g} dB but is within --fail-above-db "
                   f"{fail_above_db:g}")


RUNTIME_LIMITATION = "runtime_limitation"


def is_limitation(check: CheckResult) -> bool:
    """A runtime limitation: measured and beyond its tolerance, but no edit of the file can
    fix it (the runtime's design does it); reported and counted, not the file's failure."""
    return check.passed is None and check.reason == RUNTIME_LIMITATION


def runtime_limitation(check: CheckResult, why: str) -> CheckResult:
    """`check` (failed beyond its tolerance) as a runtime limitation: its numbers kept,
    `why` no edit of the file can fix it appended; --fail-on-runtime-limits fails it."""
    if check.passed is not False:
        return check
    return replace(check, passed=None, reason=RUNTIME_LIMITATION,
                   detail=f"{check.detail}; runtime limitation: {why} (reported, not "
                   "failed; --fail-on-runtime-limits fails it)")


def gate_runtime_limit(check: CheckResult, fail: bool) -> CheckResult:
    """--fail-on-runtime-limits: a runtime limitation fails (its reason code kept)."""
    if not fail or not is_limitation(check):
        return check
    return replace(check, passed=False)


def not_applicable(name: str, why: str, reason: str) -> CheckResult:
    """A check whose premise does not hold: n/a with the reason (never a pass)."""
    return CheckResult(name, None, None, None, None, None, f"not applicable: {why}",
                       reason=reason)


def failed(name: str, detail: str, reason: str, unit: str = "", expected: float | None = None
           ) -> CheckResult:
    """A check that failed without a number to compare (a NaN output, a hook that broke)."""
    return CheckResult(name, False, None, expected, None, None, detail, unit, reason)


@dataclass
class Measurement:
    """One model's output on the signal (harness/core.py: measure), kept so checks share
    forwards."""

    output: torch.Tensor | None  # None: a long signal, measured in blocks (stats only)
    levels: list[float] | None = None  # RMS at the 11 gain steps, when measured
    # Peak-relative error bound of the forward that measured it (None: the float32
    # reference's, numerics.forward_tolerance), and the engine's name.
    bound: float | None = None
    engine: str = "reference"
    engine_note: str | None = None  # why the reference ran where the fast engine was asked
    # What the checks need of the output (signals/levels.py): given where the output was
    # streamed and not kept, else computed from it once.
    stats: OutputStats | None = None
    # A long signal's output again, block by block (a fresh stream of the same forward),
    # for the checks that compare two outputs sample by sample (linearity).
    replay: Callable[[], Iterator[torch.Tensor]] | None = None

    def blocks(self) -> Iterator[torch.Tensor]:
        """The output in blocks: the kept output as one block, else replayed."""
        if self.output is not None:
            yield self.output
        else:
            assert self.replay is not None
            yield from self.replay()

    def summary(self) -> OutputStats:
        if self.stats is None:
            assert self.output is not None
            self.stats = OutputStats.of(self.output)
        return self.stats

    @property
    def loudness(self) -> float:
        return to_db(self.summary().rms)

    @property
    def peak(self) -> float:
        return self.summary().peak

    @property
    def crest(self) -> float:
        """Peak over RMS (1 for silence), as crest_factor of the output."""
        stats = self.summary()
        level = stats.rms
        return stats.peak / level if level > 0 else 1.0


def output_level(m: Measurement, label: str = "") -> CheckResult:
    """The output is finite and not silent: every level check needs a finite, nonzero RMS.

    A NaN/Inf output or an all-zero one is a failed model, never an n/a."""
    name = f"output_level{label}"
    stats = m.summary()
    if stats.non_finite:
        return failed(name, f"the output is not finite: sample {stats.first_non_finite} is "
                      f"{stats.first_non_finite_value} ({stats.non_finite} non-finite "
                      "samples)", "non_finite_output")
    level = stats.rms
    if level == 0.0:
        return failed(name, "the output is silent (all zeros): it has no level to measure",
                      "silent_output")
    loud, peak = to_db(level), stats.peak
    if loud > MAX_NAM_LOUDNESS_DB or peak > MAX_NAM_LOUDNESS_PEAK:
        return CheckResult(name, False, loud, None, None, MAX_NAM_LOUDNESS_DB,
                           f"the output's level {loud:.1f} dB (peak {peak:.3g}) is beyond what "
                           "NAM's float32 loudness can represent: its sum of squares over "
                           f"the standard input exceeds float32's max ({MAX_NAM_LOUDNESS_DB:.1f}"
                           " dB), so NAM measures inf and no stored level describes it",
                           "dB", "level_beyond_float32")
    return CheckResult(name, True, loud, None, None, None,
                       "the output is finite and not silent (measured: its loudness)", "dB")


def our_bound(model: NamModel, m: Measurement, dtype: torch.dtype) -> float:
    """Peak-relative error bound of the forward behind `m` (the engine's, else the
    reference's in `dtype`)."""
    return m.bound if m.bound is not None else forward_tolerance(model, dtype)


def unjudged(name: str, model: NamModel, m: Measurement, dtype: torch.dtype
             ) -> CheckResult | None:
    """n/a ('no_usable_bound') where a stored value checked against our measurement and
    the exporter's float32 one has no usable bound (numerics.unjudgeable), else None."""
    bound = max(forward_tolerance(model, torch.float32), our_bound(model, m, dtype))
    why = unjudgeable(model, bound)
    return None if why is None else not_applicable(name, why, "no_usable_bound")


def scale_tolerance_db(dtype: torch.dtype) -> float:
    """Error of a measured dB shift when only head_scale changed between two runs.

    Every op before the final multiply is identical in both runs, so the outputs differ
    only by the rounding of that product (eps/2 each side), of the scaled weight held in
    `dtype` (eps/2) and of the float64 RMS (negligible). 4 eps covers them with margin x2.
    """
    return DB_PER_REL * 4 * eps(dtype)


def loudness_shift(before: Measurement, after: Measurement, scale: float,
                   dtype: torch.dtype) -> CheckResult:
    """Measured loudness after - before (dB) vs the closed form 20*log10(scale)."""
    l0, l1 = before.loudness, after.loudness
    expected = closed_form_shift_db(scale)
    # Plus float64 rounding of the dB numbers themselves (log10 and the subtraction), which
    # matters in float64 for large levels: |L| * eps64 for each side.
    tol = scale_tolerance_db(dtype) + (abs(l0) + abs(l1) + abs(expected)) * eps(torch.float64)
    return result("loudness_shift", l1 - l0, expected, tol,
                  f"measured loudness after - before vs 20*log10({scale:g})", "dB")


def linearity(model: NamModel, before: Measurement, after: Measurement, scale: float,
              dtype: torch.dtype, cause: str | None = None) -> CheckResult:
    """Does the output scale by exactly `scale`? (peak-relative error of after vs s*before)
    `cause`: why it cannot, where known outside the model (float32_range's finding)."""
    peak = diff = 0.0
    for b, a in zip(before.blocks(), after.blocks(), strict=True):  # long signals: blocks
        ref = scale * b.double()
        peak = max(peak, float(ref.abs().max()))
        diff = max(diff, float((a.double() - ref).abs().max()))
    err = diff / (peak if peak > 0 else 1.0)
    tol = 4 * eps(dtype)  # the same roundings as scale_tolerance_db, per sample
    passed = err <= tol
    if passed:
        detail = f"output scales by exactly {scale:g}: the closed form holds"
    elif cause is not None:
        detail = f"output does not scale by {scale:g}: {cause}"
    else:
        why = linearity_obstacle(model) or "output is not linear in head_scale"
        shift = after.loudness - before.loudness
        detail = (f"output does not scale by {scale:g} ({why}); measured shift {shift:+.4f} dB "
                  f"vs closed form {closed_form_shift_db(scale):+.4f} dB: the closed form does "
                  "not hold for this model")
    return CheckResult("linearity", passed, err, 0.0, err, tol, detail, "peak-relative",
                       "" if passed else "not_linear_in_head_scale")


def _float32_value(value: float) -> tuple[str, str] | None:
    """(reason, what happens) where `value` leaves float32's normal range, else None."""
    size = abs(value)
    if size > FLOAT32_MAX:
        return "float32_overflow", f"is beyond float32's max {FLOAT32_MAX:.3g} (inf)"
    if 0 < size < FLOAT32_TINY:
        if size < 2.0**-150:
            return "float32_underflow", "rounds to 0 in float32"
        bits = max(1, math.floor(math.log2(size / 2.0**-149)) + 1)
        return "float32_underflow", (f"is a float32 subnormal (below {FLOAT32_TINY:.3g}: "
                                     f"{bits} significant bits instead of 24)")
    return None


def float32_range(before: NamModel, after: NamModel, scale: float, m: Measurement,
                  dtype: torch.dtype) -> CheckResult | None:
    """A failed `float32_range` check where the hook's result at `scale` leaves float32's
    range, else None: a written head_scale (weights[-1], which the runtime reads as a
    float32) that is subnormal, 0 or inf; the scaled output's peak (`m` is the output
    before the hook) beyond the range of `dtype`; or its level beyond what NAM's float32
    loudness represents (tolerances.MAX_NAM_LOUDNESS_DB). Then the other checks at this
    scale fail for this reason, not the model's."""
    pairs = [(before, after, "")] if not before.submodels else [
        (b.model, a.model, f"config.submodels[{i}].model.")
        for i, (b, a) in enumerate(zip(before.submodels, after.submodels, strict=True))]
    for b, a, prefix in pairs:
        if a.head_scale is None or b.head_scale is None:
            continue
        found = _float32_value(a.head_scale)
        if found is not None:
            return CheckResult("float32_range", False, a.head_scale, None, None, None,
                               f"{prefix}weights[-1] (head_scale) {b.head_scale:.6g} x "
                               f"{scale:g} = {a.head_scale:.6g} {found[1]}; the runtime "
                               "reads it as a float32", "", found[0])
    peak = m.peak * scale
    info = torch.finfo(dtype)
    name = str(dtype).removeprefix("torch.")
    if peak > float(info.max) or 0 < peak < float(info.tiny):
        over = peak > float(info.max)
        return CheckResult("float32_range" if dtype == torch.float32 else f"{name}_range",
                           False, peak, None, None, None,
                           f"the output's peak x {scale:g} = {peak:.3g} "
                           + (f"is beyond {name}'s max {float(info.max):.3g}" if over else
                              f"is below {name}'s smallest normal {float(info.tiny):.3g}"),
                           "", "float32_overflow" if over else "float32_underflow")
    level = m.loudness + closed_form_shift_db(scale)
    if level > MAX_NAM_LOUDNESS_DB:
        return CheckResult("float32_range", False, level, None, None, MAX_NAM_LOUDNESS_DB,
                           f"the level after x {scale:g} ({level:.1f} dB) is beyond what "
                           f"NAM's float32 loudness can represent ({MAX_NAM_LOUDNESS_DB:.1f} "
                           "dB): its stored loudness would be inf", "dB", "float32_overflow")
    return None


def metadata_shift(before: NamModel, after: NamModel, scale: float) -> CheckResult:
    """Stored loudness after - before vs the closed form (what the hook claims to write)."""
    if before.loudness is None or after.loudness is None:
        return not_applicable("metadata_shift", "no metadata.loudness stored",
                              "no_stored_loudness")
    measured = after.loudness - before.loudness
    # Both values may be float32-rounded when written (half an ulp of each), and the hook's
    # float64 addition rounds too (an eps64 of each magnitude).
    size = abs(before.loudness) + abs(after.loudness)
    tol = STORED_REL * size + size * eps(torch.float64)
    return result("metadata_shift", measured, closed_form_shift_db(scale), tol,
                  "stored loudness after - before vs 20*log10(scale)", "dB")


def wrong_typed_metadata(model: NamModel, key: str) -> tuple[str, Any] | None:
    """(JSON path, value) where `model`'s own metadata.`key` is of a type the runtime
    ignores (a `gain` that is not a number; a `metadata` that is not an object), read from
    NamModel.metadata_issues; None otherwise. (A wrong-typed loudness or input/output
    level is refused when the file is read: the runtime's get<double> throws.)"""
    for path, value in model.metadata_issues.items():
        if path == "metadata" or path.endswith(".metadata") or (
                path == f"metadata.{key}" or path.endswith(f".metadata.{key}")):
            return path, value
    return None


def _wrong_type(name: str, key: str, found: tuple[str, Any], measured: float | None,
                unit: str) -> CheckResult:
    """The failed check of a wrong-typed stored value: hosts cannot use it."""
    path, value = found
    what = ("not an object: the runtime ignores it, so no " + key + " is stored"
            if not path.endswith(key) else
            "not a number: the runtime ignores it and namcheck cannot use it")
    have = f"; measured {measured:.4f}" if measured is not None and math.isfinite(
        measured) else ""
    return CheckResult(name, False, measured, None, None, None,
                       f"{path} is {describe(value)}, {what}{have} (namcheck stamp writes "
                       "the measured value)", unit, "wrong_type")


def metadata_loudness(model: NamModel, m: Measurement, standard_input: bool,
                      dtype: torch.dtype, label: str = "") -> CheckResult:
    """Stored `metadata.loudness` vs the loudness measured on NAM's standard input; a
    `metadata` that is not an object fails ('wrong_type': hosts get no loudness).

    Tolerance: the exporter measured in float32 with its own forward, we with ours; their
    outputs may differ by forward_tolerance(float32, both rounding) of the peak, i.e. that
    times peak/rms relative to the RMS, plus the float32 rounding of the stored number."""
    name = f"metadata_loudness{label}"
    found = wrong_typed_metadata(model, "loudness")
    if found is not None:
        ok = standard_input and output_level(m).passed
        return _wrong_type(name, "loudness", found, m.loudness if ok else None, "dB")
    if model.loudness is None:
        return not_applicable(name, "no metadata.loudness stored", "no_stored_loudness")
    if not standard_input:
        return not_applicable(name, "the signal is not NAM's standard loudness input "
                                    "(pass --signal loudness_input.wav)", "not_standard_input")
    if not output_level(m).passed:
        return failed(name, f"stored loudness {model.loudness:g} dB, but "
                      f"{output_level(m).detail}", output_level(m).reason, "dB", model.loudness)
    no_bound = unjudged(name, model, m, dtype)
    if no_bound is not None:
        return no_bound
    tol = stored_loudness_tolerance(model, m, dtype, model.loudness)
    return result(name, m.loudness, model.loudness, tol,
                  "stored metadata.loudness vs measured on the standard input", "dB")


def stored_loudness_tolerance(model: NamModel, m: Measurement, dtype: torch.dtype,
                              stored: float) -> float:
    """dB tolerance between a stored loudness and ours: the exporter measured in float32
    with its own forward (forward_tolerance(float32) of the peak), we with ours (the
    engine's bound, our_bound); that relative error of the peak is peak/rms times it of
    the RMS; plus the float32 rounding of the stored number."""
    exporter = forward_tolerance(model, torch.float32)
    rel = (exporter + our_bound(model, m, dtype)) * m.crest
    return DB_PER_REL * rel + STORED_REL * abs(stored)


def head_scale_scaled(before: NamModel, after: NamModel, scale: float) -> CheckResult:
    """The hook multiplied config.head_scale AND weights[-1] (what plugins run) by `scale`,
    in every model that has them (each container submodel). Worst relative error of the
    two products; tolerance: float32 rounding of the written values (2**-23 relative)."""
    pairs = [(before, after, "")] if not before.submodels else [
        (b.model, a.model, f"config.submodels[{i}].model.")
        for i, (b, a) in enumerate(zip(before.submodels, after.submodels, strict=True))]
    pairs = [p for p in pairs if p[0].head_scale is not None]
    if not pairs:
        what = (f"{before.architecture} has" if not before.submodels
                else "no submodel has")
        return not_applicable("head_scale_scaled", f"{what} a head_scale", "no_head_scale")
    worst, where = 0.0, ""
    for b, a, prefix in pairs:
        for key, old, new in (("weights[-1]", b.head_scale, a.head_scale),
                              ("config.head_scale", b.head_scale_config, a.head_scale_config)):
            assert old is not None and new is not None
            want = scale * old
            rel = abs(new - want) / abs(want) if want else abs(new)
            if not rel <= worst:
                worst, where = rel, f"{prefix}{key}"
    skipped = len(before.submodels) - len(pairs) if before.submodels else 0
    detail = (f"weights[-1] and config.head_scale both multiplied by {scale:g} "
              f"(worst: {where or 'exact'})" + (f"; {skipped} submodel(s) without a "
                                                "head_scale" if skipped else ""))
    return CheckResult("head_scale_scaled", bool(worst <= HEAD_SCALE_REL_TOL), worst, 0.0,
                       worst, HEAD_SCALE_REL_TOL, detail, "relative")


def gain_invariant(before: Measurement, after: Measurement, dtype: torch.dtype) -> CheckResult:
    """The gain heuristic measured before vs after: scaling must not change it.

    Gain = 2*sum(levels)/(11*top) - 1; all levels scale alike, so only rounding moves it:
    each level carries the relative error of scale_tolerance_db's 4 eps, and the ratio's
    error is amplified by 2*sum/(11*top) (at most 2 for a monotone curve)."""
    assert before.levels is not None and after.levels is not None
    g0, g1 = gain_from_levels(before.levels), gain_from_levels(after.levels)
    top = before.levels[-1]
    factor = 2 * sum(before.levels) / (len(before.levels) * top) if top > 0 else 2.0
    tol = factor * 2 * 4 * eps(dtype)
    return result("gain_invariant", g1, g0, tol, "measured gain after vs before the hook",
                  "gain (0..1)")


def metadata_gain_kept(before: NamModel, after: NamModel) -> CheckResult:
    """Stored metadata.gain after the hook equals before (the hook must leave it)."""
    if before.gain is None:
        return not_applicable("metadata_gain_kept", "no metadata.gain stored",
                              "no_stored_gain")
    if after.gain is None:
        return failed("metadata_gain_kept", "the hook removed metadata.gain", "gain_removed",
                      "gain (0..1)", before.gain)
    return result("metadata_gain_kept", after.gain, before.gain, 0.0,
                  "stored gain after vs before (the hook must leave it)", "gain (0..1)")


def stored_gain(model: NamModel, m: Measurement, standard_input: bool, label: str
                ) -> CheckResult:
    """Stored `metadata.gain` vs the heuristic measured on the standard input; a gain that
    is not a number (or a `metadata` that is not an object) fails ('wrong_type').

    Tolerance: levels carry the float32 forward error of metadata_loudness (relative, at the
    crest factor); the normalised gain moves by up to 2 * that relative error."""
    name = f"metadata_gain{label}"
    found = wrong_typed_metadata(model, "gain")
    if found is not None:
        ok = standard_input and output_level(m).passed and m.levels is not None
        return _wrong_type(name, "gain", found,
                           gain_from_levels(m.levels) if ok else None, "gain (0..1)")
    if model.gain is None:
        return not_applicable(name, "no metadata.gain stored", "no_stored_gain")
    if not standard_input:
        return not_applicable(name, "the signal is not NAM's standard loudness input",
                              "not_standard_input")
    if not output_level(m).passed:
        level = output_level(m)
        return failed(name, f"stored gain {model.gain:g}, but {level.detail}", level.reason,
                      "gain (0..1)", model.gain)
    assert m.levels is not None
    no_bound = unjudged(name, model, m, torch.float32)
    if no_bound is not None:
        return no_bound
    rel = (forward_tolerance(model, torch.float32) + our_bound(model, m, torch.float32)
           ) * m.crest
    # + the float64 rounding of the stored number itself (gain is written as a Python float)
    tol = 2 * 2 * rel + abs(model.gain) * float(torch.finfo(torch.float64).eps)
    return result(name, gain_from_levels(m.levels), model.gain, tol,
                  "stored metadata.gain vs measured on the standard input", "gain (0..1)")


def container_metadata(model: NamModel) -> CheckResult:
    """The container's stored loudness and gain equal its top (largest max_value)
    submodel's, for each value stored on both sides; a value missing on either side is a
    warning (harness/audit.py's missing metadata), not this check's failure."""
    if not model.submodels:
        return not_applicable("container_metadata", "not a SlimmableContainer",
                              "not_a_container")
    top = model.submodels[-1].model
    pairs = [(key, mine, theirs) for key, mine, theirs in
             (("loudness", model.loudness, top.loudness), ("gain", model.gain, top.gain))
             if mine is not None and theirs is not None]
    if not pairs:
        return not_applicable("container_metadata", "no loudness or gain is stored on both "
                              "the container and its top submodel", "no_stored_loudness")
    problems = [f"{key} {mine:.6g} vs top submodel's {theirs:.6g}"
                for key, mine, theirs in pairs if mine != theirs]
    compared = " and ".join(key for key, _, _ in pairs)
    detail = "; ".join(problems) if problems else f"{compared} equal the top submodel's"
    err = None
    if model.loudness is not None and top.loudness is not None:
        err = abs(model.loudness - top.loudness)
    return CheckResult("container_metadata", not problems, model.loudness, top.loudness, err,
                       0.0, detail, "dB", "container_metadata_mismatch" if problems else "")


def normalised_level_error(container: NamModel, index: int, lo: float, hi: float,
                           m: Measurement, standard_input: bool) -> CheckResult:
    """A host normalises with the container's one `metadata.loudness`, whatever submodel
    plays: the level it sets is off by (measured loudness of the submodel playing at slim
    values in [lo, hi]) - (container loudness), in dB. Tolerance: metadata_loudness's."""
    upper = "<=" if hi == 1.0 else "<"
    name = f"normalised_level_error[{lo:g}<=slim{upper}{hi:g}]"
    if container.loudness is None:
        return not_applicable(name, "the container stores no metadata.loudness",
                              "no_stored_loudness")
    if not standard_input:
        return not_applicable(name, "the signal is not NAM's standard loudness input",
                              "not_standard_input")
    level = output_level(m)
    if not level.passed:
        return failed(name, f"submodel {index}: {level.detail}", level.reason, "dB",
                      container.loudness)
    sub = container.submodels[index].model
    no_bound = unjudged(name, sub, m, torch.float32)
    if no_bound is not None:
        return no_bound
    tol = stored_loudness_tolerance(sub, m, torch.float32, container.loudness)
    off = m.loudness - container.loudness
    check = result(name, m.loudness, container.loudness, tol,
                   f"submodel {index} plays at these slim values and measures "
                   f"{m.loudness:.2f} dB; hosts normalise with the container's "
                   f"{container.loudness:.2f} dB, so it plays {abs(off):.2f} dB "
                   f"{'louder' if off > 0 else 'quieter'} than the level set", "dB")
    # A SlimmableContainer carries one loudness; hosts set every slim's level from it, so
    # submodels of different levels cannot all match it, whatever the file stores.
    return runtime_limitation(check, "a SlimmableContainer carries one loudness, which "
                              "hosts apply at every slim; no value of it fits submodels of "
                              "different levels")


