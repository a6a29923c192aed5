"""`namcheck compare A.nam B.nam`: two models on the same signal, within the bound of "the
same model" (two rounding plays of one model), with NAM's ESR and the level difference."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from namcheck.harness.cli import main
from namcheck.harness.conform.generate import container, lstm, small_wavenet
from namcheck.models import load, read_nam, write_nam
from namcheck.models.numerics import forward_tolerance
from namcheck.signals.generate import default_signal


def put(tmp_path: Path, name: str, doc: dict[str, Any], indent: int | None = None) -> Path:
    path = tmp_path / name
    if indent is None:
        write_nam(doc, path)
    else:
        path.write_text(json.dumps(doc, indent=indent))
    return path


def compare(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["compare", *args, "--builtin-signal", "--json", "-"])
    return code, json.loads(capsys.readouterr().out)


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [model] = report["models"]
    return {c["name"]: c for c in model["checks"]}


def test_a_re_export_is_the_same_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    doc = small_wavenet(0)
    again = {k: copy.deepcopy(doc[k]) for k in reversed(list(doc))}  # keys reordered
    again["metadata"] = {"name": "re-exported", "loudness": -12.0}
    a, b = put(tmp_path, "a.nam", doc), put(tmp_path, "b.nam", again, indent=2)
    code, report = compare([str(a), str(b)], capsys)
    assert code == 0 and report["options"]["subject"] == f"{a} (A) with {b} (B)"
    found = checks(report)
    assert [found[n]["status"] for n in ("output", "esr", "loudness")] == ["pass"] * 3
    assert found["output"]["measured"] == 0.0


def test_weights_one_float32_ulp_apart_stay_within_the_bound(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A conversion that moves every weight by one float32 ulp plays the same model."""
    doc = small_wavenet(0)
    moved = copy.deepcopy(doc)
    w = np.asarray(moved["weights"], dtype=np.float32)
    moved["weights"] = np.nextafter(w, np.float32(np.inf)).astype(np.float64).tolist()
    moved["config"]["head_scale"] = moved["weights"][-1]
    code, report = compare([str(put(tmp_path, "a.nam", doc)),
                            str(put(tmp_path, "b.nam", moved))], capsys)
    found = checks(report)
    assert code == 0, found
    assert 0.0 < found["output"]["measured"] <= found["output"]["tolerance"]


def test_a_level_change_fails_with_the_db_and_esr(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    doc = small_wavenet(0)
    louder = copy.deepcopy(doc)
    louder["weights"][-1] *= 10 ** (0.1 / 20)
    louder["config"]["head_scale"] = louder["weights"][-1]
    a, b = put(tmp_path, "a.nam", doc), put(tmp_path, "b.nam", louder)
    code, report = compare([str(a), str(b)], capsys)
    found = checks(report)
    assert code == 1 and {c["status"] for c in found.values()} == {"fail"}
    assert found["loudness"]["error"] == pytest.approx(0.1, abs=2e-5)
    assert "+0.1000" in found["loudness"]["reason"]["text"]
    # NAM's ESR, computed here from the two forwards: mean squared difference / mean
    # squared A, no pre-emphasis.
    x = torch.from_numpy(default_signal())
    ya = load(read_nam(a), dtype=torch.float32)(x).double()
    yb = load(read_nam(b), dtype=torch.float32)(x).double()
    esr = float(((yb - ya) ** 2).mean() / (ya ** 2).mean())
    assert found["esr"]["measured"] == pytest.approx(esr, rel=1e-9)
    assert esr == pytest.approx((10 ** (0.1 / 20) - 1) ** 2, rel=1e-3)
    bound = forward_tolerance(read_nam(a), torch.float32, implementations=2)
    assert found["output"]["tolerance"] == bound


def test_a_retrain_is_another_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = put(tmp_path, "a.nam", small_wavenet(0))
    b = put(tmp_path, "b.nam", small_wavenet(1))
    code, report = compare([str(a), str(b)], capsys)
    found = checks(report)
    assert code == 1 and found["esr"]["measured"] > 0.01


def test_a_container_at_a_slim_vs_its_submodel(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    small, big = small_wavenet(3), small_wavenet(4)
    box = put(tmp_path, "box.nam", container([(0.5, small), (1.0, big)]))
    sub = put(tmp_path, "small.nam", small)
    code, _ = compare([str(box), str(sub), "--slim", "0.2"], capsys)
    assert code == 0
    code, _ = compare([str(box), str(sub)], capsys)  # full size: the big one plays
    assert code == 1


@pytest.mark.parametrize(("extra", "message"), [
    (["c.nam"], "add --upstream"),
    (["--render", "r.wav"], "--render"),
])
def test_pair_mode_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             extra: list[str], message: str) -> None:
    a = put(tmp_path, "a.nam", small_wavenet(0))
    b = put(tmp_path, "b.nam", small_wavenet(1))
    put(tmp_path, "c.nam", small_wavenet(2))
    extra = [str(tmp_path / e) if e.endswith(".nam") else e for e in extra]
    code = main(["compare", str(a), str(b), *extra, "--builtin-signal"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_pair_with_different_rates_is_bad_input(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    a = put(tmp_path, "a.nam", lstm(3, 1, 0))
    other = lstm(3, 1, 0)
    other["sample_rate"] = 44100
    b = put(tmp_path, "b.nam", other)
    code = main(["compare", str(a), str(b), "--builtin-signal"])
    err = capsys.readouterr().err
    assert code == 2 and "b.nam" in err and "44100" in err
