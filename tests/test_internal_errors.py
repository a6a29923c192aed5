"""A fault inside namcheck while it runs a model is an internal error (exit 4, one line,
NAMCHECK_DEBUG=1 shows the traceback), never reported as the user's bad input (exit 2).

The fault is injected into the reference forward (ZeroDivisionError), in this process with
monkeypatch, and in audit's worker processes through a sitecustomize module on PYTHONPATH
(every interpreter the audit spawns loads it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from namcheck.harness.cli import main
from namcheck.models import write_nam
from namcheck.models.examples import builtin_doc
from namcheck.models.reference.base import NamModule

RUN = ["--engine", "reference", "--no-gain", "--builtin-signal", "--json", "-"]


def _fault(self: Any, x: Any) -> Any:
    raise ZeroDivisionError("injected fault")


@pytest.fixture
def faulty_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NamModule, "forward", _fault)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.nam"
    write_nam(builtin_doc(), path)
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def _assert_internal(code: int, doc: dict, err: str) -> None:
    assert code == 4
    entry = doc["models"][0]
    assert entry["status"] == "error" and entry["error_kind"] == "internal"
    assert "internal error: ZeroDivisionError: injected fault" in entry["error"]
    said = [line for line in err.splitlines() if line.startswith("namcheck: ")]
    assert len(said) == 1 and "NAMCHECK_DEBUG=1" in said[0]
    assert "Traceback" not in err


@pytest.mark.usefixtures("faulty_forward")
def test_verify_internal_fault_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    _assert_internal(*_run(["verify", *RUN], capsys))


@pytest.mark.usefixtures("faulty_forward")
def test_audit_internal_fault_exits_4(model_file: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    _assert_internal(*_run(["audit", str(model_file), *RUN], capsys))


@pytest.mark.usefixtures("faulty_forward")
def test_internal_fault_outranks_bad_input(model_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A bad file (exit 2) and a fault (exit 4) in one run: 4, each entry with its kind."""
    bad = tmp_path / "a_bad.nam"
    bad.write_text("{")
    code, doc, _ = _run(["audit", str(bad), str(model_file), *RUN], capsys)
    assert code == 4
    assert [m["error_kind"] for m in doc["models"]] == ["bad_input", "internal"]


def test_bad_input_entry_still_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    bad = tmp_path / "bad.nam"
    bad.write_text("{")
    code, doc, _ = _run(["verify", str(bad), *RUN], capsys)
    assert code == 2 and doc["models"][0]["error_kind"] == "bad_input"


@pytest.mark.usefixtures("faulty_forward")
def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NAMCHECK_DEBUG", "1")
    code, _, err = _run(["verify", *RUN], capsys)
    assert code == 4 and "Traceback" in err and "ZeroDivisionError" in err


@pytest.mark.parametrize("command", ["verify", "audit"])
def test_internal_fault_in_worker_processes_exits_4(command: str, tmp_path: Path,
                                                    model_file: Path) -> None:
    """The CLI in a fresh process (and audit's two spawned workers) with the fault."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "from namcheck.models.reference.base import NamModule\n\n"
        "def _fault(self, x):\n    raise ZeroDivisionError('injected fault')\n\n"
        "NamModule.forward = _fault\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(inject), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("NAMCHECK_DEBUG", None)
    extra = ["--workers", "2"] if command == "audit" else []
    proc = subprocess.run([sys.executable, "-m", "namcheck.harness.cli", command,
                           str(model_file), *RUN, *extra], env=env, capture_output=True,
                          text=True, check=False, timeout=600)
    _assert_internal(proc.returncode, json.loads(proc.stdout), proc.stderr)
