"""`audit`: check `.nam` files as they are (stored vs measured loudness and gain, head_scale,
container metadata, the level a host sets at each slim), one file never stopping the rest.
A corpus runs in worker processes or on a Dask cluster (harness/corpus/)."""

from __future__ import annotations

import math
import os
import statistics
from pathlib import Path
from typing import Any

from namcheck.harness import checks as C
from namcheck.harness import corpus
from namcheck.harness.calibration import calibration, calibration_warnings
from namcheck.harness.core import (
    ModelReport,
    Options,
    Signal,
    SignalSource,
    as_signal,
    finish_report,
    guarded,
    measure_many,
    measured_level,
    rate_note,
    start_report,
)
from namcheck.harness.divergence import explain_loudness, runtime_divergences
from namcheck.models.format import NamModel, read_nam, read_nam_bytes
from namcheck.models.slimming import slim_intervals


def run(path: str | os.PathLike[str], *, signal: SignalSource = None,
        options: Options | None = None) -> ModelReport:
    """The Python API: a file as it is (measured vs stored loudness in dB and gain,
    container levels); a bad or unplayable file is an `error` report."""
    return audit_model(path, as_signal(signal), options or Options())


def audit_model(path: str | os.PathLike[str], signal: Signal, opts: Options) -> ModelReport:
    """One file as it is; a bad or unplayable file becomes an `error` report."""
    return guarded(str(path), lambda: audit_loaded(read_nam(path), signal, opts))


def audit_bytes(name: str, data: bytes, signal: Signal, opts: Options) -> ModelReport:
    """One file's audit from its bytes (a Dask worker has no shared filesystem)."""
    return guarded(name, lambda: audit_loaded(read_nam_bytes(data, name), signal, opts))


def audit_many(paths: list[Path], signal: Signal, opts: Options) -> list[ModelReport]:
    """audit_model of each file, in order, with every measured output of all of them (each
    file's model and its container submodels) through one measure_many: on CUDA the files
    of one shape run as one batched forward. A file that cannot be read is its error
    report; if measuring the lot fails, each file is audited alone (so the failure is the
    one file's error)."""
    reports: dict[int, ModelReport] = {}
    loaded: list[tuple[int, NamModel]] = []
    for i, path in enumerate(paths):
        try:
            loaded.append((i, read_nam(path)))
        except Exception:  # its error report, as audit_model gives it
            reports[i] = audit_model(path, signal, opts)
    targets = [(i, [m, *(s.model for s in m.submodels)]) for i, m in loaded]
    try:
        flat = measure_many([t for _, ts in targets for t in ts], signal, opts)
    except Exception:  # one file's fault: audit_model reports it alone
        return [reports[i] if i in reports else audit_model(p, signal, opts)
                for i, p in enumerate(paths)]
    at = 0
    for (i, model), (_, ts) in zip(loaded, targets, strict=True):
        mine, at = flat[at : at + len(ts)], at + len(ts)
        reports[i] = guarded(str(paths[i]), lambda m=model, r=mine: audit_loaded(
            m, signal, opts, measurements=r))
    return [reports[i] for i in range(len(paths))]


def audit_files(files: list[Path], signal: Signal, opts: Options, workers: int = 1,
                progress: corpus.Progress | None = None, results: Path | None = None,
                timeout: float | None = None, scheduler: str | None = None
                ) -> list[ModelReport]:
    """Audit a corpus (harness/corpus/: worker processes where workers > 1 or a timeout is
    set, a Dask cluster at `scheduler`, a resumable results file; in this process on a
    device that batches, CORPUS_BATCH files at a time through audit_many), reports in file
    order."""
    return corpus.run(files, audit_model, audit_bytes, signal, opts, workers, progress,
                      results, timeout, scheduler, work_many=audit_many)


def audit_loaded(model: NamModel, signal: Signal, opts: Options,
                 measurements: list[C.Measurement] | None = None) -> ModelReport:
    """The audit of a model already read (raises on bad input; see audit_model).
    `measurements`: the measurements of the model and each container submodel, in order, where
    the caller has them (audit_many); else they are measured here."""
    report = start_report(model, signal, *(str(w) for w in model.warnings),
                          *(str(d) for d in runtime_divergences(model) if d.plays_differently),
                          rate_note(model, signal))
    report.calibration = calibration(model)
    report.warnings.extend(calibration_warnings(report.calibration))
    out = report.checks
    targets = [("", model)] + [(f".submodel{i}", s.model) for i, s in enumerate(model.submodels)]
    measured: dict[str, C.Measurement] = {}
    # (on CUDA, a container's submodels of one shape run as one batched forward)
    results = (measurements if measurements is not None
               else measure_many([m for _, m in targets], signal, opts))
    for (label, m), result in zip(targets, results, strict=True):
        report.used(result)
        measured[label] = result
        report.levels.append(measured_level(label, m, result, signal))
        report.warnings.extend(_missing_metadata(label, m, result, signal, opts))
        level = C.output_level(result, label)
        out.append(level)
        stored = C.metadata_loudness(m, result, signal.standard_input, opts.dtype, label)
        if stored.passed is False and level.passed:
            stored = explain_loudness(m, stored, signal, opts)
        out.append(stored)
        if opts.with_gain:
            out.append(C.stored_gain(m, result, signal.standard_input, label))
    if model.submodels:
        out.append(C.container_metadata(model))
        for index, lo, hi in slim_intervals(model):
            out.append(C.normalised_level_error(model, index, lo, hi,
                                                measured[f".submodel{index}"],
                                                signal.standard_input))
    return finish_report(report, opts)


def _missing_metadata(label: str, model: NamModel, m: C.Measurement, signal: Signal,
                      opts: Options) -> list[str]:
    """A warning per missing level key: hosts cannot normalise without it."""
    if not signal.standard_input or not C.output_level(m).passed:
        return []
    where = f"config.submodels[{label.removeprefix('.submodel')}].model.metadata" if label \
        else "metadata"
    out = []  # (a wrong-typed value is its check's failure, not a missing value)
    if model.loudness is None and C.wrong_typed_metadata(model, "loudness") is None:
        out.append(f"{where}.loudness: missing, so a host's Normalize does nothing for this "
                   f"model; measured {m.loudness:.4f} dB (namcheck stamp writes it)")
    if model.gain is None and opts.with_gain and m.levels and (
            C.wrong_typed_metadata(model, "gain") is None):
        out.append(f"{where}.gain: missing; measured {C.gain_from_levels(m.levels):.4f} "
                   "(namcheck stamp writes it)")
    return out


def corpus_summary(reports: list[ModelReport]) -> dict[str, Any]:
    """Across an audit's files (schema.CorpusSummary): the spread of LUFS - RMS loudness
    over every measured output (a container's own entry is left out: it plays its top
    submodel, already counted), and the files that play the same model (same
    content_hash: duplicates under several names or with different metadata)."""
    values: list[tuple[float, str, str]] = []
    for r in reports:
        subs = any(level["target"] for level in r.levels)
        for level in r.levels:
            diff = level.get("lufs_minus_rms_db")
            if diff is not None and math.isfinite(diff) and not (subs and not level["target"]):
                values.append((diff, r.path, level["target"]))
    spread = None
    if values:
        values.sort()
        low, high = values[0], values[-1]
        spread = {"count": len(values), "unit": "dB",
                  "min": {"path": low[1], "target": low[2], "value": low[0]},
                  "median": statistics.median(v[0] for v in values),
                  "max": {"path": high[1], "target": high[2], "value": high[0]}}
    groups: dict[str, list[ModelReport]] = {}
    for r in reports:
        if r.content_hash is not None:
            groups.setdefault(r.content_hash, []).append(r)
    duplicates = [{"content_hash": key, "paths": [r.path for r in group],
                   "metadata_differs": len({r.metadata_hash for r in group}) > 1}
                  for key, group in groups.items() if len(group) > 1]
    return {"lufs_minus_rms_db": spread, "duplicates": duplicates}


def format_corpus_summary(summary: dict[str, Any]) -> list[str]:
    """corpus_summary() as text lines."""
    lines = []
    spread = summary.get("lufs_minus_rms_db")
    if spread:
        def who(e: dict[str, Any]) -> str:
            return e["path"] + (f" {e['target']}" if e["target"] else "")
        lines.append(f"LUFS - RMS loudness over {spread['count']} outputs: min "
                     f"{spread['min']['value']:+.2f} dB ({who(spread['min'])}), median "
                     f"{spread['median']:+.2f} dB, max {spread['max']['value']:+.2f} dB "
                     f"({who(spread['max'])})")
    for dup in summary.get("duplicates", []):
        what = "with different metadata" if dup["metadata_differs"] else "same metadata"
        lines.append(f"duplicates ({what}; content hash {dup['content_hash'][:12]}): "
                     + ", ".join(dup["paths"]))
    return lines
