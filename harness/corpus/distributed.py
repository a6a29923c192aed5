"""`audit --scheduler ADDRESS`: the same audit on a Dask distributed cluster (the `dask`
extra). Each file's bytes travel with its task, so workers need no shared filesystem.
Dask retries a task whose worker is lost; a file that kills workers repeatedly (Dask's
allowed-failures) becomes an `error` entry, like any file a local worker cannot finish."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

from namcheck.harness.core import ModelReport, Options, Signal
from namcheck.harness.errors import BadInputError
from namcheck.models.format.limits import Limits, limits, set_limits

# Attempts after the first for a task whose worker raised or was lost.
RETRIES = 2
# work_bytes(name, data, signal, opts): a module-level function (it travels by name).
WorkBytes = Callable[[str, bytes, Signal, Options], ModelReport]


def file_task(work_bytes: WorkBytes, name: str, data: bytes, signal: Signal, opts: Options,
              lim: Limits) -> ModelReport:
    """Runs on a Dask worker: the work on one file, from its bytes."""
    import torch

    torch.set_num_threads(1)
    set_limits(lim)
    return work_bytes(name, data, signal, opts)


def run_on_cluster(address: str, files: list[Path], indices: list[int], work_bytes: WorkBytes,
                   signal: Signal, opts: Options, done: Callable[[int, ModelReport], None]
                   ) -> None:
    """`work_bytes` on files[i] for i in indices on the cluster at `address`; `done(i,
    report)` as each finishes (in completion order)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BadInputError("--scheduler: dask.distributed is not installed (pip install "
                            "'namcheck[dask]')") from None
    try:
        client = Client(address, timeout="10s")
    except Exception as exc:
        raise BadInputError(f"--scheduler {address}: cannot connect ({type(exc).__name__}: "
                            f"{exc})") from None
    run = uuid.uuid4().hex[:8]
    with client:
        futures = {}
        for i in indices:
            try:
                if not stat.S_ISREG(os.stat(files[i]).st_mode):  # a FIFO would block here
                    raise OSError(0, "not a regular file")
                data = files[i].read_bytes()
            except OSError as exc:
                done(i, ModelReport(str(files[i]), None,
                                    error=f"{files[i]}: cannot read: {exc.strerror}"))
                continue
            future = client.submit(file_task, work_bytes, str(files[i]), data, signal, opts,
                                   limits(),
                                   key=f"namcheck-audit-{run}-{i}", retries=RETRIES,
                                   pure=False)
            futures[future] = i
        for future in as_completed(futures):
            i = futures[future]
            try:
                report = future.result()
            except Exception as exc:  # KilledWorker after repeated losses, or a crash
                report = ModelReport(str(files[i]), None, error=(
                    f"{files[i]}: the cluster could not audit it ({type(exc).__name__}: "
                    f"{exc})"))
            done(i, report)
