"""Human and JSON reports of check results."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from namcheck.harness.verify import ModelReport

STATUS = {True: "PASS", False: "FAIL", None: "n/a "}


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def format_table(report: ModelReport) -> str:
    head = f"== {report.path} ({report.architecture or 'unreadable'})"
    if report.error:
        return f"{head}\nFAIL  {report.error}"
    rows = [("", "check", "measured", "expected", "error", "tolerance")]
    rows += [(STATUS[c.passed], c.name, _num(c.measured), _num(c.expected), _num(c.error),
              _num(c.tolerance)) for c in report.checks]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = [head]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        lines.append(line)
        if i > 0 and report.checks[i - 1].passed is not True:
            lines.append(f"      {report.checks[i - 1].detail}")
    verdict = "passed" if report.passed else "FAILED"
    failed = sum(c.passed is False for c in report.checks)
    lines.append(f"-> {verdict} ({len(report.checks)} checks, {failed} failed)")
    return "\n".join(lines)


def json_document(reports: list[ModelReport], **context: Any) -> dict[str, Any]:
    return {**context, "models": [r.to_dict() for r in reports],
            "passed": all(r.passed for r in reports)}


def write_json(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Written atomically (temp file, then rename); '-' prints to stdout."""
    text = json.dumps(doc, indent=2, default=float)
    if str(path) == "-":
        print(text)
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
