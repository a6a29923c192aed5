"""What NAM users ask for (issue 21): LUFS beside NAM's RMS loudness, a level meter for
plain audio, the model's content hash and duplicates, the calibration audit with the gain
NeuralAmpModelerPlugin applies in each output mode."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import NAMCORE, needs_fixtures
from namcheck.harness import calibration as cal
from namcheck.harness.audit import audit_files, corpus_summary
from namcheck.harness.core import Options, Signal
from namcheck.harness.report import json_document
from namcheck.harness.schema import Report, run_context
from namcheck.models import read_nam, write_nam
from namcheck.models.examples import builtin_doc, container_doc, lstm_doc
from namcheck.models.format import parse_nam
from namcheck.models.identity import content_hash
from namcheck.signals import lufs, meter, meter_file, rms

RATE = 48000
# ITU-R BS.1770-4: a 0 dBFS 997 Hz sine on one channel reads -3.01 LKFS; the conformance
# tests of ITU-R BS.2217 accept +-0.1 LU.
SINE_FULL_SCALE_LUFS = -3.01
BS2217_TOL = 0.1


def sine(amplitude: float, seconds: float = 3.0, freq: float = 997.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * freq * t)


# ------------------------------------------------------------------ level meter, LUFS
@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.01])
def test_lufs_of_a_997_hz_sine_is_the_standards_value(amplitude: float) -> None:
    want = SINE_FULL_SCALE_LUFS + 20 * math.log10(amplitude)
    got = lufs(sine(amplitude), RATE)
    assert got is not None and abs(got - want) <= BS2217_TOL


def test_rms_of_plain_numpy_and_lists() -> None:
    assert rms(np.ones(10)) == 1.0
    assert rms([3.0, -4.0]) == pytest.approx(math.sqrt(12.5), rel=1e-15)
    with pytest.raises(ValueError):
        rms(np.array([]))


def test_meter_of_a_sine_and_of_silence(tmp_path: Path) -> None:
    x = sine(0.5)
    got = meter(x, RATE)
    assert got.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=1e-3)  # peak on a sample
    # RMS of a sine is amplitude / sqrt(2): -3.0103 dB below its peak
    assert got.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=1e-4)
    assert got.nam_loudness_db == got.rms_dbfs
    assert got.lufs_minus_rms_db is not None and abs(got.lufs_minus_rms_db) <= BS2217_TOL
    path = tmp_path / "x.wav"
    sf.write(str(path), x, RATE, subtype="FLOAT")
    assert meter_file(path).lufs == pytest.approx(got.lufs, abs=1e-4)  # float32 file
    silent = meter(np.zeros(RATE), RATE)
    assert silent.rms_dbfs == -math.inf and silent.lufs == -math.inf
    assert silent.lufs_minus_rms_db is None
    assert lufs(np.ones(100), RATE) is None  # shorter than one 400 ms block


# ------------------------------------------------------------------ content hash
def test_content_hash_ignores_metadata_formatting_and_version() -> None:
    doc = builtin_doc()
    base = content_hash(parse_nam(doc))
    other = json.loads(json.dumps(doc))
    other["metadata"] = {"loudness": -3.0, "gain": 0.5, "name": "renamed"}
    other["version"] = "0.5.4"
    other["notes"] = "ignored by the runtime"
    assert content_hash(parse_nam(other)) == base
    # a weight moved by less than float32 resolution is the same float32 the runtime holds
    nudged = json.loads(json.dumps(doc))
    w = nudged["weights"][3]
    nudged["weights"][3] = float(np.nextafter(w, np.inf)) if w else 1e-300
    assert np.float32(nudged["weights"][3]) == np.float32(w)
    assert content_hash(parse_nam(nudged)) == base


def test_content_hash_changes_with_what_plays() -> None:
    doc = builtin_doc()
    base = content_hash(parse_nam(doc))
    one_ulp = json.loads(json.dumps(doc))
    one_ulp["weights"][3] = float(np.nextafter(np.float32(doc["weights"][3]), np.float32(1)))
    assert content_hash(parse_nam(one_ulp)) != base
    rate = json.loads(json.dumps(doc))
    rate["sample_rate"] = 44100
    assert content_hash(parse_nam(rate)) != base


def test_container_hash_excludes_submodel_metadata() -> None:
    a = container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())])
    b = json.loads(json.dumps(a))
    b["config"]["submodels"][0]["model"]["metadata"] = {"loudness": -1.0}
    assert content_hash(parse_nam(a)) == content_hash(parse_nam(b))
    b["config"]["submodels"][0]["max_value"] = 0.25
    assert content_hash(parse_nam(a)) != content_hash(parse_nam(b))


def test_audit_reports_duplicates_lufs_and_hash(tmp_path: Path) -> None:
    first = builtin_doc()
    second = builtin_doc()
    second["metadata"] = {"loudness": -12.0, "name": "a copy"}
    write_nam(first, tmp_path / "a.nam")
    write_nam(second, tmp_path / "b.nam")
    write_nam(lstm_doc(), tmp_path / "c.nam")
    files = sorted(tmp_path.glob("*.nam"))
    signal = Signal.default()
    reports = audit_files(files, signal, Options())
    summary = corpus_summary(reports)
    assert [sorted(d["paths"]) for d in summary["duplicates"]] == [
        [str(files[0]), str(files[1])]]
    assert summary["duplicates"][0]["metadata_differs"] is True
    spread = summary["lufs_minus_rms_db"]
    assert spread["count"] == 3 and spread["min"]["value"] <= spread["median"] <= (
        spread["max"]["value"])
    doc = json_document(reports, "audit", signal, run_context("cpu", Options().dtype),
                        corpus=summary)
    Report.model_validate(doc)
    entry = doc["models"][0]
    assert entry["content_hash"] == content_hash(read_nam(files[0]))
    level = entry["levels"][0]
    # the LUFS is pyloudnorm's BS.1770-4 on the very output whose RMS is loudness_db
    assert level["lufs_minus_rms_db"] == pytest.approx(
        level["loudness_lufs"] - level["loudness_db"], abs=1e-12)
    assert math.isfinite(level["loudness_lufs"])


# ------------------------------------------------------------------ calibration
def test_plugin_gains_by_hand() -> None:
    doc = builtin_doc()
    doc["metadata"] = {"loudness": -30.0, "input_level_dbu": 18.3, "output_level_dbu": 12.3}
    got = cal.calibration(parse_nam(doc))
    # NeuralAmpModeler.cpp _SetOutputGain: normalized -18 - (-30) = 12; calibrated
    # output_level 12.3 - interface 12 (default) = 0.3; _SetInputGain: 12 - 18.3 = -6.3.
    assert got["output_gain_db"] == {"raw": 0.0, "normalized": 12.0,
                                     "calibrated": pytest.approx(0.3, abs=1e-12)}
    assert got["input_gain_db"] == pytest.approx(-6.3, abs=1e-12)
    assert got["input_level_status"] == got["output_level_status"] == "plausible"
    assert cal.calibration(parse_nam(doc), interface_dbu=24.0)["output_gain_db"][
        "calibrated"] == pytest.approx(-11.7, abs=1e-12)


def test_calibration_verdicts_and_absent_fields() -> None:
    assert cal.field_status(None) == ("missing", None)
    assert cal.field_status(True)[0] == "wrong_type"
    assert cal.field_status("12")[0] == "wrong_type"
    assert cal.field_status(95.0) == ("implausible", 95.0)
    assert cal.field_status(-40.0)[0] == "implausible"
    assert cal.field_status(4)[0] == "plausible"
    nothing = cal.calibration(parse_nam(builtin_doc()))
    assert nothing["output_gain_db"] == {"raw": 0.0, "normalized": 0.0, "calibrated": 0.0}
    assert nothing["input_gain_db"] == 0.0
    doc = builtin_doc()
    doc["metadata"] = {"output_level_dbu": 95.0}
    got = cal.calibration(parse_nam(doc))
    assert got["output_level_status"] == "implausible"
    assert "outside the plausible" in cal.calibration_warnings(got)[0]


def test_calibration_in_audit_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """audit's text shows the calibration audit too (one line per file), not only --json:
    each stored level with its verdict, and the gains (by hand: NeuralAmpModeler.cpp's, as
    in test_plugin_gains_by_hand)."""
    from namcheck.harness.cli import main

    doc = builtin_doc()
    doc["metadata"] = {"loudness": -30.0, "input_level_dbu": 95.0, "output_level_dbu": 12.3}
    write_nam(doc, tmp_path / "m.nam")
    main(["audit", str(tmp_path / "m.nam"), "--builtin-signal", "--no-gain"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "calibration:" in ln]
    assert lines == ["   calibration: input_level_dbu 95.0 (implausible), output_level_dbu "
                     "12.3 (plausible); plugin gain at a 12 dBu interface: input -83.00 dB "
                     "(calibrate input), output +12.00 dB normalized, +0.30 dB calibrated, "
                     "+0.00 dB raw"], lines


@needs_fixtures
def test_fixture_calibration_in_audit_json() -> None:
    path = NAMCORE / "lstm.nam"
    signal = Signal.choose(None, builtin=True)
    report = audit_files([path], signal, Options())[0]
    got = report.calibration
    assert got is not None
    # lstm.nam stores loudness -37.8406867980957, input 18.3 dBu, output 12.3 dBu
    assert got["output_gain_db"]["normalized"] == pytest.approx(-18 + 37.8406867980957,
                                                                abs=1e-12)
    assert got["output_gain_db"]["calibrated"] == pytest.approx(0.3, abs=1e-12)
    assert got["input_gain_db"] == pytest.approx(-6.3, abs=1e-12)
    assert report.levels[0]["loudness_lufs"] is not None


# ------------------------------------------------------------------ stamp --check
def test_stamp_check_exits_1_then_0_after_stamp(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from namcheck.harness.cli import main
    from namcheck.signals.generate import default_signal

    signal = tmp_path / "standard.wav"
    sf.write(str(signal), default_signal(), RATE, subtype="FLOAT")
    folder = tmp_path / "in"
    folder.mkdir()
    write_nam(builtin_doc(), folder / "missing.nam")
    write_nam(lstm_doc(), folder / "also_missing.nam")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    args = ["--signal", str(signal), "--standard-input"]
    assert main(["stamp", str(folder), "--check", *args]) == 1
    out = capsys.readouterr().out
    assert f"would change {folder / 'missing.nam'}: metadata.loudness: (missing) ->" in out
    assert "stamp --check: 2 of 2 files would change" in out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written
    report = tmp_path / "check.json"  # the JSON says what the exit code says
    assert main(["stamp", str(folder), "--check", *args, "--json", str(report)]) == 1
    models = json.loads(report.read_text())["models"]
    assert {m["status"] for m in models} == {"failed"}
    assert all(c["reason"]["code"] == "would_change" for m in models for c in m["checks"]
               if c["name"] == "metadata_current")
    capsys.readouterr()
    assert main(["stamp", str(folder), "--in-place", *args]) == 0
    capsys.readouterr()
    assert main(["stamp", str(folder), "--check", *args]) == 0
    assert "stamp --check: 0 of 2 files would change" in capsys.readouterr().out
    assert main(["stamp", str(folder), "--check", "--in-place", *args]) == 2


# ------------------------------------------------------------------ cited docs ship
def test_every_doc_a_message_cites_is_in_the_repository() -> None:
    import re

    root = Path(__file__).resolve().parent.parent
    cited = set()
    for source in (root / "harness").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        cited |= set(re.findall(r"docs/([a-z_]+\.md)", text))
        for line in text.splitlines():  # user-facing strings cite docs the user has
            stripped = line.strip()
            if stripped.startswith(('"', 'f"')) and "NAM_FORMAT §" in stripped:
                pytest.fail(f"{source.name}: cites NAM_FORMAT, a file users do not have: "
                            f"{stripped}")
    assert {"nam_format_notes.md", "calibration.md"} <= cited
    for name in cited:
        assert (root / "docs" / name).is_file(), name


# ------------------------------------------------------------------ ergonomics (issue 21 §6)
def _subparsers() -> dict[str, object]:
    import argparse

    from namcheck.harness.cli import build_parser

    parser = build_parser()
    return next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)).choices


def test_every_option_has_help_without_source_paths() -> None:
    import argparse

    for name, sub in _subparsers().items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = action.help or ""
            assert text.strip(), f"{name} {action.option_strings or action.dest}: no help"
            assert ".py" not in text, f"{name} {action.option_strings}: a source path"
        for group in sub._action_groups:
            assert ".py" not in (group.title or ""), f"{name}: {group.title}"


def test_options_that_do_not_apply_are_not_offered() -> None:
    subs = _subparsers()
    flags = {name: {s for a in sub._actions for s in a.option_strings}
             for name, sub in subs.items()}
    assert "--no-gain" not in flags["plot"] and "--fail-above-db" not in flags["plot"]
    assert "--no-gain" not in flags["compare"]
    assert "--slim" not in flags["audit"] and "--slim" not in flags["scale"]
    assert "--no-gain" in flags["verify"] and "--check" in flags["stamp"]


def test_a_mistyped_option_suggests_the_right_one(capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    from namcheck.harness.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["verify", "--sigal", "x.wav"])
    assert exc.value.code == 2
    assert "did you mean --signal?" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one flag, with its value: no "--scale for --scael"
        main(["verify", "m.nam", "--scael", "0.5"])
    err = capsys.readouterr().err  # the command's name and help, as for its other errors
    assert err.startswith("namcheck verify: unrecognized arguments: --scael 0.5; did you mean "
                          "--scale? (see namcheck verify --help)")
    # a typo in a required option is said as a typo, not as the option missing
    with pytest.raises(SystemExit) as exc:
        main(["scale", "m.nam", "--bye", "0.5", "-o", "o.nam"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == ("namcheck scale: unrecognized arguments: --bye; did you "
                                       "mean --by? (see namcheck scale --help)\n")
    with pytest.raises(SystemExit):  # really missing: said so
        main(["scale", "m.nam", "-o", "o.nam"])
    assert "the following arguments are required: --by" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plot", "shift", "x.nam", "--no-gain"])
    assert "this command has no such option" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # inspect's --json is a switch: '-' is not its value
        main(["inspect", "x.nam", "--json", "-"])
    err = capsys.readouterr().err
    assert "'-' is not an argument" in err and "inspect --json prints to stdout" in err


def test_verify_summary_line_and_slim_on_a_plain_model(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    from namcheck.harness.cli import main

    assert main(["verify", "--builtin-signal", "--slim", "0.5", "--scale", "2"]) == 0
    out = capsys.readouterr().out
    assert "scales 2, slim 0.5" in out.splitlines()[0]
    assert "--slim 0.5 has no effect: this WaveNet is not slimmable" in out
    assert out.rstrip().splitlines()[-1] == (
        "verify: 1 file: 1 passed, 0 not_verified, 0 failed, 0 error")


def test_slim_description_names_the_submodel() -> None:
    from namcheck.models.slimming import slim_description

    model = parse_nam(container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())]))
    assert slim_description(model, 0.2) == (
        f"slim 0.2 plays submodel 0 of 2 (max_value 0.5, LSTM, "
        f"{model.submodels[0].model.parameter_count} weights)")
    assert slim_description(model, 0.5).startswith("slim 0.5 plays submodel 1 of 2")
    assert slim_description(model, None) is None


def test_numpy_float32_in_gives_float32_out() -> None:
    from namcheck.models.engines import load_engine
    from namcheck.models.examples import builtin_model

    for engine in ("reference", "auto"):
        net, _ = load_engine(builtin_model(), engine)
        assert net(np.zeros(64, dtype=np.float32)).dtype == np.float32
        assert net(np.zeros(64)).dtype == np.float64


def test_resumed_and_interrupted_audit_say_what_they_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from namcheck.harness import audit
    from namcheck.harness.cli import main

    renamed = builtin_doc()
    renamed["metadata"] = {"name": "other bytes, same model"}
    for i, doc in enumerate((builtin_doc(), lstm_doc(), renamed)):
        write_nam(doc, tmp_path / f"m{i}.nam")
    results = tmp_path / "r.jsonl"
    base = ["audit", str(tmp_path / "m0.nam"), "--builtin-signal", "--results", str(results)]
    assert main(base) == 3  # no stored metadata: not verified
    capsys.readouterr()
    assert main(base) == 3
    assert "1 of 1 results reused, 0 to audit" in capsys.readouterr().out

    real = audit.audit_files

    def interrupted(files: list[Path], *args: object, **kwargs: object) -> list[object]:
        real(files[1:2], *args, **kwargs)  # one new result saved, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(audit, "audit_files", interrupted)
    every = ["audit", str(tmp_path), "--builtin-signal", "--results", str(results)]
    assert main(every) == 130
    captured = capsys.readouterr()
    assert "1 of 3 results reused" in captured.out
    assert ("interrupted: 1 new results saved in " + str(results) + " (2 of 3 done); "
            "resume with: namcheck " + " ".join(every)) in captured.err
