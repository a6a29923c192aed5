"""The JSON report: one typed, versioned shape for verify, audit, compare and stamp, valid
against `namcheck schema`; `--json -` is JSON alone on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.models import write_nam
from namcheck.models.examples import builtin_doc, container_doc, linear_doc, lstm_doc
from namcheck.signals.generate import default_signal

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (the test extra) is absent")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "namcheck.harness.cli", "schema"],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    signal = tmp_path / "signal.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="FLOAT")
    paths = {"signal": signal}
    for name, doc in (("amp", builtin_doc()), ("lstm", lstm_doc()), ("lin", linear_doc()),
                      ("box", container_doc([(0.5, builtin_doc()), (1.0, builtin_doc())]))):
        paths[name] = tmp_path / f"{name}.nam"
        write_nam(doc, paths[name])
    (tmp_path / "bad.nam").write_text("{")
    paths["bad"] = tmp_path / "bad.nam"
    return paths


def commands(p: dict[str, Path], tmp_path: Path) -> dict[str, list[str]]:
    models = [str(p[k]) for k in ("amp", "lstm", "lin", "box", "bad")]
    signal = ["--signal", str(p["signal"]), "--standard-input", "--no-gain"]
    render = tmp_path / "render.wav"
    assert main(["render", str(p["lin"]), str(p["signal"]), str(render)]) == 0
    return {
        "verify": ["verify", *models, *signal, "--scale", "0.5"],
        "audit": ["audit", *models, *signal],
        "compare": ["compare", str(p["lin"]), "--render", str(render), *signal[:-1]],
        "stamp": ["stamp", *models[:4], "--dry-run", *signal],
    }


@pytest.mark.parametrize("command", ["verify", "audit", "compare", "stamp"])
def test_report_validates_against_schema(command: str, corpus: dict[str, Path],
                                         schema: dict[str, Any], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    args = commands(corpus, tmp_path)[command]
    capsys.readouterr()
    main([*args, "--json", "-"])
    doc = json.loads(capsys.readouterr().out)  # only JSON on stdout
    jsonschema.validate(doc, schema)
    assert doc["schema_version"] == "1.3" and doc["command"] == command
    assert set(doc["context"]) >= {"namcheck", "torch", "python", "device", "dtype",
                                   "threads", "engine", "started"}
    assert doc["signal"]["sha256"] and doc["signal"]["standard_input"] is True
    assert doc["signal"]["path"] == str(corpus["signal"])
    for model in doc["models"]:
        counts = model["counts"]
        assert counts["checks"] == len(model["checks"]) == (
            counts["passed"] + counts["failed"] + counts["not_applicable"])
        for check in model["checks"]:
            assert check["status"] in ("pass", "fail", "n/a") and check["reason"]["code"]
            assert "[s=" not in check["name"]
    assert sum(doc["summary"].values()) == len(doc["models"])


def test_scale_is_a_field_and_levels_are_reported(corpus: dict[str, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    main(["verify", str(corpus["amp"]), "--builtin-signal", "--no-gain", "--scale", "0.25",
          "--scale", "4", "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    shifts = [c for c in doc["models"][0]["checks"] if c["name"] == "loudness_shift"]
    assert [c["scale"] for c in shifts] == [0.25, 4.0]
    assert all(c["unit"] == "dB" for c in shifts)
    main(["audit", str(corpus["box"]), "--signal", str(corpus["signal"]), "--standard-input",
          "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    levels = doc["models"][0]["levels"]
    assert [lv["target"] for lv in levels] == ["", "submodel0", "submodel1"]
    assert all(isinstance(lv["loudness_db"], float) and 0 <= lv["gain"] <= 1 for lv in levels)
    assert any("metadata.loudness: missing" in w for w in doc["models"][0]["warnings"])


def test_json_dash_pipes_into_json_load(corpus: dict[str, Path]) -> None:
    cli = [sys.executable, "-m", "namcheck.harness.cli"]
    verify = subprocess.run([*cli, "verify", "--json", "-", str(corpus["amp"]), "--no-gain",
                             "--builtin-signal"], capture_output=True, text=True, check=False)
    assert verify.returncode == 0
    assert json.loads(verify.stdout)["models"][0]["status"] == "passed"
    assert "== " in verify.stderr  # the table went to stderr


def test_version_and_inspect_list(corpus: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("namcheck ")
    assert main(["inspect", str(corpus["amp"]), "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
    assert main(["inspect", str(corpus["amp"]), str(corpus["bad"]), "--json"]) == 2
    infos = json.loads(capsys.readouterr().out)
    assert len(infos) == 2 and "error" in infos[1]
