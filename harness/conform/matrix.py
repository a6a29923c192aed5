"""The conformance matrix as text: a terminal table and Markdown for a pull request.

Rows are features, columns the verdicts; every case that did not pass (skipped aside)
follows with its cause and evidence.
"""

from __future__ import annotations

from namcheck.harness.conform.run import CaseResult
from namcheck.harness.conform.schema import FeatureRow, counts, matrix_rows
from namcheck.harness.conform.verdict import STATUSES

FAILING = ("differs", "refused", "crash")


def _row_counts(row: FeatureRow) -> list[int]:
    c = row.counts
    return [c.pass_, c.differs, c.refused, c.crash, c.skipped]


def summary_line(results: list[CaseResult]) -> str:
    """`N cases: P pass, D differs, ...` and the overall verdict."""
    c = counts(results)
    parts = ", ".join(f"{n} {s}" for s, n in zip(STATUSES, [c.pass_, c.differs, c.refused,
                                                             c.crash, c.skipped], strict=True))
    verdict = "CONFORMS" if not (c.differs + c.refused + c.crash) else "DOES NOT CONFORM"
    return f"{len(results)} cases: {parts} -> {verdict}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def format_text(results: list[CaseResult], features: dict[str, str]) -> str:
    """The matrix as a fixed-width table, then one block per failing or skipped case."""
    rows = matrix_rows(results, features)
    header = ["feature", "cases", *STATUSES]
    table = [header] + [[r.feature, str(r.cases), *(str(n) if n else "." for n in
                                                   _row_counts(r))] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for k, line in enumerate(table):
        flag = "  "
        if k and any(_row_counts(rows[k - 1])[1:4]):
            flag = "! "
        cells = [line[0].ljust(widths[0])] + [v.rjust(w) for v, w in
                                                zip(line[1:], widths[1:], strict=True)]
        lines.append((flag if k else "  ") + "  ".join(cells))
    failing = [r for r in results if r.verdict.status in FAILING]
    if failing:
        lines.append("")
        lines.append("not conforming:")
    for r in failing:
        v = r.verdict
        lines.append(f"  {v.status.upper():8s} {r.case.name}")
        lines.append(f"           cause: {v.cause}")
        lines.append(f"           evidence: {v.detail}")
    skipped = [r for r in results if r.verdict.status == "skipped"]
    if skipped:
        reasons = sorted({r.verdict.detail for r in skipped})
        lines.append("")
        lines.append(f"skipped: {len(skipped)} cases ({'; '.join(reasons)})")
    lines.append("")
    lines.append(summary_line(results))
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(results: list[CaseResult], features: dict[str, str], command: str) -> str:
    """The matrix, the failing cases and the command, as GitHub-flavoured Markdown."""
    rows = matrix_rows(results, features)
    out = ["## NAM conformance (namcheck conform)", "", f"**{summary_line(results)}**", "",
           "```", command, "```", "",
           "| feature | cases | pass | differs | refused | crash | skipped |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        n = _row_counts(r)
        cells = [str(v) if v else "" for v in n]
        for i in (1, 2, 3):
            if n[i]:
                cells[i] = f"**{n[i]}**"
        out.append(f"| `{r.feature}` | {r.cases} | " + " | ".join(cells) + " |")
    failing = [r for r in results if r.verdict.status in FAILING]
    if failing:
        out += ["", "### Not conforming", "",
                "| case | status | max abs error | bound | ESR | cause |",
                "|---|---|---:|---:|---:|---|"]
        for r in failing:
            v = r.verdict
            out.append(f"| `{r.case.name}` | {v.status} | {_number(v.max_abs_error)} | "
                       f"{_number(v.bound)} | {_number(v.esr)} | {_md(v.cause or v.detail)} |")
    skipped = [r for r in results if r.verdict.status == "skipped"]
    if skipped:
        out += ["", f"{len(skipped)} cases skipped: "
                + "; ".join(sorted({r.verdict.detail for r in skipped})) + "."]
    out.append("")
    out.append("Feature descriptions: `namcheck conform --list`.")
    return "\n".join(out) + "\n"
