"""Corpus scheduling for `namcheck audit`: many files, one report each, in file order.

- `pool.py`: local worker processes; a file that crashes or hangs its worker is an error
  entry and the run goes on.
- `distributed.py`: the same on a Dask distributed cluster (`--scheduler`).
- `results.py`: the resumable results file (`--results FILE.jsonl`), by content hash.

The per-file work is given by the caller (harness/audit.py): `work(path, signal, opts)`
and, for a cluster without a shared filesystem, `work_bytes(name, data, signal, opts)`,
both module-level functions (they travel to worker processes by name) that turn every
problem into an error report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from namcheck.harness import core
from namcheck.harness.core import ModelReport, Options, Signal
from namcheck.harness.corpus.distributed import WorkBytes, run_on_cluster
from namcheck.harness.corpus.pool import Work, WorkerPool
from namcheck.harness.corpus.results import ResultsFile, file_sha256, run_key
from namcheck.harness.interrupts import Interrupted

Progress = Callable[[int, int, ModelReport], None]
# work_many(paths, signal, opts): several files' reports at once (harness/audit.py,
# audit_many: their forwards batched where the device batches).
WorkMany = Callable[[list[Path], Signal, Options], list[ModelReport]]
# Files handed to work_many at once: enough to fill a GPU with the gain sweeps of a corpus
# of common shapes (NAM's presets), few enough that an interrupt loses little.
CORPUS_BATCH = 64


def run(files: list[Path], work: Work, work_bytes: WorkBytes, signal: Signal, opts: Options,
        workers: int = 1, progress: Progress | None = None, results: Path | None = None,
        timeout: float | None = None, scheduler: str | None = None,
        work_many: WorkMany | None = None) -> list[ModelReport]:
    """`work` on every file: in this process (through `work_many`, CORPUS_BATCH files at a
    time, where it is given and the device batches: core.BATCH_DEVICES); in worker
    processes if workers > 1 or a timeout is set (a file that crashes or hangs its worker
    is an error entry); or on the Dask cluster at `scheduler` (`work_bytes`). With
    `results`, files already done with the same settings (matched by content hash) are
    taken from it, and each new result is appended as it finishes. `progress(done, total,
    report)` after each file."""
    reports: list[ModelReport | None] = [None] * len(files)
    resumed_count = 0
    store = ResultsFile(results, run_key(signal, opts)) if results is not None else None
    hashes: dict[int, str] = {}
    todo: list[int] = []
    count = 0

    def finish(index: int, report: ModelReport, resumed: bool = False) -> None:
        nonlocal count, resumed_count
        reports[index] = report
        count += 1
        resumed_count += resumed
        if store is not None and index in hashes and not resumed:
            store.append(hashes[index], files[index], report)
        if progress:
            progress(count, len(files), report)

    for i, path in enumerate(files):
        if store is not None:
            try:
                hashes[i] = file_sha256(path)
            except OSError:
                pass  # unreadable: the work reports it
            known = store.known(hashes[i], path) if i in hashes else None
            if known is not None:
                finish(i, known, resumed=True)
                continue
        todo.append(i)
    try:
        if not todo:
            pass  # every result reused: no worker (nor cluster) to start
        elif scheduler is not None:
            run_on_cluster(scheduler, files, todo, work_bytes, signal, opts, finish)
        elif workers <= 1 and timeout is None and work_many is not None and batches(opts):
            for start in range(0, len(todo), CORPUS_BATCH):
                window = todo[start : start + CORPUS_BATCH]
                for i, report in zip(window, work_many([files[i] for i in window], signal,
                                                       opts), strict=True):
                    finish(i, report)
        elif workers <= 1 and timeout is None:
            for i in todo:
                finish(i, work(files[i], signal, opts))
        else:
            pool = WorkerPool(max(1, workers), work, signal, opts, timeout)
            try:
                pool.run(files, todo, finish)
            except BaseException:
                pool.kill()
                raise
            else:
                pool.close()
    except KeyboardInterrupt:
        raise Interrupted(_interrupted(count, resumed_count, len(files), store)) from None
    return [r for r in reports if r is not None]


def batches(opts: Options) -> bool:
    """Do forwards on opts.device batch across models (core.BATCH_DEVICES: CUDA)?"""
    return torch.device(opts.device).type in core.BATCH_DEVICES


def _interrupted(done: int, resumed: int, total: int, store: ResultsFile | None) -> str:
    """What an interrupted audit kept and how to go on."""
    head = f"{done} of {total} files audited" + (
        f" ({resumed} taken from earlier runs)" if resumed else "")
    if store is None:
        return (f"{head}, nothing saved (with --results FILE.jsonl each result is kept as "
                "it finishes, and a rerun resumes)")
    saved = f"{store.saved} results saved in {store.path}" if store.saved else \
        f"nothing saved yet in {store.path}"
    return f"{head}; {saved}: rerun the same command to resume"
