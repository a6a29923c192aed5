"""The JSON report of `namcheck conform`: typed, versioned, one entry per case.

Numbers are finite or null (strict JSON). `namcheck conform --schema` prints the JSON
Schema; `matrix` holds the feature rows a runtime developer pastes into a pull request.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from namcheck.harness.conform.run import CaseResult
from namcheck.harness.conform.verdict import STATUSES
from namcheck.harness.report import strict
from namcheck.harness.schema import Context

SCHEMA_VERSION = "1.0"
CaseStatus = Literal["pass", "differs", "refused", "crash", "skipped"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Counts(_Strict):
    """Cases per status."""

    pass_: int = Field(alias="pass")
    differs: int
    refused: int
    crash: int
    skipped: int

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Shape(_Strict):
    """What a difference looks like (a `differs` case)."""

    kind: Literal["delay", "sign", "level", "start", "end", "throughout"]
    lag: int | None = Field(None, description="samples; positive: the runtime is late")
    level_db: float | None = Field(None, description="fitted level of the runtime's output "
                                   "relative to the reference, dB")
    first: int | None = Field(None, description="first sample beyond the bound")
    last: int | None = Field(None, description="last sample beyond the bound")


class CaseEntry(_Strict):
    """One case: what it isolates, how the runtime ran, the verdict and its evidence."""

    case: str = Field(description="FEATURE/VARIANT; its folder below cases/ with -o DIR")
    feature: str
    status: CaseStatus
    expected: Literal["plays", "refuses"] = Field(description="what namcheck's reader does "
                                                  "with the file")
    max_abs_error: float | None = Field(None, description="max |runtime - reference|")
    bound: float | None = Field(None, description="derived float32 bound on max_abs_error: "
                                "forward_tolerance x the reference's peak")
    esr: float | None = Field(None, description="mean squared error / mean squared "
                              "reference, no pre-emphasis (NAM's ESR)")
    first_differing_sample: int | None = None
    cause: str | None = Field(None, description="the likely cause, from the difference's "
                              "shape and what the case isolates")
    shape: Shape | None = None
    detail: str = Field(description="the evidence: numbers, exit status, the runtime's "
                        "last output")
    isolates: str
    slim: float | None = None
    block: int | None = None
    signal: str
    samples: int
    sample_rate: int
    command: list[str] | None = Field(None, description="the command run (null: skipped)")
    exit_status: int | None = Field(None, description="negative: killed by that signal; "
                                    "null: skipped or timed out")
    seconds: float | None = None


class FeatureRow(_Strict):
    """One matrix row: a feature and its cases per status."""

    feature: str
    description: str
    cases: int
    counts: Counts


class RuntimeInfo(_Strict):
    """How the runtime was run."""

    command: str = Field(description="the --runtime template")
    slim_arg: str | None
    block_arg: str | None
    timeout_s: float
    jobs: int


class Selection(_Strict):
    """Which cases ran (--only, --case; empty: the whole suite)."""

    only: list[str]
    case: list[str]


class ConformReport(_Strict):
    """The whole report of one `namcheck conform` run."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    command: Literal["conform"] = "conform"
    context: Context
    runtime: RuntimeInfo
    selection: Selection
    suite_folder: str | None = Field(description="-o DIR (null: a temporary folder)")
    status: Literal["passed", "failed"] = Field(description="failed: some case differs, "
                                                "was refused or crashed")
    summary: Counts
    matrix: list[FeatureRow]
    cases: list[CaseEntry]


def counts(results: list[CaseResult]) -> Counts:
    """Cases per status."""
    n = {s: sum(r.verdict.status == s for r in results) for s in STATUSES}
    return Counts(**{("pass_" if k == "pass" else k): v for k, v in n.items()})


def matrix_rows(results: list[CaseResult], features: dict[str, str]) -> list[FeatureRow]:
    """One row per feature that has cases here, in suite order."""
    rows = []
    for feature, description in features.items():
        mine = [r for r in results if r.case.feature == feature]
        if mine:
            rows.append(FeatureRow(feature=feature, description=description, cases=len(mine),
                                   counts=counts(mine)))
    return rows


def case_entry(r: CaseResult) -> CaseEntry:
    """A result as the report's CaseEntry."""
    v, p, c = r.verdict, r.prepared, r.case
    run = r.run
    return CaseEntry(
        case=c.name, feature=c.feature, status=v.status,  # type: ignore[arg-type]
        expected="plays" if p.plays else "refuses", max_abs_error=v.max_abs_error,
        bound=v.bound, esr=v.esr, first_differing_sample=v.first_differing_sample,
        cause=v.cause, shape=Shape(**v.shape.as_dict()) if v.shape else None,
        detail=v.detail, isolates=c.isolates, slim=c.slim, block=c.block, signal=c.signal,
        samples=c.samples, sample_rate=p.rate, command=run.argv if run else None,
        exit_status=run.returncode if run else None, seconds=run.seconds if run else None)


def document(results: list[CaseResult], features: dict[str, str], context: Context,
             runtime: RuntimeInfo, selection: Selection, suite_folder: str | None
             ) -> dict[str, Any]:
    """The report as a JSON-ready dict (strict: non-finite numbers are null)."""
    summary = counts(results)
    failed = summary.differs + summary.refused + summary.crash
    report = ConformReport(context=context, runtime=runtime, selection=selection,
                           suite_folder=suite_folder,
                           status="failed" if failed else "passed", summary=summary,
                           matrix=matrix_rows(results, features),
                           cases=[case_entry(r) for r in results])
    return strict(report.model_dump(mode="json", by_alias=True))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ConformReport."""
    return ConformReport.model_json_schema(by_alias=True)
