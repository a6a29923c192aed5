"""Human and JSON reports of check results. JSON is strict: a non-finite number (a silent
model's -inf dB, a NaN error) is written as null, never as NaN/Infinity tokens."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from namcheck.harness import schema
from namcheck.harness.calibration import calibration_line
from namcheck.harness.checks import RUNTIME_LIMITATION, CheckResult, is_limitation
from namcheck.harness.core import STATUSES, ModelReport, Signal
from namcheck.harness.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_NOT_VERIFIED,
    EXIT_OK,
)
from namcheck.models.atomic import atomic_write

MARK = {True: "PASS", False: "FAIL", None: "n/a "}
LIMIT_MARK = "LIM "  # a runtime limitation (checks.is_limitation): reported, not failed
EXIT_OF_STATUS = {"passed": EXIT_OK, "not_verified": EXIT_NOT_VERIFIED, "failed": EXIT_FAILED,
                  "error": EXIT_BAD_INPUT}


def worst_status(reports: list[ModelReport]) -> str:
    """The worst model status (error > failed > not_verified > passed)."""
    return max((r.status for r in reports), key=STATUSES.index, default="not_verified")


def exit_code(reports: list[ModelReport]) -> int:
    """4 an internal fault in some model's run; else the worst status's: 2 a bad input,
    1 a check failed, 3 something not verified, 0 all passed (error > failed >
    not_verified > passed)."""
    if any(r.internal for r in reports):
        return EXIT_INTERNAL
    return EXIT_OF_STATUS[worst_status(reports)]


def display_name(check: CheckResult) -> str:
    """The check's name with its scale, as tables and pytest node IDs show it."""
    return check.name if check.scale is None else f"{check.name}[s={check.scale:g}]"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"


def _not_run(report: ModelReport) -> str:
    """A heading's word for a model that has no architecture to show: 'unreadable' only
    for a file that could not be read as a model, 'refused' for one that could but that
    the runtime would refuse for one of its fields (not for a timeout, a crashed worker or
    a signal at another rate: those files may be fine)."""
    if report.unreadable:
        return "unreadable"
    if report.refused:
        return "refused"
    return "internal error" if report.internal else "not checked"


def format_table(report: ModelReport) -> str:
    """One model's checks as a text table with units; each n/a or failure reason once."""
    head = f"== {report.path} ({report.architecture or _not_run(report)})"
    if report.error:
        return f"{head}\nERROR  {report.error}\n-> error"
    rows = [("", "check", "measured", "expected", "error", "tolerance", "unit")]
    rows += [(LIMIT_MARK if is_limitation(c) else MARK[c.passed], display_name(c),
              _num(c.measured), _num(c.expected),
              _num(c.error), _num(c.tolerance), c.unit) for c in report.checks]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [head]
    shown: set[str] = set()
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip())
        check = report.checks[i - 1] if i else None
        if check is not None and check.passed is not True and check.detail not in shown:
            shown.add(check.detail)  # a reason repeated at every scale is shown once
            lines.append(f"      {check.detail}")
    lines.extend(f"   {format_level(level)}" for level in report.levels)
    if report.sample_rates is not None and report.sample_rates["measured_as"] == "nam_exporter":
        lines.append(f"   note: {report.sample_rates['note']}")
    lines.extend(f"   note: {u}" for u in report.unverified)
    lines.extend(f"   warning: {w}" for w in report.warnings)
    if report.calibration is not None:
        lines.append(f"   {calibration_line(report.calibration)}")
    if report.engine:
        lines.append(f"   engine: {report.engine}")
    failed = sum(c.passed is False for c in report.checks)
    applied = sum(c.passed is not None or is_limitation(c) for c in report.checks)
    limits = sum(c.reason == RUNTIME_LIMITATION for c in report.checks)
    lim = f", {limits} runtime limitation{'s' if limits != 1 else ''}" if limits else ""
    lines.append(f"-> {report.status} ({len(report.checks)} checks: {applied} applied, "
                 f"{failed} failed{lim})")
    return "\n".join(lines)


def format_level(level: dict[str, Any]) -> str:
    """One measured level as a line: NAM's RMS loudness, LUFS and their difference, gain."""
    target = level.get("target") or "model"
    parts = [f"loudness {_db(level.get('loudness_db'))} dB (RMS; stored "
             f"{_db(level.get('stored_loudness_db'))})",
             f"{_db(level.get('loudness_lufs'))} LUFS (LUFS - RMS "
             f"{_db(level.get('lufs_minus_rms_db'), '+.2f')} dB)"]
    if level.get("gain") is not None:
        parts.append(f"gain {level['gain']:.3f}")
    return f"level {target}: " + ", ".join(parts)


def _db(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def summary_counts(reports: list[ModelReport]) -> dict[str, int]:
    """How many models have each status."""
    return {status: sum(r.status == status for r in reports) for status in STATUSES}


def runtime_limits(reports: list[ModelReport]) -> int:
    """How many runtime limitations the reports hold (reported, or failed under
    --fail-on-runtime-limits)."""
    return sum(c.reason == RUNTIME_LIMITATION for r in reports for c in r.checks)


def _check(c: CheckResult) -> schema.Check:
    status = "limitation" if is_limitation(c) else {True: "pass", False: "fail",
                                                     None: "n/a"}[c.passed]
    code = c.reason or {"pass": "held", "fail": "beyond_tolerance",
                        "n/a": "not_applicable"}[status]
    return schema.Check(name=c.name, scale=_finite(c.scale), status=status,
                        reason=schema.Reason(code=code, text=c.detail),
                        measured=_finite(c.measured), expected=_finite(c.expected),
                        error=_finite(c.error), tolerance=_finite(c.tolerance), unit=c.unit)


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def model_entry(r: ModelReport) -> schema.ModelEntry:
    """A ModelReport as the report schema's ModelEntry."""
    counts = schema.Counts(checks=len(r.checks), passed=sum(c.passed is True for c in r.checks),
                           failed=sum(c.passed is False for c in r.checks),
                           not_applicable=sum(c.passed is None and not is_limitation(c)
                                              for c in r.checks),
                           runtime_limits=sum(c.reason == RUNTIME_LIMITATION
                                              for c in r.checks))
    kind = None if r.error is None else "internal" if r.internal else "bad_input"
    return schema.ModelEntry(path=r.path, architecture=r.architecture, status=r.status,
                             error=r.error, error_kind=kind, counts=counts,
                             checks=[_check(c) for c in r.checks],
                             levels=[schema.Level(**strict(level)) for level in r.levels],
                             unverified=r.unverified, warnings=r.warnings, changes=r.changes,
                             edits=[schema.Edit(path=e.path, before=e.before, after=e.after)
                                    for e in r.edits],
                             content_hash=r.content_hash, engine=r.engine,
                             sample_rates=(schema.SampleRates(**strict(r.sample_rates))
                                           if r.sample_rates is not None else None),
                             calibration=(schema.Calibration(**strict(r.calibration))
                                          if r.calibration is not None else None))


def signal_info(signal: Signal) -> schema.SignalInfo:
    """The signal as the report schema's SignalInfo."""
    return schema.SignalInfo(path=signal.path, description=signal.name, sha256=signal.sha256,
                             sample_rate=signal.rate, samples=len(signal.samples),
                             standard_input=signal.standard_input)


def json_document(reports: list[ModelReport], command: str, signal: Signal,
                  context: schema.Context, corpus: dict[str, Any] | None = None,
                  **options: Any) -> dict[str, Any]:
    """The report (schema.Report) as a JSON-ready dict; `corpus`: schema.CorpusSummary."""
    report = schema.Report(command=command, context=context, signal=signal_info(signal),
                           options=strict(options), status=worst_status(reports),
                           summary=schema.Summary(**summary_counts(reports),
                                                  runtime_limits=runtime_limits(reports)),
                           corpus=(schema.CorpusSummary(**strict(corpus))
                                   if corpus is not None else None),
                           models=[model_entry(r) for r in reports])
    return report.model_dump(mode="json")


def strict(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (strict JSON has no NaN/Inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def dumps(doc: Any) -> str:
    """Strict JSON text (non-finite numbers as null)."""
    return json.dumps(strict(doc), indent=2, allow_nan=False, default=str)


def write_json(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Strict JSON, written atomically (models/atomic.py); '-' prints to stdout."""
    text = dumps(doc)
    if str(path) == "-":
        print(text)
        return
    data = (text + "\n").encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data))
