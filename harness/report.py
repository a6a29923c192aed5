"""Human and JSON reports of check results. JSON is strict: a non-finite number (a silent
model's -inf dB, a NaN error) is written as null, never as NaN/Infinity tokens."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from namcheck.harness.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NOT_VERIFIED, EXIT_OK
from namcheck.harness.verify import STATUSES, ModelReport
from namcheck.models.atomic import atomic_write

MARK = {True: "PASS", False: "FAIL", None: "n/a "}
EXIT_OF_STATUS = {"passed": EXIT_OK, "not_verified": EXIT_NOT_VERIFIED, "failed": EXIT_FAILED,
                  "error": EXIT_BAD_INPUT}


def worst_status(reports: list[ModelReport]) -> str:
    return max((r.status for r in reports), key=STATUSES.index, default="not_verified")


def exit_code(reports: list[ModelReport]) -> int:
    """0 all passed, 1 a check failed, 2 a bad input, 3 something not verified; the worst
    (error > failed > not_verified > passed) wins."""
    return EXIT_OF_STATUS[worst_status(reports)]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"


def format_table(report: ModelReport) -> str:
    head = f"== {report.path} ({report.architecture or 'unreadable'})"
    if report.error:
        return f"{head}\nERROR  {report.error}\n-> error"
    rows = [("", "check", "measured", "expected", "error", "tolerance", "unit")]
    rows += [(MARK[c.passed], c.name, _num(c.measured), _num(c.expected), _num(c.error),
              _num(c.tolerance), c.unit) for c in report.checks]
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
    lines.extend(f"   note: {u}" for u in report.unverified)
    lines.extend(f"   warning: {w}" for w in report.warnings)
    failed = sum(c.passed is False for c in report.checks)
    applied = sum(c.passed is not None for c in report.checks)
    lines.append(f"-> {report.status} ({len(report.checks)} checks: {applied} applied, "
                 f"{failed} failed)")
    return "\n".join(lines)


def summary_counts(reports: list[ModelReport]) -> dict[str, int]:
    return {status: sum(r.status == status for r in reports) for status in STATUSES}


def json_document(reports: list[ModelReport], **context: Any) -> dict[str, Any]:
    return {**context, "status": worst_status(reports), "summary": summary_counts(reports),
            "models": [r.to_dict() for r in reports],
            "passed": all(r.passed for r in reports) and bool(reports)}


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
    return json.dumps(strict(doc), indent=2, allow_nan=False, default=str)


def write_json(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Strict JSON, written atomically (models/atomic.py); '-' prints to stdout."""
    text = dumps(doc)
    if str(path) == "-":
        print(text)
        return
    data = (text + "\n").encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data))
