"""`audit --results FILE.jsonl`: one line per audited file, appended as each finishes, so
an interrupted audit resumes where it stopped.

A line is {"key", "sha256", "path", "report"}: `sha256` is the file's content hash (a file
renamed or copied is still recognised; an edited one is audited again), `key` the hash of
everything else the result depends on (the signal's samples, dtype, gain on/off, the dB
gate, the limits, namcheck's version). A line cut short by a kill is ignored on reading;
each line is written with one write() and fsynced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from namcheck.harness.checks import CheckResult
from namcheck.harness.core import ModelReport, Options, Signal
from namcheck.harness.report import strict
from namcheck.harness.version import package_version
from namcheck.models.format.limits import limits


def file_sha256(path: Path) -> str:
    """The SHA-256 of a regular file's bytes (hex). Raises OSError for anything else: a
    FIFO or device would block this process, where the work's own read is under --timeout."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{path}: not a regular file")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_key(signal: Signal, opts: Options) -> str:
    """What a stored result depends on besides the file itself."""
    parts = [signal.sha256, str(signal.standard_input), str(opts.dtype), opts.device,
             str(opts.with_gain), str(opts.fail_above_db), opts.engine,
             str(opts.fail_on_runtime_limits), repr(limits()),
             package_version()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _to_json(report: ModelReport) -> dict[str, Any]:
    return strict(dataclasses.asdict(report))


def _from_json(data: dict[str, Any]) -> ModelReport:
    checks = [CheckResult(**c) for c in data.pop("checks")]
    return ModelReport(**data, checks=checks)


class ResultsFile:
    """The results of earlier runs (same key) by content hash, and appending new ones."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.done: dict[str, ModelReport] = {}
        self.saved = 0  # results (lines) with this key: a file per line, duplicates too
        if path.exists():
            self._read()

    def _read(self) -> None:
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    if entry.get("key") == self.key:
                        self.done[entry["sha256"]] = _from_json(entry["report"])
                        self.saved += 1
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill, or another tool's

    def known(self, sha256: str, path: Path) -> ModelReport | None:
        """A stored result for this content, reported under the current path."""
        report = self.done.get(sha256)
        if report is None:
            return None
        return dataclasses.replace(report, path=str(path))

    def append(self, sha256: str, path: Path, report: ModelReport) -> None:
        line = json.dumps({"key": self.key, "sha256": sha256, "path": str(path),
                           "report": _to_json(report)}, allow_nan=False)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            prefix = b""
            if size:
                with self.path.open("rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":
                        prefix = b"\n"  # after a line cut short by a kill
            os.write(fd, prefix + line.encode("utf-8") + b"\n")
            self.done[sha256] = report  # counted as saved even if Ctrl-C ends the fsync
            self.saved += 1
            os.fsync(fd)
        finally:
            os.close(fd)


def stored_results(results: Path, files: list[Path], signal: Signal, opts: Options) -> int:
    """How many of `files` the results file already holds for these settings (an audit
    with it reuses them): 0 where the file does not exist."""
    if not results.exists():
        return 0
    store = ResultsFile(results, run_key(signal, opts))
    count = 0
    for path in files:
        try:
            count += file_sha256(path) in store.done
        except OSError:
            continue
    return count
