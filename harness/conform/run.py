"""Running the suite: write and prepare each case, run the runtime on it, judge it.

References are computed in `jobs` worker processes (spawned, one torch thread each) while
the runtime runs on finished cases in up to `jobs` parallel processes; results come back
in suite order.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch

from namcheck.harness.conform.expected import Prepared, prepare
from namcheck.harness.conform.runner import RunResult, Template, run
from namcheck.harness.conform.suite import Case
from namcheck.harness.conform.verdict import Verdict, judge, skipped


@dataclass
class CaseResult:
    """A case as prepared, the runtime's run (None when skipped) and the verdict."""

    prepared: Prepared
    run: RunResult | None
    verdict: Verdict

    @property
    def case(self) -> Case:
        return self.prepared.case


Progress = Callable[[CaseResult], None]


def _init_worker() -> None:
    torch.set_num_threads(1)


def prepared_cases(cases: list[Case], root: Path, jobs: int) -> Iterator[Prepared]:
    """Each case written below `root` with its expectation, as soon as it is ready (in
    any order); `jobs` > 1 computes them in that many spawned processes."""
    if jobs <= 1 or len(cases) < 2:
        for case in cases:
            yield prepare(case, root)
        return
    context = mp.get_context("spawn")
    with ProcessPoolExecutor(min(jobs, len(cases)), mp_context=context,
                             initializer=_init_worker) as pool:
        futures = [pool.submit(prepare, case, root) for case in cases]
        for future in as_completed(futures):
            yield future.result()


def run_case(p: Prepared, template: Template, timeout: float) -> CaseResult:
    """Run the runtime on one prepared case (or skip it) and judge the result."""
    reason = template.skip_reason(p.case.slim, p.case.block)
    if reason is not None:
        return CaseResult(p, None, skipped(reason))
    p.output_path.unlink(missing_ok=True)
    argv = template.argv(p.model_path, p.input_path, p.output_path, p.case.slim, p.case.block)
    result = run(argv, timeout, Path.cwd())
    return CaseResult(p, result, judge(p, result, timeout))


def run_suite(cases: list[Case], template: Template, root: Path, *, jobs: int = 1,
              timeout: float = 60.0, progress: Progress | None = None) -> list[CaseResult]:
    """Every case prepared below `root`, run through `template`, judged; in suite order.
    Each case's folder gets its case.json with the command and the verdict."""
    return run_prepared(prepared_cases(cases, root.resolve(), jobs), template, jobs=jobs,
                        timeout=timeout, progress=progress, order=[c.name for c in cases])


def run_prepared(prepared: Iterable[Prepared], template: Template, *, jobs: int = 1,
                 timeout: float = 60.0, progress: Progress | None = None,
                 order: list[str] | None = None) -> list[CaseResult]:
    """Run the runtime on cases already prepared (as they arrive), `jobs` at a time;
    results in `order` (case names; default: as given)."""
    futures: list[Future[CaseResult]] = []
    with ThreadPoolExecutor(max(1, jobs)) as threads:
        for p in prepared:
            futures.append(threads.submit(run_case, p, template, timeout))
        done: dict[str, CaseResult] = {}
        for future in as_completed(futures):
            result = future.result()
            _record(result)
            done[result.case.name] = result
            if progress is not None:
                progress(result)
    names = order if order is not None else [f.result().case.name for f in futures]
    return [done[n] for n in names]


def _record(result: CaseResult) -> None:
    """case.json with how the runtime was run and what was found."""
    v = result.verdict
    result.prepared.extra.update(
        command=result.run.argv if result.run else None,
        verdict={"status": v.status, "detail": v.detail, "cause": v.cause,
                 "max_abs_error": v.max_abs_error, "esr": v.esr,
                 "first_differing_sample": v.first_differing_sample,
                 "shape": v.shape.as_dict() if v.shape else None})
    result.prepared.write_info()
