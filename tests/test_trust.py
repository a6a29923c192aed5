"""Verdicts that never lie (issue 16): a check without a finite number never passes; a
scale that leaves float32's range is named as the cause; `scale` writes nothing it could
not verify; a non-finite, silent or unrepresentably loud output fails the model; a
degenerate test signal is bad input. Each expected value is derived in the test from
float32's range and NAM's loudness definition, not taken from the code under test."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from namcheck.harness import checks as C
from namcheck.harness.cli import main
from namcheck.models import write_nam
from namcheck.models.examples import builtin_doc, linear_doc, lstm_doc
from namcheck.signals.generate import default_signal

FLT_MAX = float(np.finfo(np.float32).max)
FLT_TINY = float(np.finfo(np.float32).tiny)
# NAM's loudness: sqrt(mean(square(y))) in float32 over 48,000 samples, the squares summed in
# float32: representable while 48000 * mean square <= FLT_MAX.
NAM_LIMIT_DB = 10 * math.log10(FLT_MAX / 48000)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json", "-"])
    return code, json.loads(capsys.readouterr().out)


def checks_named(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for m in report["models"] for c in m["checks"] if c["name"] == name]


def put(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp_path / name
    write_nam(doc, path)
    return path


# --------------------------------------------------------------------------- item 1


@pytest.mark.parametrize("field", ["measured", "expected", "error", "tolerance"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_pass_on_a_non_finite_number_is_a_failure(field: str, value: float) -> None:
    numbers = {"measured": 1.0, "expected": 1.0, "error": 0.0, "tolerance": 1.0, field: value}
    check = C.CheckResult("x", True, detail="held", **numbers)  # type: ignore[arg-type]
    assert check.passed is False and check.reason == "no_finite_value"
    assert field in check.detail
    if field != "error":  # the shared constructor of measured-vs-claimed checks too
        made = C.result("x", numbers["measured"], numbers["expected"], numbers["tolerance"],
                        "")
        assert made.passed is False


def test_verify_tiny_scale_never_passes_the_shift(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """s = 1e-300: head_scale x s rounds to 0 in float32, the hooked output is silent and its
    loudness -inf: the shift check has no number and must fail (it printed PASS -inf)."""
    path = put(tmp_path, "m.nam", builtin_doc())
    code, report = run(["verify", str(path), "--scale", "1e-300", "--builtin-signal",
                        "--no-gain"], capsys)
    assert code == 1 and report["models"][0]["status"] == "failed"
    [shift] = checks_named(report, "loudness_shift")
    assert shift["status"] == "fail"
    for check in report["models"][0]["checks"]:  # JSON null stands for a non-finite number
        if check["status"] == "pass" and check["expected"] is not None:
            assert None not in (check["measured"], check["error"], check["tolerance"]), check


# --------------------------------------------------------------------------- item 2


@pytest.mark.parametrize("scale,reason,words", [
    # 0.02 x 1e-40 = 2e-42: below float32's smallest normal 1.18e-38, above 2**-150
    ("1e-40", "float32_underflow", "subnormal"),
    # 0.02 x 1e-300 = 2e-302 < 2**-150 = 7e-46: rounds to 0
    ("1e-300", "float32_underflow", "rounds to 0"),
    # 0.02 x 1e30 = 2e28 and the output's peak (< 1) x 1e30 fit float32, but the level
    # (the model's, below 0 dB, + 600 dB) is beyond the 338.5 dB NAM's float32 loudness states
    ("1e30", "float32_overflow", "NAM's float32 loudness"),
    # 0.02 x 1e40 = 2e38 < FLT_MAX; x 1e41 = 2e39 > FLT_MAX: inf in float32
    ("1e41", "float32_overflow", "beyond float32's max"),
])
def test_scale_out_of_float32_range_is_named(scale: str, reason: str, words: str,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    s = float(scale)
    head_scale = float(np.float32(0.02))
    written = head_scale * s
    assert (0 < written < FLT_TINY) == (words in ("subnormal", "rounds to 0"))
    assert (written > FLT_MAX) == (words == "beyond float32's max")
    path = put(tmp_path, "m.nam", builtin_doc())
    code, report = run(["verify", str(path), "--scale", scale, "--builtin-signal",
                        "--no-gain"], capsys)
    assert code == 1
    [in_range] = checks_named(report, "float32_range")
    assert in_range["status"] == "fail" and in_range["reason"]["code"] == reason
    assert words in in_range["reason"]["text"]
    failed = [c for c in report["models"][0]["checks"] if c["status"] == "fail"]
    for check in failed:  # every failure at this scale says float32 is the cause
        assert check["reason"]["code"] == reason, check
        assert "not linear in head_scale" not in check["reason"]["text"]


def test_scales_within_float32_have_no_range_finding(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    """1e-30 and 1e10: head_scale 2e-32 and 2e8 are normal float32 values, the output's
    peak (between 1e-3 and 1) times them stays normal, and the level (the model's, between
    -60 and 0 dB, + 200 dB) is below 338.5 dB: no range finding, and the claims hold."""
    path = put(tmp_path, "m.nam", builtin_doc())
    code, report = run(["verify", str(path), "--scale", "1e-30", "--scale", "1e10",
                        "--builtin-signal", "--no-gain"], capsys)
    assert code == 0, report
    assert not checks_named(report, "float32_range")


# --------------------------------------------------------------------------- item 3


def test_scale_writes_nothing_it_could_not_verify(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = put(tmp_path, "m.nam", builtin_doc())
    tiny = tmp_path / "tiny.nam"
    code = main(["scale", str(model), "--by", "1e-300", "-o", str(tiny), "--builtin-signal",
                 "--no-gain"])
    err = capsys.readouterr().err
    assert code == 1 and not tiny.exists()
    assert "not written" in err and "tiny.nam" in err
    half = tmp_path / "half.nam"
    assert main(["scale", str(model), "--by", "0.5", "-o", str(half), "--builtin-signal",
                 "--no-gain"]) == 0
    assert half.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "m.nam"] == ["half.nam"]


# --------------------------------------------------------------------------- item 6


def gain_model(level_db: float) -> dict[str, Any]:
    """A one-tap Linear y = w * x with w chosen so that the built-in signal's output level
    is `level_db`: w = 10**((level_db - L_x) / 20), L_x the signal's own level."""
    x = default_signal()
    level_x = 20 * math.log10(math.sqrt(float(np.mean(x * x))))
    doc = linear_doc(taps=1)
    doc["config"]["bias"] = False
    doc["weights"] = [10 ** ((level_db - level_x) / 20)]
    return doc


@pytest.mark.parametrize("level_db,status", [(NAM_LIMIT_DB - 10, "pass"),
                                             (NAM_LIMIT_DB + 10, "fail")])
def test_output_level_beyond_nam_float32_loudness_fails(level_db: float, status: str,
                                                        tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    path = put(tmp_path, "m.nam", gain_model(level_db))
    code, report = run(["verify", str(path), "--builtin-signal", "--no-gain"], capsys)
    [level] = checks_named(report, "output_level")
    assert level["status"] == status
    assert level["measured"] == pytest.approx(level_db, abs=1e-6)
    if status == "fail":
        assert code == 1 and level["reason"]["code"] == "level_beyond_float32"
    else:
        assert code == 3  # a Linear has no head_scale: nothing else to verify


def huge_wavenet() -> dict[str, Any]:
    """The issue's example: a WaveNet played with head_scale 1e30 (about +565 dB)."""
    doc = builtin_doc()
    doc["weights"][-1] = doc["config"]["head_scale"] = 1e30
    return doc


def infinite_lstm() -> dict[str, Any]:
    doc = lstm_doc()
    doc["weights"] = [w * 1e38 for w in doc["weights"]]
    return doc


def infinite_linear() -> dict[str, Any]:
    doc = linear_doc()
    doc["weights"] = [3e38] * len(doc["weights"])  # a sum of two taps is inf in float32
    return doc


def silent_linear() -> dict[str, Any]:
    doc = linear_doc()
    doc["weights"] = [0.0] * len(doc["weights"])
    return doc


@pytest.mark.parametrize("command", ["verify", "audit"])
@pytest.mark.parametrize("make,reasons", [
    (huge_wavenet, {"level_beyond_float32"}),
    (infinite_lstm, {"level_beyond_float32", "non_finite_output"}),
    (infinite_linear, {"non_finite_output"}),
    (silent_linear, {"silent_output"}),
], ids=["wavenet_1e30", "lstm_huge", "linear_inf", "linear_silent"])
def test_unmeasurable_output_fails_the_model(command: str, make: Any, reasons: set[str],
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = put(tmp_path, "m.nam", make())
    code, report = run([command, str(path), "--builtin-signal", "--no-gain"], capsys)
    assert code == 1 and report["models"][0]["status"] == "failed"
    [level] = checks_named(report, "output_level")
    assert level["status"] == "fail" and level["reason"]["code"] in reasons


def test_stamp_does_not_write_an_unrepresentable_level(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    signal = tmp_path / "signal.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="DOUBLE")
    path = put(tmp_path, "m.nam", gain_model(NAM_LIMIT_DB + 10))
    out = tmp_path / "out"
    code = main(["stamp", str(path), "-o", str(out), "--signal", str(signal),
                 "--standard-input", "--no-gain"])
    capsys.readouterr()
    assert code == 1 and not (out / "m.nam").exists()


# --------------------------------------------------------------------------- item 7


@pytest.mark.parametrize("value", [0.0, 0.25])
@pytest.mark.parametrize("command", ["verify", "audit", "compare"])
def test_degenerate_signal_is_bad_input(value: float, command: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "flat.wav"
    sf.write(str(wav), np.full(4800, value), 48000, subtype="FLOAT")
    model = put(tmp_path, "m.nam", builtin_doc())
    args = {"verify": ["verify", str(model)], "audit": ["audit", str(model)],
            "compare": ["compare", str(model), "--render", str(wav)]}[command]
    assert main([*args, "--signal", str(wav)]) == 2
    err = capsys.readouterr().err
    assert "flat.wav" in err and ("silent" if value == 0 else "constant") in err
    assert "Traceback" not in err


def test_degenerate_signal_refused_by_the_python_api(tmp_path: Path) -> None:
    from namcheck.harness import verify
    from namcheck.signals.wav import SignalError

    wav = tmp_path / "silent.wav"
    sf.write(str(wav), np.zeros(4800), 48000, subtype="FLOAT")
    with pytest.raises(SignalError, match=r"silent\.wav"):
        verify.run(builtin_doc(), signal=str(wav))


# --------------------------------------------------------------------------- item 9

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("args,words", [
    (["--namcheck-scale", "0"], "--namcheck-scale 0"),
    (["--namcheck-scale", "nan"], "--namcheck-scale nan"),
    (["--namcheck-fail-above-db", "-1"], "--namcheck-fail-above-db -1"),
    (["--namcheck-signal", "missing.wav"], "missing.wav"),
    (["--namcheck-signal", "silent.wav"], "silent.wav: the signal is silent"),
])
def test_plugin_refuses_what_the_cli_refuses(args: list[str], words: str,
                                             pytester: pytest.Pytester) -> None:
    write_nam(builtin_doc(), pytester.path / "m.nam")
    sf.write(str(pytester.path / "silent.wav"), np.zeros(4800), 48000, subtype="FLOAT")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--namcheck", "m.nam",
                                           *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert words in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_plugin_summary_line_names_the_failing_check(pytester: pytest.Pytester) -> None:
    write_nam(builtin_doc(), pytester.path / "m.nam")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--namcheck", "m.nam",
                                           "--namcheck-scale", "1e-40", "--namcheck-no-gain",
                                           "--namcheck-builtin-signal", "-rf")
    result.assert_outcomes(failed=1)
    summary = result.stdout.str().split("short test summary")[1]
    line = next(x for x in summary.splitlines() if x.startswith("FAILED"))
    assert "float32_range[s=1e-40]" in line and "==" not in line


# --------------------------------------------------------------------------- item 5


@pytest.mark.parametrize("writer,code", [("soundfile", 0), ("full_scale_32768", 0),
                                         ("floor_32768_quiet", 0), ("gain_1e-3", 1)])
def test_16_bit_render_allowance_follows_writers(writer: str, code: int, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A correct render written as PCM_16: by soundfile, by a writer rounding y x 32768, or
    by one truncating it (floor(32768 y), as libsndfile 1.2.2 does: a full step below, here
    on a quiet render, where a half-step allowance failed it) passes; a render 1e-3 too
    loud (33 steps at full scale) fails. The model plays near full scale (peak 0.95), where the
    writers' gain difference is largest. A Linear model, so that the forward's own float32
    bound (one stage: 8 eps, 0.03 step) does not hide the format's allowance."""
    x = default_signal()
    doc = linear_doc(taps=1)
    doc["config"]["bias"] = False
    doc["weights"] = [0.95 / float(np.max(np.abs(x)))]  # y = w x, peak 0.95
    model = put(tmp_path, "loud.nam", doc)
    signal = tmp_path / "in.wav"
    sf.write(str(signal), x, 48000, subtype="DOUBLE")
    y = np.float32(doc["weights"][0]) * np.asarray(x, dtype=np.float64)
    out = tmp_path / "render.wav"
    if writer == "soundfile":
        sf.write(str(out), y, 48000, subtype="PCM_16")
    elif writer == "full_scale_32768":
        sf.write(str(out), np.round(y * 32768).astype(np.int16), 48000, subtype="PCM_16")
    elif writer == "floor_32768_quiet":  # peak 0.07: the step, not the gain, dominates
        quiet = put(tmp_path, "quiet.nam", {**doc, "weights": [0.07 / float(np.max(np.abs(x)))]})
        yq = np.float32(0.07 / float(np.max(np.abs(x)))) * np.asarray(x, dtype=np.float64)
        sf.write(str(out), np.floor(yq * 32768).astype(np.int16), 48000, subtype="PCM_16")
        model = quiet
    else:
        sf.write(str(out), y * (1 + 1e-3), 48000, subtype="PCM_16")
    got = main(["compare", str(model), "--render", str(out), "--signal", str(signal)])
    assert got == code, capsys.readouterr().out


# --------------------------------------------------------------------------- item 10


def test_plot_compare_draws_what_compare_reports(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A faithful render shifted 10 samples late: compare aligns it and its output check
    passes (peak-relative difference ~1e-7); the figure must show the aligned difference,
    the same number, bound and verdict, and say the shift (it titled 1.2, unaligned)."""
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")
    import torch

    from namcheck.harness import plot
    from namcheck.harness.compare import compare_render
    from namcheck.harness.core import Options, Signal
    from namcheck.models import load, read_nam

    path = put(tmp_path, "m.nam", builtin_doc())
    x = default_signal()
    wav = tmp_path / "in.wav"
    sf.write(str(wav), x, 48000, subtype="DOUBLE")
    y = np.asarray(load(read_nam(path), dtype=torch.float64)(np.asarray(x, np.float64)))
    shifted = tmp_path / "shifted.wav"
    sf.write(str(shifted), np.concatenate([np.zeros(10), y[:-10]]), 48000, subtype="FLOAT")
    signal, opts = Signal.from_wav(wav), Options()
    report = compare_render(read_nam(path), shifted, signal, opts)
    output = next(c for c in report.checks if c.name == "output")
    assert output.passed is True and output.measured < 1e-5
    figures: list[Any] = []
    monkeypatch.setattr(plot, "_save", lambda fig, out: figures.append(fig) or Path(out))
    plot.plot_compare(read_nam(path), signal, opts, tmp_path / "p.png", shifted)
    [fig] = figures
    title = fig.axes[0].get_title()
    assert f"difference {output.measured:.2g}" in title
    assert f"bound {output.tolerance:.2g}" in title and "PASS" in title
    assert "10 samples late" in title
    # the shift fails the comparison (render_alignment): the title says so, as compare does
    assert "compare: FAILED (render_alignment)" in title
    difference = fig.axes[1].lines[0].get_ydata()
    assert np.max(np.abs(difference)) <= output.tolerance * np.max(np.abs(y))


def test_verify_plots_on_the_builtin_model(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")
    folder = tmp_path / "plots"
    assert main(["verify", "--plots", str(folder), "--builtin-signal", "--no-gain",
                 "--scale", "0.5"]) == 0
    assert (folder / "builtin.shift.png").stat().st_size > 1000


def test_compare_render_of_a_silent_model_fails_its_output_level(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A silent model and its (equally silent) render agree sample for sample; the model
    still has no level: compare fails it on output_level, not on a NaN dB difference."""
    path = put(tmp_path, "m.nam", silent_linear())
    wav, render = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(str(wav), default_signal(), 48000, subtype="FLOAT")
    sf.write(str(render), np.zeros(len(default_signal())), 48000, subtype="FLOAT")
    code, report = run(["compare", str(path), "--render", str(render), "--signal", str(wav)],
                       capsys)
    assert code == 1
    [level] = checks_named(report, "output_level")
    assert level["status"] == "fail" and level["reason"]["code"] == "silent_output"


def random_lstm(hidden: int, sd: float, seed: int) -> dict[str, Any]:
    """A 1-layer LSTM of N(0, sd^2) weights (a new user's trial made these)."""
    rng = np.random.default_rng(seed)
    n = 4 * hidden * (1 + hidden) + 4 * hidden + 2 * hidden + hidden + 1
    return {"version": "0.5.4", "architecture": "LSTM",
            "config": {"input_size": 1, "hidden_size": hidden, "num_layers": 1},
            "weights": (rng.standard_normal(n) * sd).tolist(), "sample_rate": 48000}


@pytest.mark.parametrize("hidden,sd,seed,words", [
    (4, 4.0, 4, "wider than float16's rounding"),  # stable, amplifying ~1e5-fold
    (8, 3.0, 2, "unstable"),  # errors grow without bound
], ids=["amplifying", "unstable"])
def test_an_lstm_without_a_usable_bound_is_not_verified(
        hidden: int, sd: float, seed: int, words: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Where an LSTM's float32 error bound is wider than float16's rounding (numerics.
    unjudgeable), or it has none, a check against it cannot tell right from wrong: the
    trial saw a model with its head x 1.1 pass as the same model, a stored loudness 1 dB
    off pass, and the runtime's correct render of an unstable LSTM fail. They are n/a
    ('no_usable_bound') and the model not_verified (exit 3), never passed or failed."""
    doc = random_lstm(hidden, sd, seed)
    a = put(tmp_path, "a.nam", doc)
    other = json.loads(json.dumps(doc))
    other["weights"][-2] *= 1.1  # the head's last weight, and its bias
    other["weights"][-1] *= 1.1
    b = put(tmp_path, "b.nam", other)
    code, report = run(["compare", str(a), str(b), "--builtin-signal"], capsys)
    assert code == 3 and report["models"][0]["status"] == "not_verified"
    for name in ("output", "esr", "loudness"):
        [check] = checks_named(report, name)
        assert check["status"] == "n/a" and check["reason"]["code"] == "no_usable_bound"
        assert words in check["reason"]["text"]
    stored = put(tmp_path, "stored.nam", {**doc, "metadata": {"loudness": -3.0}})
    wav = tmp_path / "standard.wav"
    sf.write(wav, default_signal(), 48000, subtype="FLOAT")
    code, report = run(["audit", str(stored), "--signal", str(wav), "--standard-input",
                        "--no-gain"], capsys)
    assert code == 3 and report["models"][0]["status"] == "not_verified"
    [check] = checks_named(report, "metadata_loudness")
    assert check["status"] == "n/a" and check["reason"]["code"] == "no_usable_bound"


def test_an_ordinary_lstm_is_still_judged(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The guard above leaves a well-conditioned LSTM's checks as they were: the same model
    twice passes, a head x 1.001 fails."""
    doc = lstm_doc()
    a = put(tmp_path, "a.nam", doc)
    code, report = run(["compare", str(a), str(a), "--builtin-signal"], capsys)
    assert code == 0 and report["models"][0]["status"] == "passed"
    other = json.loads(json.dumps(doc))
    other["weights"][-2] *= 1.001
    other["weights"][-1] *= 1.001
    code, report = run(["compare", str(a), str(put(tmp_path, "b.nam", other)),
                        "--builtin-signal"], capsys)
    assert code == 1
