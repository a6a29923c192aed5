"""`namcheck verify / scale / audit` through the CLI, and the pytest plugin via pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.models import read_nam, write_nam
from namcheck.models.examples import builtin_doc, lstm_doc, wavenet_doc
from namcheck.signals.generate import default_signal

pytest_plugins = ["pytester"]


def headed_doc() -> dict:
    layers = [{"input_size": 1, "condition_size": 1, "channels": 2, "kernel_size": 2,
               "dilations": [1], "activation": "Tanh",
               "head": {"out_channels": 2, "kernel_size": 1, "bias": True}}]
    return wavenet_doc(layers, seed=1, head={"channels": 2, "out_channels": 1,
                                             "kernel_sizes": [1], "activation": "Tanh"})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"good": tmp_path / "good.nam", "headed": tmp_path / "headed.nam",
             "bad": tmp_path / "bad.nam"}
    good = builtin_doc()
    good["metadata"] = {"loudness": -20.0, "gain": 0.5}
    write_nam(good, paths["good"])
    write_nam(headed_doc(), paths["headed"])
    paths["bad"].write_text("{}")
    return paths


def test_verify_builtin_passes_with_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["verify", "--no-gain", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["status"] == "passed" and len(doc["models"]) == 1
    model = doc["models"][0]
    assert set(model) >= {"path", "architecture", "checks", "status", "counts"}
    assert {"name", "scale", "status", "reason", "measured", "expected", "error", "tolerance",
            "unit"} <= set(model["checks"][0])


def test_verify_exit_codes(files: dict[str, Path]) -> None:
    builtin = ["--builtin-signal", "--no-gain"]
    assert main(["verify", str(files["good"]), *builtin, "--scale", "0.25"]) == 0
    assert main(["verify", str(files["headed"]), *builtin]) == 1  # closed form fails
    assert main(["verify", str(files["bad"])]) == 2
    assert main(["verify", str(files["good"]), "--scale", "0"]) == 2
    assert main(["verify", str(files["good"]), "--scale", "nan"]) == 2


def test_scale_writes_atomically_and_verifies(files: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scaled.nam"
    assert main(["scale", str(files["good"]), "--by", "0.5", "-o", str(out), "--no-gain",
                 "--builtin-signal"]) == 0
    scaled, original = read_nam(out), read_nam(files["good"])
    assert scaled.head_scale == pytest.approx(0.5 * original.head_scale)
    assert scaled.loudness == pytest.approx(-20.0 - 6.020599913279624)
    text = capsys.readouterr().out
    assert "passed" in text
    # the table's unlabelled rows are the source's (its stored -20 dB); the [s=0.5] rows are
    # the file written: the header names the source, not the output
    assert f"== {files['good']} (" in text and f"== {out} (" not in text
    assert f"scaled ([s=0.5]: what {out} holds)" in text


def test_scale_says_when_the_files_own_loudness_is_what_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every scaling check holds, but the stored loudness was wrong before scaling: nothing
    is written, and the message says so and points to stamp, not at the scaling."""
    doc = builtin_doc()
    doc["metadata"] = {"loudness": 3.0}  # the built-in plays about -39 dB
    src, out = tmp_path / "wrong.nam", tmp_path / "o.nam"
    write_nam(doc, src)
    assert main(["scale", str(src), "--by", "2", "-o", str(out), "--no-gain"]) == 1
    err = capsys.readouterr().err
    assert "the file's metadata.loudness is not what it plays (stored 3.00 dB, measured -39." \
        in err and "`namcheck stamp` stores the measured value" in err
    assert not out.exists()


def test_scale_refusal_names_the_failed_scaling_not_the_stored_loudness(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scale that makes head_scale a float32 subnormal fails the scaled checks, the scaled
    metadata_loudness among them; the file's own stored loudness holds. The message names
    the scaled checks and their cause, not the stored loudness and stamp."""
    src, out, wav = tmp_path / "m.nam", tmp_path / "tiny.nam", tmp_path / "standard.wav"
    sf.write(str(wav), default_signal(), 48000, subtype="FLOAT")
    signal = ["--signal", str(wav), "--standard-input", "--no-gain"]
    write_nam(builtin_doc(), src)
    assert main(["stamp", str(src), "--in-place", *signal]) == 0  # a true stored loudness
    capsys.readouterr()
    assert main(["scale", str(src), "--by", "1e-40", "-o", str(out), *signal]) == 1
    err = capsys.readouterr().err
    assert "is not what it plays" not in err and "namcheck stamp" not in err, err
    assert "the scaled model failed verification (float32_range[s=1e-40]" in err, err
    assert "is a float32 subnormal" in err, err
    assert not out.exists()


def test_scale_refusals_write_nothing(files: dict[str, Path], tmp_path: Path) -> None:
    before = files["good"].read_bytes()
    assert main(["scale", str(files["good"]), "--by", "-1", "-o", str(tmp_path / "o.nam")]) == 2
    assert main(["scale", str(files["headed"]), "--by", "2", "-o", str(tmp_path / "o.nam")]) == 2
    assert main(["scale", str(files["good"]), "--by", "2", "-o", str(files["good"])]) == 2
    assert not (tmp_path / "o.nam").exists() and files["good"].read_bytes() == before


def test_audit_reports_bad_file_and_continues(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    code = main(["audit", str(tmp_path), "--json", str(out), "--no-gain", "--builtin-signal"])
    doc = json.loads(out.read_text())
    by_name = {Path(m["path"]).name: m for m in doc["models"]}
    assert code == 2  # the bad file is an error entry: bad input is the worst outcome
    assert set(by_name) == {"good.nam", "headed.nam", "bad.nam"}
    assert by_name["bad.nam"]["status"] == "error" and "required key" in by_name["bad.nam"]["error"]
    # On the built-in signal no stored claim can be compared: nothing verified, no pass.
    assert by_name["good.nam"]["status"] == "not_verified"
    assert main(["audit", str(tmp_path / "nothing-here")]) == 2


def test_pytest_plugin_fixture(pytester: pytest.Pytester, files: dict[str, Path]) -> None:
    pytester.makepyfile(f"""
        def test_good(namcheck_verify):
            report = namcheck_verify({str(files['good'])!r}, scales=[0.5])
            assert report.passed

        def test_headed(namcheck_verify):
            namcheck_verify({str(files['headed'])!r}, scales=[2.0])
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--namcheck-no-gain",
                                           "--namcheck-builtin-signal")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*closed form does not hold*"])


def _summary(result: pytest.RunResult) -> list[str]:
    """The short test summary's lines (run with a wide terminal: `wide`)."""
    return result.stdout.str().split("short test summary info")[1].splitlines()[1:]


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for pytest's short summary to show the reason."""
    monkeypatch.setenv("COLUMNS", "200")


def test_pytest_fixture_bad_input_is_one_line(pytester: pytest.Pytester, wide: None) -> None:
    """A missing file or a folder through the fixture fails the test with one line naming
    it, as a collected bad file does: no traceback into namcheck (read_nam, verify.py)."""
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "bad.nam").write_text("{}")
    pytester.makepyfile(test_f="""
        def test_missing(namcheck_verify):
            namcheck_verify("models/nope.nam", scales=[0.5])

        def test_folder(namcheck_verify):
            namcheck_verify("models")
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", "--namcheck",
                                           "--namcheck-scale", "0.5", "models", "test_f.py")
    result.assert_outcomes(failed=3)
    failures = result.stdout.str().split("short test summary")[0]
    assert "Traceback" not in failures and "def " not in failures and "io.py" not in failures
    result.stdout.fnmatch_lines(["namcheck: error: *bad.nam: version: required key is missing",
                                 "namcheck: error: models/nope.nam: no such file",
                                 "namcheck: error: models: is a directory*"])
    summary = _summary(result)
    assert any(x.startswith("FAILED test_f.py::test_missing - namcheck: error: "
                            "models/nope.nam: no such file") for x in summary)


def test_pytest_fixture_skips_a_model_with_nothing_to_verify(pytester: pytest.Pytester
                                                            ) -> None:
    """As the README promises (and as --namcheck does): skipped with the reason, never
    passed, never failed."""
    doc = lstm_doc()
    doc.pop("metadata", None)
    write_nam(doc, pytester.path / "lstm.nam")
    pytester.makepyfile("""
        def test_lstm(namcheck_verify):
            namcheck_verify("lstm.nam", scales=[0.5])
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs",
                                           "--namcheck-builtin-signal")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*test_pytest_fixture_skips*.py:1: namcheck: not "
                                 "verified: s=0.5: the reference hook does not apply"])


def test_pytest_fixture_summary_starts_with_the_reason(pytester: pytest.Pytester,
                                                       wide: None) -> None:
    """`-r` shows 'namcheck: failed: <checks>', not the exception's class path."""
    doc = builtin_doc()
    doc["metadata"] = {"loudness": 3.0}  # the built-in plays about -39 dB
    write_nam(doc, pytester.path / "amp.nam")
    pytester.makepyfile(test_f="""
        def test_amp_loud(namcheck_verify):
            namcheck_verify("amp.nam", scales=[0.5])
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", "--namcheck-no-gain")
    result.assert_outcomes(failed=1)
    line = next(x for x in _summary(result) if x.startswith("FAILED"))
    assert line.startswith("FAILED test_f.py::test_amp_loud - namcheck: failed: "
                           "metadata_loudness"), line
    failures = result.stdout.str().split("short test summary")[0]
    assert "FAIL  metadata_loudness " in failures and "Traceback" not in failures
    assert "pytest_plugin.py" not in failures


def test_pytest_collects_nam_files(pytester: pytest.Pytester) -> None:
    """Collection hooks: node IDs per scale, -k, node-ID selection, ini xfail, the check
    table on failure, a skip (never a pass) for a model with nothing to verify."""
    from namcheck.models.examples import lstm_doc

    models = pytester.path / "models"
    models.mkdir()
    write_nam(builtin_doc(), models / "amp.nam")
    write_nam(headed_doc(), models / "headed.nam")
    write_nam(headed_doc(), models / "known.nam")
    write_nam(lstm_doc(), models / "lstm.nam")
    pytester.makeini("""
        [pytest]
        namcheck_xfail =
            models/known.nam: a post-stack head: the closed form does not hold
        """)
    common = ["-p", "no:cacheprovider", "--namcheck", "--namcheck-no-gain",
              "--namcheck-builtin-signal"]
    result = pytester.runpytest_subprocess(*common, "models", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["models/amp.nam::verify[[]s=0.5[]]",
                                 "models/amp.nam::verify[[]s=2[]]",
                                 "models/lstm.nam::verify[[]s=2[]]", "8 tests collected*"])
    result = pytester.runpytest_subprocess(*common, "models", "-k", "amp and 0.5",
                                           "--collect-only", "-q")
    result.stdout.fnmatch_lines(["models/amp.nam::verify[[]s=0.5[]]",
                                 "1/8 tests collected (7 deselected)*"])
    result = pytester.runpytest_subprocess(*common, "models/amp.nam::verify[s=2]")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess(*common, "models", "-rsx")
    result.assert_outcomes(passed=2, failed=2, skipped=2, xfailed=2)
    result.stdout.fnmatch_lines(["*FAIL  linearity[[]s=0.5[]]*", "*closed form does not hold*",
                                 "*-> failed*",
                                 "SKIPPED*models/lstm.nam*not verified*hook does not apply*",
                                 "XFAIL*known.nam*closed form does not hold*"])
    failures = result.stdout.str().split("short test summary")[0]
    assert "pytest_plugin.py" not in failures and "Traceback" not in failures
    # the ini way to list models (no --namcheck needed)
    pytester.makeini("""
        [pytest]
        namcheck_models = models/a*.nam
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--namcheck-no-gain",
                                           "--namcheck-builtin-signal")
    result.assert_outcomes(passed=2)


def test_bench_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Speed is not asserted (benchmarks/ measure it); the command must run and report."""
    assert main(["bench", "--seconds", "0.1", "--repeats", "1", "--block", "256"]) == 0
    out = capsys.readouterr().out
    assert "namcheck fast" in out and "namcheck reference" in out and "FMA peak" in out
    assert "namcheck fast (C host)" in out  # the kernel called per block from C
    assert main(["bench", "--threads", "0"]) == 2


def test_bench_times_a_condition_dsp_model_from_c(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A WaveNet with a condition DSP gets the C-host row too: per block the DSP's kernel,
    then the WaveNet's, both called from C (equality with the offline forward:
    tests/test_fast_wavenet_options.py)."""
    layer = {"input_size": 1, "condition_size": 1, "channels": 3, "kernel_size": 3,
             "dilations": [1, 2], "activation": "Tanh",
             "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}
    doc = wavenet_doc([layer], seed=3)
    doc["config"]["condition_dsp"] = lstm_doc(hidden=3, seed=4)
    path = tmp_path / "dsp.nam"
    write_nam(doc, path)
    assert main(["bench", str(path), "--seconds", "0.1", "--repeats", "1", "--block", "64"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("namcheck fast (C host)")]
    assert len(rows) == 1 and "kernel calls (the condition DSP, then the WaveNet)" in rows[0]


def test_bench_times_core_beside_ours(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """--core runs the program on the same file and reads the milliseconds it prints (a
    stand-in here prints NeuralAmpModelerCore benchmodel's lines); a failing one is a row
    saying why, not a traceback."""
    fake = tmp_path / "benchmodel"
    fake.write_text('#!/bin/sh\ntest -f "$1" || exit 3\necho "Running benchmark"\n'
                    'echo "Finished"\necho "200ms"\necho "200.5ms"\n')
    fake.chmod(0o755)
    args = ["bench", "--seconds", "0.1", "--repeats", "1", "--block", "256"]
    assert main([*args, "--core", str(fake)]) == 0
    out = capsys.readouterr().out
    core = next(line for line in out.splitlines() if line.startswith("NeuralAmpModelerCore"))
    assert "9.98x" in core  # 96,000 samples at 48 kHz in 0.2005 s
    assert "of Core" in out
    fake.write_text("#!/bin/sh\necho 'Failed to load model' >&2\nexit 1\n")
    assert main([*args, "--core", str(fake)]) == 0
    out = capsys.readouterr().out
    assert "benchmodel failed: Failed to load model" in out
    assert main([*args, "--core", str(tmp_path / "none")]) == 2


def test_bench_leaves_no_temporary_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The built-in model goes to benchmodel as a file already unlinked (read through
    /proc/PID/fd/N while bench holds it open), so a SIGTERM leaves nothing behind: a new
    user's trial found /tmp/namcheck-bench-*.nam after `bench --core` was killed. The
    program still reads the whole model."""
    import sys
    import tempfile

    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only: elsewhere the file is removed at exit")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    copy = tmp_path / "seen.nam"
    fake = tmp_path / "benchmodel"
    fake.write_text(f'#!/bin/sh\ncat "$1" > {copy}\nls {temp} | wc -l >> {copy}.n\n'
                    'echo "Finished"\necho "200ms"\n')
    fake.chmod(0o755)
    assert main(["bench", "--seconds", "0.05", "--repeats", "1", "--block", "256",
                 "--core", str(fake)]) == 0
    capsys.readouterr()
    assert read_nam(copy).config == read_nam(builtin_doc()).config
    assert set((tmp_path / "seen.nam.n").read_text().split()) == {"0"}  # while it ran
    assert list(temp.iterdir()) == []


def test_bench_gives_core_the_same_submodel(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """benchmodel gets --slim where the model is slimmable (a container: the same submodel
    as ours, which its row names) and not where it is not (benchmodel refuses it there)."""
    from namcheck.models.examples import container_doc, lstm_doc

    log = tmp_path / "args"
    fake = tmp_path / "benchmodel"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "Finished"\necho "200ms"\n')
    fake.chmod(0o755)
    box = tmp_path / "box.nam"
    box.write_text(json.dumps(container_doc([(0.5, lstm_doc(3, seed=1)),
                                             (1.0, lstm_doc(4, seed=2))])))
    plain = tmp_path / "plain.nam"
    plain.write_text(json.dumps(lstm_doc(3, seed=1)))
    args = ["bench", "--seconds", "0.05", "--repeats", "1", "--block", "64", "--core",
            str(fake), "--slim", "0.2"]
    assert main([*args, str(box)]) == 0
    out = capsys.readouterr().out
    assert all(line.startswith(f"--slim 0.2 {box}") for line in log.read_text().splitlines())
    core = next(line for line in out.splitlines() if line.startswith("NeuralAmpModelerCore"))
    assert "submodel 0 of 2 (max_value 0.5; --slim 0.2)" in core  # 0-based, as everywhere
    log.unlink()
    assert main([*args, str(plain)]) == 0
    out = capsys.readouterr().out
    assert "streamed in" not in out and "offline / stream RTF over Core's" in out
    assert main([*args[:6], "32", *args[7:], str(plain)]) == 0
    fast = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("namcheck fast "))
    assert "(streamed in 32-sample blocks; Core in 64)" in fast  # not like for like
    assert all(line.strip() == str(plain) for line in log.read_text().splitlines())
