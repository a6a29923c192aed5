"""`stamp`: write the measured `metadata.loudness` and `metadata.gain` into files that lack
them or whose stored values are wrong beyond the derived tolerance, so a host's Normalize
works. Measured on NAM's standard loudness input, in float32 (as exporters measure).

Only those metadata keys change: the file is rewritten in place (models/format/rewrite.py),
so every other key, value and byte of layout is kept exactly.
A container gets each submodel's own values, and its own equal its top submodel's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from namcheck.harness import checks as C
from namcheck.harness.core import (
    Edit,
    ModelReport,
    Options,
    Signal,
    SignalSource,
    as_signal,
    check_rate,
    guarded,
    measure,
)
from namcheck.harness.errors import BadInputError
from namcheck.models.atomic import atomic_write
from namcheck.models.format import NamModel, parse_nam, read_nam, write_nam
from namcheck.models.format.access import describe


def run(path: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
        signal: SignalSource = None, options: Options | None = None) -> ModelReport:
    """The Python API: write measured metadata.loudness/gain into `output` (a file path;
    `path` itself only when output == path; None: a dry run). Needs NAM's standard loudness
    input (BadInputError otherwise)."""
    sig = as_signal(signal)
    require_standard_input(sig)
    target = Path(output) if output is not None else None
    return stamp_file(Plan(Path(path), target), sig, options or Options())


ALREADY_CORRECT = "already correct: nothing to change"


@dataclass(frozen=True)
class Plan:
    """Where one input goes: `output` None for a dry run; for --in-place, the file itself
    (a link's target: writing replaces the file the link names, never the link)."""

    source: Path
    output: Path | None

    @property
    def in_place(self) -> bool:
        return self.output is not None and self.output == Path(os.path.realpath(self.source))


def require_standard_input(signal: Signal) -> None:
    """Refuse (exit 2) to stamp from anything but NAM's standard loudness input."""
    if not signal.standard_input:
        raise BadInputError("stamp needs NAM's standard loudness input: pass --signal "
                            "loudness_input.wav, or install the 'upstream' extra, whose copy "
                            "is found automatically")


def plan_outputs(files: list[tuple[Path, Path]], out_dir: Path | None, in_place: bool
                 ) -> list[Plan]:
    """(file, root it was found under) -> where it is written: DIR/relative path, the file
    itself (--in-place), or nowhere (dry run). Two inputs never share an output."""
    plans, seen = [], {}
    for path, root in files:
        if in_place:
            target: Path | None = Path(os.path.realpath(path))
            if not os.access(target.parent, os.W_OK | os.X_OK):
                raise BadInputError(f"{path}: folder {target.parent} is not writable; "
                                    "--in-place cannot replace a file there")
        elif out_dir is not None:
            rel = path.relative_to(root) if root != path else Path(path.name)
            target = out_dir / rel
            if target.exists() and os.path.samefile(target, path):
                raise BadInputError(f"-o {out_dir}: {target} is the input {path}; namcheck "
                                    "never writes over its inputs (use --in-place)")
            key = str(target.resolve())
            if key in seen:
                raise BadInputError(f"-o {out_dir}: {path} and {seen[key]} would both be "
                                    f"written to {target}")
            seen[key] = path
        else:
            target = None
        plans.append(Plan(path, target))
    return plans


def _measured_metadata(model: NamModel, m: C.Measurement, opts: Options, label: str
                       ) -> tuple[dict[str, float], list[C.CheckResult]]:
    """The values to store for one (non-container) model measured as `m`, and the checks
    of what is stored now (to decide whether it must change); a NaN/silent output gives
    no values."""
    level = C.output_level(m, label)
    if not level.passed:
        return {}, [level]
    values = {"loudness": m.loudness}
    now = [C.metadata_loudness(model, m, True, opts.dtype)]
    if m.levels is not None:
        values["gain"] = C.gain_from_levels(m.levels)
        now.append(C.stored_gain(model, m, True, ""))
    return values, now


def _needs(check: C.CheckResult) -> bool:
    return check.passed is not True  # missing (n/a) or wrong (fail)


def stamp_document(model: NamModel, signal: Signal, opts: Options
                   ) -> tuple[dict[str, Any], list[Edit], list[C.CheckResult],
                              dict[str, C.Measurement]]:
    """(new JSON document, each change (path, before, after), failed level checks, the
    measurement of each model by label: '' and '.submodel<i>'; a container's '' is its
    top submodel's, which is what it plays at full size)."""
    doc = model.to_dict()
    changes: list[Edit] = []
    problems: list[C.CheckResult] = []
    measured: dict[str, C.Measurement] = {}

    def stamp_one(sub: NamModel, node: dict[str, Any], where: str, label: str
                  ) -> dict[str, float]:
        measured[label] = measure(sub, signal, opts)
        values, now = _measured_metadata(sub, measured[label], opts, label)
        if not values:
            problems.extend(now)
            return {}
        meta = node.get("metadata")
        if not isinstance(meta, dict):
            if meta is not None:  # a value the runtime ignores: replaced by an object
                path = f"{where}.metadata" if where else "metadata"
                changes.append(Edit(path, meta, {}))
            meta = node["metadata"] = {}
        for check, key in zip(now, ("loudness", "gain"), strict=False):
            if _needs(check):
                path = f"{where}.metadata.{key}" if where else f"metadata.{key}"
                changes.append(Edit(path, meta.get(key), values[key]))
                meta[key] = values[key]
        return {k: meta[k] for k in values}

    if model.submodels:
        top: dict[str, float] = {}
        for i, sub in enumerate(model.submodels):
            where = f"config.submodels[{i}].model"
            top = stamp_one(sub.model, doc["config"]["submodels"][i]["model"], where,
                            f".submodel{i}")
        measured[""] = measured[f".submodel{len(model.submodels) - 1}"]
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            if meta is not None:
                changes.append(Edit("metadata", meta, {}))
            meta = doc["metadata"] = {}
        for key, value in top.items():
            if meta.get(key) != value:
                changes.append(Edit(f"metadata.{key}", meta.get(key), value))
                meta[key] = value
    else:
        stamp_one(model, doc, "", "")
    return doc, changes, problems, measured


def change_text(edit: Edit, container: bool = False) -> str:
    """'PATH: before -> after' in words (a container's top-level values: the top
    submodel's)."""
    key = edit.path.rsplit(".", 1)[-1]
    if edit.after == {}:
        return f"{edit.path}: {_show(edit.before, '')} -> an object"
    top = " (the top submodel's)" if container and not edit.path.startswith("config.") else ""
    return f"{edit.path}: {_show(edit.before, key)} -> {_show(edit.after, key)}{top}"


def _show(value: Any, key: str) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{describe(value)} (wrong type, ignored by the runtime)"
    return f"{value:.4f} dB" if key == "loudness" else f"{value:.4f}"


def stamp_file(plan: Plan, signal: Signal, opts: Options, check: bool = False) -> ModelReport:
    """Stamp one file (or plan it, for a dry run); the report's checks are those of the
    document as written: stored loudness/gain now equal what was measured. With `check`
    (`stamp --check`) the file as it is gets one more check, `metadata_current`, which
    fails (reason `would_change`) when stamping would change it."""
    report = guarded(str(plan.source), lambda: _stamp(plan, signal, opts))
    if check and not report.error:
        n = float(len(report.changes))
        report.checks.append(C.CheckResult(
            "metadata_current", not report.changes, n, 0.0, n, 0.0,
            "stamp --check: " + ("; ".join(report.changes) if report.changes
                                 else "nothing would change"),
            "changes", "would_change" if report.changes else ""))
    return report


def _stamp(plan: Plan, signal: Signal, opts: Options) -> ModelReport:
    model = read_nam(plan.source)
    rates = check_rate(model, signal)
    doc, changes, problems, measured = stamp_document(model, signal, opts)
    label = plan.source if plan.in_place else plan.output or plan.source
    report = ModelReport(str(label), model.architecture, edits=changes, sample_rates=rates,
                         changes=[change_text(e, bool(model.submodels)) for e in changes])
    for m in measured.values():
        report.used(m)
    if problems:
        report.checks.extend(problems)
        return report
    stamped = parse_nam(doc, source=str(label))
    targets = [("", stamped)] + [(f".submodel{i}", s.model)
                                 for i, s in enumerate(stamped.submodels)]
    for label, sub in targets:  # the stamped values against the same measurements
        m = measured[label]
        report.checks.append(C.metadata_loudness(sub, m, True, opts.dtype, label))
        if opts.with_gain:
            report.checks.append(C.stored_gain(sub, m, True, label))
    if stamped.submodels:
        report.checks.append(C.container_metadata(stamped))
    if plan.output is not None and (changes or not plan.in_place):
        if plan.in_place and plan.output.stat().st_nlink > 1:
            report.warnings.append(
                f"hard-linked ({plan.output.stat().st_nlink} names): the stamped file is a new "
                "one under this name; the other names keep the old content")
        plan.output.parent.mkdir(parents=True, exist_ok=True)
        if changes:
            write_nam(doc, plan.output, original=plan.source)
        else:  # nothing to change: an exact copy of the file
            data = plan.source.read_bytes()
            atomic_write(plan.output, lambda handle: handle.write(data))
    if not changes:
        report.warnings.append(ALREADY_CORRECT)
    return report
