"""Corpus audits: measured values for every model, resumable results, and files that crash
or hang their worker becoming error entries, never the end of the audit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from conftest import busy_model, long_signal, stalled_file
from namcheck.harness.audit import audit_files, audit_model
from namcheck.harness.cli import main
from namcheck.harness.core import ModelReport, Options, Signal
from namcheck.harness.corpus.pool import WorkerPool
from namcheck.models import write_nam
from namcheck.models.examples import a1_doc, builtin_doc, container_doc, lstm_doc
from namcheck.signals.generate import default_signal


def corpus(folder: Path, n: int = 6) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        doc = a1_doc("nano", seed=i)  # distinct contents (results match by content)
        if i % 2:
            doc.pop("sample_rate")  # most files in the wild: measured at 48 kHz, said so
        paths.append(folder / f"m{i}.nam")
        write_nam(doc, paths[-1])
    return paths


@pytest.fixture
def signal(tmp_path: Path) -> list[str]:
    path = tmp_path / "standard.wav"
    sf.write(str(path), default_signal(), 48000, subtype="FLOAT")
    return ["--signal", str(path), "--standard-input"]


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json", "-"])
    return code, json.loads(capsys.readouterr().out)


def test_audit_reports_measured_levels_for_every_model(tmp_path: Path, signal: list[str],
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    corpus(tmp_path / "c", 2)
    write_nam(container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())]), tmp_path / "c" / "x.nam")
    code, doc = run_json(["audit", str(tmp_path / "c"), *signal], capsys)
    assert code == 3  # nothing stored to compare: not verified, never passed
    for model in doc["models"]:
        assert model["levels"] and all(isinstance(lv["loudness_db"], float)
                                       and isinstance(lv["gain"], float)
                                       for lv in model["levels"])
        assert any("metadata.loudness: missing" in w for w in model["warnings"])
    unrated = next(m for m in doc["models"] if m["path"].endswith("m1.nam"))
    assert any("no sample_rate in the file: measured at 48000 Hz" in w
               for w in unrated["warnings"])
    box = next(m for m in doc["models"] if m["path"].endswith("x.nam"))
    assert [lv["target"] for lv in box["levels"]] == ["", "submodel0", "submodel1"]


def strip_run(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["models"]


def test_killed_audit_resumes_to_the_same_report(tmp_path: Path, signal: list[str]) -> None:
    files = corpus(tmp_path / "c", 8)
    cli = [sys.executable, "-m", "namcheck.harness.cli", "audit", str(tmp_path / "c"),
           *signal, "--no-gain"]
    straight = subprocess.run([*cli, "--json", "-"], capture_output=True, text=True,
                              check=False)
    expected = json.loads(straight.stdout)
    results = tmp_path / "r.jsonl"
    proc = subprocess.Popen([*cli, "--results", str(results)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.exists() and results.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = results.read_text().count("\n")
    assert 3 <= done < len(files), done  # killed midway
    with results.open("a") as handle:
        handle.write('{"key": "cut short by a kill')  # a torn last line is ignored
    resumed = subprocess.run([*cli, "--results", str(results), "--json", "-"],
                             capture_output=True, text=True, check=False)
    assert resumed.returncode == straight.returncode
    assert strip_run(json.loads(resumed.stdout)) == strip_run(expected)
    lines = [json.loads(line) for line in results.read_text().splitlines()
             if line.startswith('{"key": "') and line.endswith("}")]
    assert len(lines) == len(files)  # the rest appended, nothing audited twice
    # a renamed copy is recognised by content; an edited file is audited again
    (tmp_path / "c" / "m0.nam").rename(tmp_path / "c" / "renamed.nam")
    write_nam(a1_doc("lite", seed=9), tmp_path / "c" / "m1.nam")
    again = subprocess.run([*cli, "--results", str(results), "--json", "-"],
                           capture_output=True, text=True, check=False)
    assert json.loads(again.stdout)["summary"]["not_verified"] == len(files)
    assert len(results.read_text().splitlines()) == len(files) + 2  # + torn line + m1


def test_hanging_file_times_out_and_the_audit_goes_on(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    files = corpus(tmp_path / "c", 2)
    busy_model(tmp_path / "c" / "slow.nam")
    signal = ["--signal", str(long_signal(tmp_path / "long.wav"))]
    code, doc = run_json(["audit", str(tmp_path / "c"), *signal, "--no-gain", "--timeout",
                          "3", "--workers", "2"], capsys)
    assert code == 2
    by_name = {Path(m["path"]).name: m for m in doc["models"]}
    assert "timed out after 3 s (--timeout)" in by_name["slow.nam"]["error"]
    assert all(by_name[f.name]["status"] == "not_verified" for f in files)


@pytest.mark.parametrize("command", [["inspect"], ["verify"], ["audit"],
                                     ["audit", "--results", "r.jsonl"],
                                     ["audit", "--workers", "2", "--results", "r.jsonl"]],
                         ids=lambda c: "-".join(c).replace("--", ""))
def test_a_fifo_is_refused_unread(tmp_path: Path, command: list[str]) -> None:
    """A FIFO named `.nam` in a folder (or given as --signal) would block its reader for
    ever, with or without --timeout: it is an error entry or bad input naming it, exit 2,
    and the rest of the folder is still checked."""
    corpus(tmp_path / "c", 1)
    stalled_file(tmp_path / "c" / "x.nam")
    stalled_file(tmp_path / "s.wav")
    cli = [sys.executable, "-m", "namcheck.harness.cli", *command]
    done = subprocess.run([*cli, "c", *([] if command[0] == "inspect" else ["--no-gain"])],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "x.nam: not a regular file (a FIFO, socket or device)" in done.stdout + done.stderr
    assert "m0.nam" in done.stdout
    if command[0] != "inspect":
        bad = subprocess.run([*cli, "c/m0.nam", "--signal", "s.wav"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, check=False)
        assert bad.returncode == 2
        assert bad.stderr.strip() == ("namcheck: s.wav: not a regular file (a FIFO, socket or "
                                      "device), not an audio file")


def test_worker_killed_mid_file_is_an_error_entry(tmp_path: Path) -> None:
    """A worker process killed from outside (as the OOM killer would) while it audits a
    file: that file is an error entry, the pool replaces the worker, the rest is audited."""
    files = [busy_model(tmp_path / "slow.nam"), *corpus(tmp_path / "c", 2)]
    sig = Signal.from_wav(long_signal(tmp_path / "long.wav"))
    pool = WorkerPool(1, audit_model, sig, Options(with_gain=False), timeout=None)
    reports: dict[int, ModelReport] = {}

    def killer() -> None:
        while pool.workers[0].job is None:  # until the worker is on slow.nam
            time.sleep(0.05)
        time.sleep(1.0)
        pool.workers[0].process.kill()

    threading.Thread(target=killer, daemon=True).start()
    try:
        pool.run(files, [0, 1, 2], lambda i, r: reports.__setitem__(i, r))
    finally:
        pool.close()
    assert "the worker auditing it died" in (reports[0].error or "")
    assert reports[1].status == reports[2].status == "not_verified"


def _wav(folder: Path) -> Path:
    path = folder / "s.wav"
    sf.write(str(path), default_signal(), 48000, subtype="FLOAT")
    return path


def test_results_file_is_reused_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    files = corpus(tmp_path / "c", 3)
    sig, opts = Signal.from_wav(_wav(tmp_path)), Options(with_gain=False)
    first = audit_files(files, sig, opts, results=tmp_path / "r.jsonl")
    seen: list[str] = []
    second = audit_files(files, sig, opts, results=tmp_path / "r.jsonl",
                       progress=lambda d, t, r: seen.append(r.path))
    assert [r.status for r in first] == [r.status for r in second]
    assert [r.levels for r in first] == [r.levels for r in second]
    assert seen == [str(f) for f in files]
    import namcheck.harness.corpus as corpus_module

    def no_pool(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("workers started with every result reused")

    monkeypatch.setattr(corpus_module, "WorkerPool", no_pool)
    again = audit_files(files, sig, opts, workers=2, results=tmp_path / "r.jsonl")
    assert [r.status for r in again] == [r.status for r in first]
    monkeypatch.undo()
    other = audit_files(files, sig, Options(with_gain=True), results=tmp_path / "r.jsonl")
    assert all(r.levels[0]["gain"] is not None for r in other)  # other settings: re-run


def test_progress_off_a_terminal_has_no_control_characters(tmp_path: Path, signal: list[str]
                                                           ) -> None:
    corpus(tmp_path / "c", 2)
    (tmp_path / "c" / "bad.nam").write_text("{")
    proc = subprocess.run([sys.executable, "-m", "namcheck.harness.cli", "audit",
                           str(tmp_path / "c"), *signal, "--no-gain"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr
    assert "bad.nam: not valid JSON" in proc.stderr


def test_a_folder_gives_every_nam_file_and_counts_the_rest(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """A folder's `.nam` files in any case of the extension (`UPPER.NAM`), below sub-folders
    too; a broken link to a `.nam` is an entry saying so; other files are counted on stderr
    (a trial found them skipped without a word)."""
    (tmp_path / "sub").mkdir()
    for name in ("a.nam", "UPPER.NAM", "sub/b.nam"):
        write_nam(lstm_doc(3, seed=1), tmp_path / name)
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "gone.nam").symlink_to("nowhere.nam")
    assert main(["audit", str(tmp_path), "--builtin-signal", "--json",
                 str(tmp_path / "r.json")]) == 2  # the broken link: a bad file
    err = capsys.readouterr().err
    assert "2 files without the .nam extension skipped (notes.json, readme.txt)" in err
    assert "gone.nam: a broken link (to nowhere.nam, which does not exist)" in err
    paths = {Path(m["path"]).name for m in json.loads((tmp_path / "r.json").read_text())["models"]}
    assert paths == {"a.nam", "UPPER.NAM", "b.nam", "gone.nam"}
