"""Worker processes for a corpus: a file that crashes or hangs its worker becomes an
`error` entry, and the run goes on.

Each worker is a spawned process that imports torch once and then runs the work (the
audit of one file: harness/audit.py, audit_model) file after file over a pipe. A worker
that dies (a segfault, the OOM killer) or that takes longer than the per-file timeout is
killed and replaced; only the file it held is lost, as an error.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import torch

from namcheck.harness.core import ModelReport, Options, Signal
from namcheck.harness.interrupts import start_worker, workers_deaf_to_sigint
from namcheck.models.format.limits import Limits, limits, set_limits

Done = Callable[[int, ModelReport], None]
# work(path, signal, opts): a module-level function (it travels to the worker by name).
Work = Callable[[Path, Signal, Options], ModelReport]


def _serve(conn: Connection, work: Work, signal: Signal, opts: Options, lim: Limits) -> None:
    torch.set_num_threads(1)
    set_limits(lim)
    conn.send("ready")  # imports done: a file's time limit starts when it is handed over
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent has gone (killed): nothing to report to
        if job is None:
            return
        index, path = job
        conn.send((index, work(path, signal, opts)))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: tuple[int, float] | None = None  # (file index, start time)
    ready: bool = False


class WorkerPool:
    """`workers` processes running `work` on files, each file within `timeout` seconds
    (None: no limit)."""

    def __init__(self, workers: int, work: Work, signal: Signal, opts: Options,
                 timeout: float | None) -> None:
        self.context = mp.get_context("spawn")
        self.args = (work, signal, opts, limits())
        self.timeout = timeout
        self.workers = [self._start() for _ in range(workers)]

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=start_worker, daemon=True,
                                       args=(child, pickle.dumps((_serve, self.args))))
        with workers_deaf_to_sigint():
            process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self.workers[self.workers.index(worker)] = self._start()

    def run(self, files: list[Path], indices: list[int], done: Done) -> None:
        """The work on files[i] for i in indices; `done(i, report)` as each finishes."""
        pending = deque(indices)
        while pending or any(w.job for w in self.workers):
            starting = [w for w in self.workers if not w.ready]
            for worker in starting:
                if worker.conn.poll():
                    try:
                        worker.ready = worker.conn.recv() == "ready"
                    except (EOFError, OSError):
                        self._replace(worker)  # died while starting: start another
            for worker in self.workers:
                if worker.ready and worker.job is None and pending:
                    index = pending.popleft()
                    worker.job = (index, time.monotonic())
                    try:
                        worker.conn.send((index, files[index]))
                    except OSError:
                        pass  # it died: its pipe reads EOF below, reported as a crash
            busy = [w for w in self.workers if w.job]
            wait_for = 0.05 if not busy else 0.5
            if busy and self.timeout is not None:
                wait_for = max(0.0, min(self.timeout - (time.monotonic() - w.job[1])
                                        for w in busy if w.job))
            if not busy:  # workers still starting
                time.sleep(wait_for)
                continue
            ready = wait([w.conn for w in busy], timeout=wait_for)
            for worker in busy:
                assert worker.job is not None
                index, start = worker.job
                path = files[index]
                if worker.conn in ready:
                    try:
                        got, report = worker.conn.recv()
                    except (EOFError, OSError):
                        code = worker.process.exitcode
                        self._replace(worker)
                        done(index, ModelReport(str(path), None, error=(
                            f"{path}: the worker auditing it died (exit code {code}); the "
                            "file crashes namcheck")))
                        continue
                    worker.job = None
                    done(got, report)
                elif self.timeout is not None and time.monotonic() - start > self.timeout:
                    self._replace(worker)
                    done(index, ModelReport(str(path), None, error=(
                        f"{path}: timed out after {self.timeout:g} s (--timeout)")))

    def kill(self) -> None:
        """End every worker now (Ctrl-C): the files they held are not finished."""
        for worker in self.workers:
            worker.process.kill()
        for worker in self.workers:
            worker.process.join()
            worker.conn.close()

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
