"""Running the suite: write and prepare each case, run the runtime on it, judge it.

References are computed in `jobs` worker processes (spawned, one torch thread each) while
the runtime runs on finished cases in up to `jobs` parallel processes; results come back
in suite order. Ctrl-C is the parent's alone (harness/interrupts.py): the workers are born
deaf to it (whether starting Python, importing torch, computing or idle, as audit's:
harness/corpus/pool.py), and the parent ends them and starts no queued case after it.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import torch

from namcheck.harness.conform.expected import Prepared, prepare
from namcheck.harness.conform.runner import Running, RunResult, Template, run
from namcheck.harness.conform.suite import Case
from namcheck.harness.conform.verdict import Verdict, judge, skipped
from namcheck.harness.interrupts import start_worker, workers_deaf_to_sigint


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


def _serve(conn: Connection) -> None:
    """A reference worker (started by interrupts.start_worker, deaf to Ctrl-C): prepare
    each (case, root) it is handed, until None or the parent has gone."""
    torch.set_num_threads(1)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply: tuple[bool, object] = (True, prepare(*job))
        except Exception as exc:
            reply = (False, exc)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError):  # an odd exception
            conn.send((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


def prepared_cases(cases: list[Case], root: Path, jobs: int) -> Iterator[Prepared]:
    """Each case written below `root` with its expectation, as soon as it is ready (in
    any order); `jobs` > 1 computes them in that many spawned processes."""
    if jobs <= 1 or len(cases) < 2:
        for case in cases:
            yield prepare(case, root)
        return
    context = mp.get_context("spawn")
    workers: dict[Connection, Any] = {}  # each worker's pipe -> its process
    finished = False
    try:
        with workers_deaf_to_sigint():  # Ctrl-C meanwhile is raised as the block ends
            for _ in range(min(jobs, len(cases))):
                conn, child = context.Pipe()
                process = context.Process(target=start_worker, daemon=True,
                                          args=(child, pickle.dumps((_serve, ()))))
                process.start()
                child.close()
                workers[conn] = process
        pending = deque(cases)
        busy = set()
        for conn in workers:
            conn.send((pending.popleft(), root))
            busy.add(conn)
        while busy:
            for conn in wait(list(busy)):
                assert isinstance(conn, Connection)
                try:
                    ok, value = conn.recv()
                except (EOFError, OSError):
                    raise RuntimeError("a reference worker died (exit code "
                                       f"{workers[conn].exitcode})") from None
                if pending:
                    conn.send((pending.popleft(), root))  # on with the next meanwhile
                else:
                    busy.discard(conn)
                if not ok:
                    raise value
                yield value
        for conn in workers:
            conn.send(None)
        finished = True
    finally:
        # Ctrl-C, an error or the consumer gone (GeneratorExit): the workers (deaf to
        # Ctrl-C) are killed; each has its own pipe, so nothing waits on a half-sent
        # result. They print nothing.
        for conn, process in workers.items():
            if not finished:
                process.kill()
            process.join()
            conn.close()


def run_case(p: Prepared, template: Template, timeout: float,
             running: Running | None = None) -> CaseResult:
    """Run the runtime on one prepared case (or skip it) and judge the result; `running`
    (where given) can kill the runtime's process early."""
    reason = template.skip_reason(p.case.slim, p.case.block)
    if reason is not None:
        return CaseResult(p, None, skipped(reason))
    p.output_path.unlink(missing_ok=True)
    argv = template.argv(p.model_path, p.input_path, p.output_path, p.case.slim, p.case.block)
    result = run(argv, timeout, Path.cwd(), running)
    return CaseResult(p, result, judge(p, result, timeout))


def run_suite(cases: list[Case], template: Template, root: Path, *, jobs: int = 1,
              timeout: float = 60.0, progress: Progress | None = None,
              ran: Callable[[], None] | None = None) -> list[CaseResult]:
    """Every case prepared below `root`, run through `template`, judged; in suite order.
    Each case's folder gets its case.json with the command and the verdict."""
    return run_prepared(prepared_cases(cases, root.resolve(), jobs), template, jobs=jobs,
                        timeout=timeout, progress=progress, order=[c.name for c in cases],
                        ran=ran)


def run_prepared(prepared: Iterable[Prepared], template: Template, *, jobs: int = 1,
                 timeout: float = 60.0, progress: Progress | None = None,
                 order: list[str] | None = None,
                 ran: Callable[[], None] | None = None) -> list[CaseResult]:
    """Run the runtime on cases already prepared (as they arrive), `jobs` at a time;
    results in `order` (case names; default: as given). `ran()` is called (from a worker
    thread) as each case's run ends, before the results are gathered: `progress` sees
    them only once every case is prepared."""
    futures: list[Future[CaseResult]] = []
    done: dict[str, CaseResult] = {}
    running = Running()
    with ThreadPoolExecutor(max(1, jobs)) as threads:
        try:
            for p in prepared:
                future = threads.submit(run_case, p, template, timeout, running)
                if ran is not None:
                    future.add_done_callback(
                        lambda f: None if f.cancelled() or f.exception() else ran())
                futures.append(future)
            for future in as_completed(futures):
                result = future.result()
                _record(result)
                done[result.case.name] = result
                if progress is not None:
                    progress(result)
        except BaseException:
            # Ctrl-C: no queued case starts, running runtimes are killed (they run in
            # sessions of their own: the terminal's SIGINT never reached them), the
            # reference workers end
            threads.shutdown(wait=False, cancel_futures=True)
            running.stop()
            close = getattr(prepared, "close", None)
            if close is not None:
                close()
            raise
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
