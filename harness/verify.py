"""`verify`: apply an output-scaling hook at several scales and prove its claims by running
the model (loudness shift in dB, linearity, stored metadata, gain, container metadata)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

from namcheck.harness import checks as C
from namcheck.harness.core import (
    ModelReport,
    Options,
    Signal,
    SignalSource,
    as_signal,
    finish_report,
    measure,
    measure_many,
    measured_level,
    rate_note,
    start_report,
)
from namcheck.harness.divergence import explain_loudness
from namcheck.harness.hooks import (
    HookRefusedError,
    linearity_obstacle,
    scale_output,
    upstream_scale_output,
)
from namcheck.models.engines import NamSource
from namcheck.models.format import NamModel, read_nam
from namcheck.models.slimming import select_submodel, slim_description, slim_intervals

DEFAULT_SCALES = (0.5, 2.0)


def run(model: NamSource, scales: Sequence[float] = DEFAULT_SCALES, *,
        hook: str = "reference", signal: SignalSource = None,
        options: Options | None = None) -> ModelReport:
    """The Python API: apply `hook` ('reference' or 'upstream') to a model (a path, a
    decoded dict or a NamModel) at each scale and check its claims by running it.
    Raises on bad input (NamFileError, SignalError, ...)."""
    return verify_model(read_nam(model), list(scales), hook, as_signal(signal),
                        options or Options())


def verify_model(model: NamModel, scales: Iterable[float], hook: str, signal: Signal,
                 opts: Options) -> ModelReport:
    """All checks of one model under `hook` ('reference' or 'upstream') at each scale."""
    report = start_report(model, signal, rate_note(model, signal),
                          slim_description(model, opts.slim),
                          *(str(w) for w in model.warnings))
    out = report.checks
    if model.submodels:
        out.append(C.container_metadata(model))
    # Every scale's hooked model first (its hook checks kept for its place in the report),
    # then the model and all of them measured together (measure_many: one batched forward
    # on CUDA). linearity, loudness_shift and gain_invariant allow only the rounding of
    # the scaled weights (4 eps), so the model before the hook must run the arithmetic the
    # scaled ones run: measured alone beside a batch, it differed by 6.1e-7 of the peak on
    # an H200 (tests/test_batched_forward.py).
    pending = []
    for s in scales:
        scratch = ModelReport(report.path, None)
        hooked, forced = _apply_hook(model, s, hook, scratch)
        pending.append((s, hooked, forced, scratch))
    measured = measure_many([model, *(h for _, h, _, _ in pending if h is not None)],
                            signal, opts, opts.slim)
    before, afters = measured[0], iter(measured[1:])
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
    report.levels.append(measured_level(label, playing, before, signal))
    stored = C.metadata_loudness(playing, before, signal.standard_input, opts.dtype, label)
    if stored.passed is False and level.passed:
        stored = explain_loudness(playing, stored, signal, opts)
    out.append(stored)
    if not level.passed:
        report.unverified.append("the hook's level claims: the output has no finite level")
        return finish_report(report, opts)
    sub_before: dict[int, C.Measurement] = {}
    for s, hooked, forced, scratch in pending:
        out.extend(scratch.checks)
        report.unverified.extend(scratch.unverified)
        if hooked is None:
            continue
        after = next(afters)
        in_range = C.float32_range(model, hooked, s, before, opts.dtype)
        cause = None if in_range is None else in_range.detail
        at_s = [C.loudness_shift(before, after, s, opts.dtype),
                C.linearity(model, before, after, s, opts.dtype, cause)]
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
        if in_range is not None:  # the failures at this scale are float32's, not the model's
            at_s = [in_range] + [c.explained(f"cause: {cause}", in_range.reason)
                                 if c.passed is False and c.name != "linearity" else c
                                 for c in at_s]
            at_s = [c if c.name != "linearity" or c.passed is not False
                    else replace(c, reason=in_range.reason) for c in at_s]
        out.extend(c.at_scale(s) for c in at_s)
    return finish_report(report, opts)


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
        out.append(C.not_applicable("hook", f"reference hook refused: {exc.detail}",
                                    "hook_refused")
                   .at_scale(scale))
        if linearity_obstacle(model) is None or model.architecture != "WaveNet":
            report.unverified.append(f"s={scale:g}: the reference hook does not apply")
            return None, False
        return scale_output(model, scale, force=True), True  # measure the gap anyway
