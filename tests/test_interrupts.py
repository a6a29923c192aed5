"""Ctrl-C and closed pipes are ordinary events (issue 16 item 13): one line, the right exit
code, nothing left behind, and an interrupted audit says what it kept and how to resume.

Real processes and real signals: the CLI runs in its own process group and gets SIGINT
as a terminal's Ctrl-C delivers it, to the whole group (the parent and its workers)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import busy_model, long_signal
from namcheck.models import write_nam
from namcheck.models.examples import a1_doc

CLI = [sys.executable, "-m", "namcheck.harness.cli"]


def _corpus(folder: Path, fast: int = 2, busy: int = 2) -> None:
    """`fast` small WaveNets, then `busy` models that take minutes on the long signal
    (conftest.busy_model), so that an interrupt always finds the audit busy."""
    folder.mkdir()
    for i in range(fast):
        write_nam(a1_doc("nano", seed=i), folder / f"a{i}.nam")
    for i in range(busy):
        busy_model(folder / f"z{i}.nam", seed=i)


def _interrupt(cmd: list[str], cwd: Path, ready: Callable[[str], bool],
               sigint: Any = signal.SIG_DFL) -> subprocess.CompletedProcess[str]:
    """Run `cmd` with SIGINT at `sigint`, send Ctrl-C once `ready(stdout so far)`, and
    collect what it printed."""
    # As a terminal starts a foreground job: Ctrl-C at its default. A test run started in
    # the background by a non-interactive shell (`cmd &`) has SIGINT ignored, which every
    # child inherits and Python then keeps (as namcheck rightly does: nohup, `&`).
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, to=to: to.extend(iter(s.readline, "")),
                                daemon=True)
               for s, to in ((proc.stdout, out), (proc.stderr, err))]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 180
    while not ready("".join(out)) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    for reader in readers:
        reader.join(timeout=10)
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(out), "".join(err))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    _corpus(tmp_path / "c")
    long_signal(tmp_path / "s.wav")
    return tmp_path


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_mid_audit_is_one_line_saying_what_was_saved(workdir: Path, workers: str
                                                            ) -> None:
    before = _listing(workdir)
    results = workdir / "r.jsonl"

    def first_result_saved(_out: str) -> bool:
        return results.exists() and results.read_text().count("\n") >= 1

    done = _interrupt([*CLI, "audit", "c", "--signal", "s.wav",
                       "--workers", workers, "--results", "r.jsonl", "--no-gain"],
                      workdir, first_result_saved)
    assert done.returncode == 130
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # no worker tracebacks
    saved = results.read_text().count("\n")
    assert 1 <= saved < 4
    assert re.fullmatch(rf"namcheck: interrupted: \d of 4 files audited; {saved} results "
                        r"saved in r\.jsonl: resume with: namcheck audit c .*--results "
                        r"r\.jsonl --no-gain", lines[0])
    assert _listing(workdir) == before | {"r.jsonl"}  # no temporary file left


def test_ctrl_c_while_workers_start_has_no_worker_traceback(workdir: Path) -> None:
    """The workers are importing torch (seconds) when Ctrl-C arrives: they ignore it, the
    parent ends them."""
    before = _listing(workdir)
    seen: list[float] = []

    def header_then_a_second(out: str) -> bool:
        # The header is printed just before the pool starts its workers; a second later
        # they are importing torch (or waiting for their first file).
        if "4 files" in out:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] > 1.0

    done = _interrupt([*CLI, "audit", "c", "--signal", "s.wav",
                       "--workers", "2", "--no-gain"], workdir, header_then_a_second)
    assert done.returncode == 130
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
    assert done.stderr.splitlines() == [
        "namcheck: interrupted: 0 of 4 files audited, nothing saved (with --results "
        "FILE.jsonl each result is kept as it finishes, and a rerun resumes)"
    ] or re.fullmatch(r"namcheck: interrupted: [1-3] of 4 files audited, nothing saved .*\n",
                      done.stderr), done.stderr
    assert _listing(workdir) == before


def test_ctrl_c_is_ignored_where_the_job_ignores_it(tmp_path: Path) -> None:
    """Started with SIGINT ignored (nohup, `cmd &` in a script), namcheck keeps it so, also
    while its workers start: Ctrl-C every 50 ms from start to end, and the audit still
    runs to its end."""
    folder = tmp_path / "c"
    folder.mkdir()
    for i in range(3):
        write_nam(a1_doc("nano", seed=i), folder / f"a{i}.nam")
    proc = subprocess.Popen([*CLI, "audit", "c", "--workers", "2", "--no-gain"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err  # every model audited (nothing stored to compare)
    assert "interrupted" not in err
    assert "audit: 3 files: 0 passed, 3 not_verified" in out


@pytest.mark.parametrize("command", [
    ["inspect", "c"], ["inspect", "--json", "c"], ["conform", "--list"], ["schema"],
])
def test_a_listing_piped_into_head_ends_quietly(tmp_path: Path, command: list[str]) -> None:
    """`namcheck inspect DIR | head -1`: the reader goes away after one line; namcheck
    ends with the exit code a Unix tool gets from a closed pipe, printing nothing."""
    folder = tmp_path / "c"
    folder.mkdir()
    doc = a1_doc("nano", seed=0)
    for i in range(150):  # more text than a pipe holds, so a write meets the closed end
        write_nam(doc, folder / f"m{i:03d}.nam")
    proc = subprocess.Popen([*CLI, *command], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # `head -1` exits
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first
    assert err == ""  # no traceback, no "internal error"
    assert code in (0, 141)  # 0: everything fitted in the pipe before it closed
    if command[0] == "inspect":
        assert code == 141  # 150 files: more than a pipe holds


@pytest.mark.parametrize("phase", ["workers_spawning", "workers_importing",
                                   "workers_importing_late", "workers_computing"])
def test_ctrl_c_during_conform_with_workers_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str) -> None:
    """`namcheck conform --jobs 2`: Ctrl-C while its reference workers are being started,
    while they import torch, and while they compute: they leave quietly (no traceback from
    a worker), and namcheck says one line, exit 130. The runtime is `true` (it writes
    nothing: each case is a runtime fault, which does not matter here)."""
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")  # the header arrives as it is printed
    suite = tmp_path / "suite"
    seen: list[float] = []

    def ready(out: str) -> bool:
        if "conform: " in out and not seen:
            seen.append(time.monotonic())  # the reference workers start now
        if not seen:
            return False
        after = time.monotonic() - seen[0]
        if phase == "workers_spawning":
            return True
        if phase == "workers_importing":
            return after > 0.3
        if phase == "workers_importing_late":
            return after > 1.5
        return len(list(suite.rglob("case.json"))) >= 2  # cases done: workers at work

    done = _interrupt([*CLI, "conform", "--runtime", "true {model} {input} {output}",
                       "--slim-arg", "--slim {slim}", "--jobs", "2", "-o", str(suite)],
                      tmp_path, ready)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        rf"namcheck: interrupted(: \d+ of \d+ cases run, nothing reported; {re.escape(str(suite))}"
        r" was not made)?", lines[0]), done.stderr
    assert not suite.exists()  # -o made by this run: nothing of it is left


def test_ctrl_c_during_conform_puts_the_earlier_suite_back(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """conform -o DIR over an earlier suite, interrupted mid-run: DIR/cases is the earlier
    suite again, file for file, and nothing of the partial run is left."""
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    suite = tmp_path / "suite"
    earlier = suite / "cases" / "old" / "case.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")

    def ready(_out: str) -> bool:
        return len(list((suite / "cases").rglob("case.json"))) >= 3  # this run's, at work

    done = _interrupt([*CLI, "conform", "--runtime", "true {model} {input} {output}",
                       "--slim-arg", "--slim {slim}", "--jobs", "1", "-o", str(suite)],
                      tmp_path, ready)
    assert done.returncode == 130, done.stderr
    assert re.fullmatch(r"namcheck: interrupted: \d+ of \d+ cases run, nothing reported; "
                        rf"{re.escape(str(suite))} is left as it was\n", done.stderr)
    assert _listing(suite) == {"cases", "cases/old", "cases/old/case.json"}


def test_interrupted_audit_counts_each_saved_result(tmp_path: Path) -> None:
    """Two files of the same content are two results (two lines) in --results, and the
    interrupted audit says 2, as the resumed run reuses 2; it once counted contents (1)."""
    from namcheck.harness.core import ModelReport
    from namcheck.harness.corpus import _interrupted
    from namcheck.harness.corpus.results import ResultsFile

    path = tmp_path / "r.jsonl"
    store = ResultsFile(path, "key")
    for name in ("a.nam", "copy_of_a.nam"):
        store.append("same-sha256", tmp_path / name, ModelReport(name, "WaveNet"))
    assert path.read_text().count("\n") == 2
    assert f"2 of 3 files audited; 2 results saved in {path}" in _interrupted(2, 0, 3, store)
    assert ResultsFile(path, "key").saved == 2  # read back by the resumed run
