"""`audit --scheduler`: a real local Dask cluster (a scheduler and two workers on
127.0.0.1, started and stopped here), the same per-file results as a local run, the same
resumable results file, and a worker lost mid-file tolerated."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.models import write_nam
from namcheck.models.examples import a1_doc, container_doc, lstm_doc
from namcheck.signals.generate import default_signal

distributed = pytest.importorskip("distributed", reason="the 'dask' extra "
                                  "(dask[distributed]) is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` + 2 × `dask worker` (1 thread each) on loopback."""
    folder = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker"]
    logs = (folder / "log.txt").open("w")
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0", "--no-show"],
                              stdout=logs, stderr=logs, cwd=folder)]
    for _ in range(2):
        procs.append(subprocess.Popen([*worker, address, "--nthreads", "1", "--nworkers",
                                       "1", "--host", "127.0.0.1", "--no-dashboard",
                                       "--memory-limit", "4GB"],
                                      stdout=logs, stderr=logs, cwd=folder))
    try:
        client = distributed.Client(address, timeout="60s")
        client.wait_for_workers(2, timeout=120)
        client.close()
        yield address
    finally:
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "c"
    folder.mkdir()
    for i in range(5):
        write_nam(a1_doc("nano", seed=i), folder / f"m{i}.nam")
    write_nam(container_doc([(0.5, lstm_doc()), (1.0, a1_doc("nano", seed=9))]),
              folder / "box.nam")
    (folder / "bad.nam").write_text("{")
    signal = tmp_path / "s.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="FLOAT")
    return folder, ["--signal", str(signal), "--standard-input", "--no-gain"]


def report_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list]:
    code = main([*args, "--json", "-"])
    return code, json.loads(capsys.readouterr().out)["models"]


def test_cluster_audit_equals_local_audit(cluster: str, corpus: tuple[Path, list[str]],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder, signal = corpus
    local_code, local = report_of(["audit", str(folder), *signal], capsys)
    results = tmp_path / "r.jsonl"
    code, remote = report_of(["audit", str(folder), *signal, "--scheduler", cluster,
                              "--results", str(results)], capsys)
    assert code == local_code == 2  # bad.nam
    assert remote == local
    assert len(results.read_text().splitlines()) == 7
    # the same results file resumes a local run: nothing is audited again
    code, again = report_of(["audit", str(folder), *signal, "--results", str(results)],
                            capsys)
    assert again == local and len(results.read_text().splitlines()) == 7


def test_cluster_survives_a_lost_worker(cluster: str, corpus: tuple[Path, list[str]],
                                        tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """One worker is killed while the files run: Dask reschedules its tasks on the other,
    and every file still gets its result. (Runs after the other cluster test.)"""
    folder, signal = corpus
    for i in range(5, 12):
        write_nam(a1_doc("nano", seed=i), folder / f"m{i}.nam")
    client = distributed.Client(cluster, timeout="30s")
    pids = list(client.run(lambda: __import__("os").getpid()).values())
    client.close()
    proc = subprocess.Popen([sys.executable, "-m", "namcheck.harness.cli", "audit",
                             str(folder), *signal, "--scheduler", cluster, "--json",
                             str(tmp_path / "r.json")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(3.0)
    import os
    import signal as signals

    os.kill(pids[0], signals.SIGKILL)
    assert proc.wait(timeout=300) == 2  # bad.nam is the only error
    models = json.loads((tmp_path / "r.json").read_text())["models"]
    assert len(models) == 14
    assert [m["path"] for m in models if m["status"] == "error"] == [str(folder / "bad.nam")]


def test_bad_scheduler_is_one_line(corpus: tuple[Path, list[str]],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder, signal = corpus
    port = free_port()
    assert main(["audit", str(folder), *signal, "--scheduler",
                 f"tcp://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot connect" in err
    assert err.count("\n") == 1
