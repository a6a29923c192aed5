"""`audit`: check `.nam` files as they are (stored vs measured loudness and gain, head_scale,
container metadata, the level a host sets at each slim), one file never stopping the rest."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from namcheck.harness import checks as C
from namcheck.harness.divergence import runtime_divergences
from namcheck.harness.verify import (
    ModelReport,
    Options,
    Signal,
    check_rate,
    explain_loudness,
    guarded,
    measure,
    rate_note,
)
from namcheck.models import read_nam
from namcheck.models.format import NamModel
from namcheck.models.numerics import forward_tolerance
from namcheck.models.slimming import slim_intervals
from namcheck.signals.generate import DEFAULT_RATE
from namcheck.signals.levels import crest_factor

Progress = Callable[[int, int, ModelReport], None]


def audit_model(path: str | os.PathLike[str], signal: Signal, opts: Options) -> ModelReport:
    """One file as it is; a bad or unplayable file becomes an `error` report."""
    return guarded(str(path), lambda: audit_loaded(read_nam(path), signal, opts))


def audit_loaded(model: NamModel, signal: Signal, opts: Options) -> ModelReport:
    """The audit of a model already read (raises on bad input; see audit_model)."""
    check_rate(model, signal)
    report = ModelReport(model.source, model.architecture)
    report.warnings.extend(str(w) for w in model.warnings)
    report.warnings.extend(str(d) for d in runtime_divergences(model) if d.plays_differently)
    note = rate_note(model, signal)
    if note:
        report.warnings.append(note)
    out = report.checks
    targets = [("", model)] + [(f".submodel{i}", s.model) for i, s in enumerate(model.submodels)]
    measured: dict[str, C.Measurement] = {}
    for label, m in targets:
        result = measure(m, signal, opts)
        report.used(result)
        measured[label] = result
        report.levels.append(_level(label, m, result, signal))
        report.warnings.extend(_missing_metadata(label, m, result, signal, opts))
        level = C.output_level(result, label)
        out.append(level)
        stored = C.metadata_loudness(m, result, signal.standard_input, opts.dtype, label)
        if stored.passed is False and level.passed:
            stored = explain_loudness(m, stored, signal, opts)
        out.append(stored)
        if opts.with_gain:
            out.append(stored_gain(m, result, signal.standard_input, label))
    if model.submodels:
        out.append(C.container_metadata(model))
        for index, lo, hi in slim_intervals(model):
            out.append(C.normalised_level_error(model, index, lo, hi,
                                                measured[f".submodel{index}"],
                                                signal.standard_input))
    report.checks = [C.gate_db(c, opts.fail_above_db) for c in out]
    return report


def _level(label: str, model: NamModel, m: C.Measurement, signal: Signal) -> dict[str, Any]:
    """What was measured (schema.Level), whether or not metadata is stored."""
    finite = C.output_level(m).passed
    return {"target": label.lstrip("."), "loudness_db": m.loudness if finite else None,
            "gain": C.gain_from_levels(m.levels) if finite and m.levels else None,
            "sample_rate": float(model.sample_rate or signal.rate or DEFAULT_RATE),
            "stored_loudness_db": model.loudness, "stored_gain": model.gain,
            "engine": m.engine}


def _missing_metadata(label: str, model: NamModel, m: C.Measurement, signal: Signal,
                      opts: Options) -> list[str]:
    """A warning per missing level key: hosts cannot normalise without it."""
    if not signal.standard_input or not C.output_level(m).passed:
        return []
    where = f"config.submodels[{label.removeprefix('.submodel')}].model.metadata" if label \
        else "metadata"
    out = []
    if model.loudness is None:
        out.append(f"{where}.loudness: missing, so a host's Normalize does nothing for this "
                   f"model; measured {m.loudness:.4f} dB (namcheck stamp writes it)")
    if model.gain is None and opts.with_gain and m.levels:
        out.append(f"{where}.gain: missing; measured {C.gain_from_levels(m.levels):.4f} "
                   "(namcheck stamp writes it)")
    return out


def stored_gain(model: NamModel, m: C.Measurement, standard_input: bool, label: str
                ) -> C.CheckResult:
    """Stored `metadata.gain` vs the heuristic measured on the standard input.

    Tolerance: levels carry the float32 forward error of metadata_loudness (relative, at the
    crest factor); the normalised gain moves by up to 2 * that relative error."""
    name = f"metadata_gain{label}"
    if model.gain is None:
        return C.not_applicable(name, "no metadata.gain stored", "no_stored_gain")
    if not standard_input:
        return C.not_applicable(name, "the signal is not NAM's standard loudness input",
                                "not_standard_input")
    if not C.output_level(m).passed:
        level = C.output_level(m)
        return C.failed(name, f"stored gain {model.gain:g}, but {level.detail}", level.reason,
                        "gain (0..1)", model.gain)
    assert m.levels is not None
    rel = (forward_tolerance(model, torch.float32) + C.our_bound(model, m, torch.float32)
           ) * crest_factor(m.output)
    # + the float64 rounding of the stored number itself (gain is written as a Python float)
    tol = 2 * 2 * rel + abs(model.gain) * float(torch.finfo(torch.float64).eps)
    return C.result(name, C.gain_from_levels(m.levels), model.gain, tol,
                    "stored metadata.gain vs measured on the standard input", "gain (0..1)")


def run_audit(files: list[Path], signal: Signal, opts: Options, workers: int = 1,
              progress: Progress | None = None, results: Path | None = None,
              timeout: float | None = None, scheduler: str | None = None
              ) -> list[ModelReport]:
    """Audit files (in worker processes if workers > 1 or a timeout is set: a file that
    crashes or hangs its worker is an error entry). With `results`, files already audited
    with the same settings (matched by content hash) are taken from it, and each new
    result is appended as it finishes."""
    from namcheck.harness.pool import AuditPool
    from namcheck.harness.results import ResultsFile, file_sha256, run_key

    reports: list[ModelReport | None] = [None] * len(files)
    store = ResultsFile(results, run_key(signal, opts)) if results is not None else None
    hashes: dict[int, str] = {}
    todo: list[int] = []
    count = 0

    def finish(index: int, report: ModelReport, resumed: bool = False) -> None:
        nonlocal count
        reports[index] = report
        count += 1
        if store is not None and index in hashes and not resumed:
            store.append(hashes[index], files[index], report)
        if progress:
            progress(count, len(files), report)

    for i, path in enumerate(files):
        if store is not None:
            try:
                hashes[i] = file_sha256(path)
            except OSError:
                pass  # unreadable: audit_model reports it
            known = store.known(hashes[i], path) if i in hashes else None
            if known is not None:
                finish(i, known, resumed=True)
                continue
        todo.append(i)
    if scheduler is not None:
        from namcheck.harness.distributed import run_on_cluster

        run_on_cluster(scheduler, files, todo, signal, opts, finish)
    elif workers <= 1 and timeout is None:
        for i in todo:
            finish(i, audit_model(files[i], signal, opts))
    else:
        pool = AuditPool(max(1, workers), signal, opts, timeout)
        try:
            pool.run(files, todo, finish)
        finally:
            pool.close()
    return [r for r in reports if r is not None]
