"""benchmarks/gpu_check.sh in its dry mode: everything but the CUDA calls, on the CPU at
tiny sizes, with no GPU visible (CUDA_VISIBLE_DEVICES empty): the script, its test run and
its measurements work end to end, and its JSON says what ran. Speed is not asserted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash: not on this machine")
def test_gpu_check_runs_in_dry_mode(tmp_path: Path) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "NAMCHECK_GPU_DRY": "1",
           "PYTHON": sys.executable}
    env.pop("OUT", None)
    run = subprocess.run(["bash", str(SCRIPT), "--out", str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "skipped" in run.stdout  # the CUDA tests skip by name
    info = json.loads((tmp_path / "gpu_check.json").read_text())
    assert info["dry_run"] is True and info["device"] == "cpu" and info["gpu"] is None
    assert info["problems"] == []
    signals = info["signals"]
    assert {(r["dtype"], r["signals"]) for r in signals} == {
        (d, n) for d in ("float32", "float64") for n in (1, 2)}
    assert all(r["rtf"] > 0 and r["seconds"] > 0 for r in signals)
    forms = [r["form"] for r in info["audit"]]
    assert forms[:2] == ["batched (matmul)", "batched (torch)"] and forms[2].startswith(
        "one by one")
    assert all(r["models"] == 3 and r["rtf"] > 0 for r in info["audit"])
    log = (tmp_path / "gpu_check.log").read_text().splitlines()
    assert [line.split(" ")[1] for line in log if line.startswith("== ")] == [
        "CUDA", "gpu_check.py", "done"]


def test_gpu_check_refuses_an_unknown_argument(tmp_path: Path) -> None:
    run = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert run.returncode == 2 and "unknown argument --fast" in run.stderr
