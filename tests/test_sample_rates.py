"""Models at other rates (issue 17 item 4): 44.1, 88.2 and 96 kHz, and an unknown rate
(absent, -1, 0), in every command, as the runtime and NAM's exporter define them.

NAM's exporter measures `metadata.loudness` and `metadata.gain` by feeding the 48,000
samples of its standard input to the model whatever the model's rate (neural-amp-modeler
`nam/models/base.py` `_metadata_loudness`), so on a 48 kHz signal a model at another rate is
measured on those samples as they are, and the report says so (a note line and the JSON field
`sample_rates`). The value expected here follows from that definition: the same weights
labelled 48 kHz, whose measurement on a 48 kHz signal is the ordinary case, give the same
samples out, so the same loudness and gain, exactly (one engine, one input). A signal at a
third rate is its own one-line error (exit 2), never "unreadable".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT
from namcheck.harness import audit, stamp, verify
from namcheck.harness.cli import main
from namcheck.harness.core import Options, Signal
from namcheck.harness.report import format_table
from namcheck.models import read_nam, write_nam
from namcheck.models.examples import builtin_doc, linear_doc
from namcheck.signals.generate import default_signal

CASES = ROOT.parent / "shared" / "cases" / "sample_rate"
needs_cases = pytest.mark.skipif(
    not CASES.is_dir(), reason=f"cases folder {CASES} is absent (../shared/cases)")

OTHER_RATES = (44100, 88200, 96000)


def at_rate(doc: dict[str, Any], rate: Any) -> dict[str, Any]:
    """`doc` with `sample_rate` set to `rate` ('absent': removed)."""
    doc = json.loads(json.dumps(doc))
    if rate == "absent":
        doc.pop("sample_rate", None)
    else:
        doc["sample_rate"] = rate
    return doc


def standard(rate: int = 48000) -> Signal:
    """A varying signal treated as NAM's standard input (stored values are compared)."""
    return Signal(default_signal(), rate, f"test signal at {rate} Hz", True)


def level(report: Any) -> dict[str, Any]:
    return report.levels[0]


@pytest.mark.parametrize("rate", OTHER_RATES)
@pytest.mark.parametrize("make", [builtin_doc, linear_doc], ids=["wavenet", "linear"])
def test_audit_measures_other_rates_on_the_48k_samples(make: Any, rate: int) -> None:
    opts = Options()
    twin = audit.audit_loaded(read_nam(at_rate(make(), 48000)), standard(), opts)
    assert twin.sample_rates is None  # the rates agree: nothing to say
    report = audit.audit_loaded(read_nam(at_rate(make(), rate)), standard(), opts)
    assert report.error is None
    assert level(report)["loudness_db"] == level(twin)["loudness_db"]
    assert level(report)["gain"] == level(twin)["gain"]
    rates = report.sample_rates
    assert rates is not None and rates["measured_as"] == "nam_exporter"
    assert (rates["model"], rates["file_value"], rates["signal"]) == (rate, rate, 48000)
    assert "as NAM's exporter measures metadata.loudness" in rates["note"]
    assert f"   note: {rates['note']}" in format_table(report).splitlines()


@pytest.mark.parametrize("rate", OTHER_RATES)
def test_stored_loudness_of_other_rates_is_checked(rate: int) -> None:
    """The stored value as the exporter defines it passes; one 1 dB off fails."""
    measured = level(audit.audit_loaded(read_nam(builtin_doc()), standard(), Options()))
    doc = at_rate(builtin_doc(), rate)
    doc["metadata"].update(loudness=measured["loudness_db"], gain=measured["gain"])
    report = audit.audit_loaded(read_nam(doc), standard(), Options())
    checks = {c.name: c.passed for c in report.checks}
    assert checks["metadata_loudness"] is True and checks["metadata_gain"] is True
    assert report.status == "passed"
    doc["metadata"]["loudness"] = measured["loudness_db"] + 1.0
    report = audit.audit_loaded(read_nam(doc), standard(), Options())
    assert {c.name: c.passed for c in report.checks}["metadata_loudness"] is False


def test_stamp_writes_the_exporters_value_for_a_96k_model(tmp_path: Path) -> None:
    twin = level(audit.audit_loaded(read_nam(builtin_doc()), standard(), Options()))
    source = tmp_path / "m96.nam"
    write_nam(at_rate(builtin_doc(), 96000), source)
    report = stamp.run(source, tmp_path / "out.nam", signal=standard())
    assert report.status == "passed" and report.sample_rates is not None
    assert report.sample_rates["measured_as"] == "nam_exporter"
    written = json.loads((tmp_path / "out.nam").read_text())
    assert written["sample_rate"] == 96000
    assert written["metadata"]["loudness"] == twin["loudness_db"]
    assert written["metadata"]["gain"] == twin["gain"]


def test_verify_runs_a_96k_model_on_a_48k_signal() -> None:
    report = verify.run(at_rate(builtin_doc(), 96000), signal=standard())
    assert report.error is None and report.status in ("passed", "not_verified")
    assert any(c.name == "loudness_shift" and c.passed for c in report.checks)
    assert report.sample_rates is not None
    assert report.sample_rates["measured_as"] == "nam_exporter"


@pytest.mark.parametrize("rate", [44100, 96000])
def test_a_signal_at_a_third_rate_is_its_own_message(rate: int) -> None:
    other = 88200
    report = audit.run(at_rate_path(rate), signal=standard(other))
    assert report.status == "error" and not report.unreadable and not report.internal
    assert f"sample rate {other} Hz differs from the model's {rate} Hz" in report.error
    assert "give a WAV at" in report.error and "\n" not in report.error
    assert "unreadable" not in format_table(report)


_TMP: list[Path] = []


@pytest.fixture(autouse=True)
def _tmp(tmp_path: Path) -> None:
    _TMP[:] = [tmp_path]


def at_rate_path(rate: Any) -> Path:
    path = _TMP[0] / f"m_{rate}.nam"
    write_nam(at_rate(builtin_doc(), rate), path)
    return path


@pytest.mark.parametrize(("rate", "file_value", "words"), [
    ("absent", None, "no sample_rate in the file"),
    (-1, -1.0, "sample_rate -1 in the file (the runtime's 'unknown')"),
    (0, 0.0, "sample_rate 0 in the file (the runtime's 'unknown')"),
])
def test_unknown_rates_play_at_the_signals_rate(rate: Any, file_value: Any,
                                                words: str) -> None:
    twin = level(audit.audit_loaded(read_nam(builtin_doc()), standard(), Options()))
    report = audit.audit_loaded(read_nam(at_rate(builtin_doc(), rate)), standard(),
                                Options())
    assert report.error is None and level(report)["loudness_db"] == twin["loudness_db"]
    rates = report.sample_rates
    assert rates is not None and rates["measured_as"] == "signal_rate"
    assert rates["model"] is None and rates["file_value"] == file_value
    assert any(w.startswith(words) for w in report.warnings), report.warnings


def test_render_refuses_a_wav_at_another_rate_in_one_line(tmp_path: Path,
                                                          capsys: Any) -> None:
    wav = tmp_path / "in.wav"
    sf.write(str(wav), default_signal(), 48000, subtype="FLOAT")
    code = main(["render", str(at_rate_path(96000)), str(wav), str(tmp_path / "o.wav")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "o.wav").exists()
    assert "sample rate 48000 Hz differs from the model's 96000 Hz" in err
    assert len(err.strip().splitlines()) == 1 and "unreadable" not in err


def test_inspect_shows_the_rate_as_the_runtime_holds_it(capsys: Any) -> None:
    assert main(["inspect", "--json", str(at_rate_path(-1))]) == 0
    info = json.loads(capsys.readouterr().out)[0]
    assert info["sample_rate"] is None and info["expected_sample_rate"] == -1.0


def test_json_report_carries_sample_rates(tmp_path: Path, capsys: Any) -> None:
    wav = tmp_path / "s.wav"
    sf.write(str(wav), default_signal(), 48000, subtype="FLOAT")
    out = tmp_path / "r.json"
    main(["audit", str(at_rate_path(88200)), "--signal", str(wav), "--standard-input",
          "--json", str(out)])
    entry = json.loads(out.read_text())["models"][0]
    assert entry["status"] != "error"
    assert entry["sample_rates"]["measured_as"] == "nam_exporter"
    assert entry["sample_rates"]["model"] == 88200.0


# ----------------------------------------------------------- ../shared/cases/sample_rate
@needs_cases
@pytest.mark.parametrize("name", ["sr_44100", "sr_96000"])
def test_cases_other_rates_audit_and_stamp_on_48k(name: str, tmp_path: Path) -> None:
    signal = Signal.from_wav(CASES / "in_48000.wav", treat_as_standard=True)
    twin = read_nam(CASES / "sr_48000.0.nam")
    expected = level(audit.audit_loaded(twin, signal, Options()))
    report = audit.audit_model(CASES / f"{name}.nam", signal, Options())
    assert report.error is None
    assert level(report)["loudness_db"] == expected["loudness_db"]
    assert report.sample_rates["measured_as"] == "nam_exporter"
    stamped = stamp.run(CASES / f"{name}.nam", tmp_path / "o.nam", signal=signal)
    assert stamped.status == "passed"
    assert read_nam(tmp_path / "o.nam").loudness == expected["loudness_db"]


@needs_cases
def test_cases_signal_at_the_models_own_rate_needs_no_note() -> None:
    report = audit.audit_model(CASES / "sr_44100.nam",
                               Signal.from_wav(CASES / "in_44100.wav"), Options())
    assert report.error is None and report.sample_rates is None


@needs_cases
def test_cases_mismatch_is_its_own_message(capsys: Any) -> None:
    code = main(["audit", str(CASES / "sr_96000.nam"), "--signal",
                 str(CASES / "in_44100.wav")])
    out = capsys.readouterr()
    assert code == 2
    assert "in_44100.wav: sample rate 44100 Hz differs from the model's 96000 Hz" in out.err
    assert "unreadable" not in out.out + out.err


# ----------------------------------------------------------- upstream's exporter (oracle)
def test_upstream_exporters_loudness_of_a_96k_model_passes(tmp_path: Path) -> None:
    """The value upstream's exporter computes for a 96 kHz model (its `_metadata_loudness`
    on its own standard input) is what namcheck's audit accepts."""
    pytest.importorskip("nam", reason="the 'upstream' extra (neural-amp-modeler) is absent")
    from nam.models import init_from_nam

    from namcheck.signals.standard_input import find_standard_input

    found = find_standard_input()
    if found is None:
        pytest.skip("neural-amp-modeler has no loudness_input.wav")
    doc = at_rate(builtin_doc(), 96000)
    net = init_from_nam(json.loads(json.dumps(doc))).eval()
    doc["metadata"]["loudness"] = float(net._metadata_loudness())
    report = audit.audit_loaded(read_nam(doc), Signal.from_wav(found), Options())
    check = {c.name: c for c in report.checks}["metadata_loudness"]
    assert check.passed is True, check.detail
    assert np.isfinite(check.measured)


def test_every_documented_rate_row_names_a_test_here() -> None:
    """docs/runtime_reading.md's rows that cite this module name tests that exist."""
    import re

    text = (ROOT / "docs" / "runtime_reading.md").read_text()
    named = set(re.findall(r"`test_sample_rates::(\w+)`", text))
    assert len(named) >= 8
    assert named - set(globals()) == set()
