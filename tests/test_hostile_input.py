"""Hostile input through the real CLI: every kind gets one line on stderr and exit 2 (bad
input) or a failed check (exit 1) for a broken model, never a traceback, never a pass;
nothing is destroyed or left behind. The corpus is generated here, one file per kind."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.models import read_nam, write_nam
from namcheck.models.examples import builtin_doc

Edit = Callable[[dict[str, Any]], None]


def edited(edit: Edit) -> str:
    doc = builtin_doc()
    edit(doc)
    return json.dumps(doc)


def raw(old: str, new: str) -> str:
    """The built-in model's JSON text with one literal replaced (for tokens json can't make)."""
    text = json.dumps({**builtin_doc(), "metadata": {"loudness": -20.0}})
    assert old in text
    return text.replace(old, new, 1)


def nested_containers(depth: int) -> str:
    text = json.dumps(builtin_doc())
    for _ in range(depth):
        text = ('{"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [], '
                '"config": {"submodels": [{"max_value": 1.0, "model": ' + text + "}]}}")
    return text


def nested_condition_dsps(depth: int) -> str:
    base = json.dumps(builtin_doc())
    text = base
    for _ in range(depth):
        text = base.replace('"head": null', '"head": null, "condition_dsp": ' + text, 1)
    return text


def first_weight(literal: str) -> str:
    text = json.dumps(builtin_doc())
    start = text.index('"weights": [') + len('"weights": [')
    return text[:start] + literal + text[text.index(",", start):]


def set_layer(key: str, value: Any, layer: int = 0) -> Edit:
    return lambda d: d["config"]["layers"][layer].update({key: value})


def set_head_bias(value: Any) -> Edit:
    return lambda d: d["config"]["layers"][0]["head"].update(bias=value)


# name: (file text, text the one-line error must contain)
BAD_FILES: dict[str, tuple[str, str]] = {
    # JSON edge cases
    "head_scale_1e400": (raw('"head_scale": 0.02', '"head_scale": 1e400'),
                         "config.head_scale: not a finite number"),
    "head_scale_nan": (raw('"head_scale": 0.02', '"head_scale": NaN'),
                       "config.head_scale: not a finite number"),
    "loudness_neg_infinity": (raw('"loudness": -20.0', '"loudness": -Infinity'),
                              "metadata.loudness: not a finite number"),
    "loudness_1e400": (raw('"loudness": -20.0', '"loudness": 1e400'),
                       "metadata.loudness: not a finite number"),
    "integer_weight_1e400": (first_weight("1" + "0" * 400), "weights[0]: weight is inf"),
    "integer_weight_5001_digits": (first_weight("7" * 5001), "weights[0]: weight is inf"),
    "deep_json_nesting": ('{"a": ' * 50_000 + "1" + "}" * 50_000, "nested too deeply"),
    # schema gaps
    "weights_empty": (edited(lambda d: d.update(weights=[])),
                      "weights: expected 842 weights for this config, found 0"),
    "weights_not_a_list": (edited(lambda d: d.update(weights={"a": 1})),
                           "weights: expected a list of numbers, got object"),
    "input_size_mismatch": (edited(set_layer("input_size", 2)),
                            "config.layers[0].input_size: expected 1"),
    "condition_size_mismatch": (edited(set_layer("condition_size", 3, layer=1)),
                                "config.layers[1].condition_size: expected 1"),
    "lstm_input_size_mismatch": (json.dumps({
        "version": "0.5.0", "architecture": "LSTM",
        "config": {"input_size": 2, "hidden_size": 1, "num_layers": 1},
        "weights": [0.0] * (4 * 3 + 4 + 1 + 1 + 2)}), "config.input_size: expected 1"),
    "bool_as_integer": (edited(set_head_bias(1)),
                        "config.layers[0].head.bias: expected true or false, got number 1"),
    "bool_as_string": (edited(set_head_bias("true")),
                       "config.layers[0].head.bias: expected true or false, got string \"true\""),
    "number_as_string": (edited(lambda d: d["config"].update(head_scale="0.02")),
                         "config.head_scale: expected a number, got string \"0.02\""),
    "integer_as_string": (edited(set_layer("channels", "4")),
                          "config.layers[0].channels: expected a number, got string \"4\""),
    "film_groups_string": (edited(set_layer("conv_pre_film", {"groups": "x"})),
                           "config.layers[0].conv_pre_film.groups: expected a number"),
    "rate_as_string": (edited(lambda d: d.update(sample_rate="48000")),
                       "sample_rate: expected a number, got string \"48000\""),
    "loudness_as_string": (edited(lambda d: d.update(metadata={"loudness": "-18"})),
                           "metadata.loudness: expected a number, got string \"-18\""),
    # resource bombs: refused from the config, before anything is allocated
    "dilation_2_40": (edited(lambda d: d["config"]["layers"][0]["dilations"].__setitem__(
        0, 2**40)), "config.layers[0].dilations[0]: 1099511627776 is beyond the runtime's "
                    "integer range"),
    "dilation_2_30": (edited(lambda d: d["config"]["layers"][0]["dilations"].__setitem__(
        0, 2**30)), "receptive field (samples) 2,147,487,739 exceeds the limit"),
    "dilation_2_27": (edited(lambda d: d["config"]["layers"][0]["dilations"].__setitem__(
        0, 2**27)), "exceeds the limit 1,048,576 (raise it with --max-receptive-field)"),
    "million_dilations": (edited(set_layer("dilations", [1] * 1_000_000)),
                          "layer count 1,000,013 exceeds the limit 4,096 (raise it with "
                          "--max-layers)"),
    "huge_lstm": (json.dumps({"version": "0.5.0", "architecture": "LSTM",
                              "config": {"input_size": 1, "hidden_size": 100_000,
                                         "num_layers": 1}, "weights": []}),
                  "config: weight count of this config 40,001,100,001 exceeds the limit "
                  "16,777,216 (raise it with --max-parameters)"),
    "containers_150_deep": (nested_containers(150), "model nesting depth 17 exceeds the "
                            "limit 16 (raise it with --max-nesting)"),
    "containers_1000_deep": (nested_containers(1000), "nested too deeply"),
    "condition_dsps_400_deep": (nested_condition_dsps(400),
                                "(config.condition_dsp)x17: model nesting depth 17 exceeds"),
    "condition_dsps_40_deep": (nested_condition_dsps(40), "model nesting depth 17 exceeds"),
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, expected: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    assert "FiLMConfig" not in lines[0] and "model.:" not in lines[0]


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_one_line_exit_2(case: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.nam"
    path.write_text(text)
    code, _, err = run_cli(["inspect", str(path)], capsys)
    assert code == 2
    assert_one_line(err, expected)
    assert err.startswith(f"namcheck: {path}: ")
    # (How fast refusals are is measured in benchmarks/test_bench_refusal.py.)
    for command in (["verify", "--no-gain"], ["audit", "--no-gain"]):
        code, _, _ = run_cli([command[0], str(path), *command[1:]], capsys)
        assert code == 2  # an error entry, the worst status


def test_file_size_limit_is_checked_before_reading(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.nam"
    with path.open("wb") as handle:
        handle.truncate(65 << 20)  # sparse: 65 MiB of zeros, never decoded
    code, _, err = run_cli(["inspect", str(path)], capsys)
    assert code == 2
    assert_one_line(err, "file size (bytes) 68,157,440 exceeds the limit 67,108,864 "
                    "(raise it with --max-file-mb)")


def test_limits_can_be_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.nam"
    path.write_text(nested_containers(20))
    assert run_cli(["inspect", str(path)], capsys)[0] == 2
    code, out, _ = run_cli(["inspect", str(path), "--max-nesting", "25"], capsys)
    assert code == 0 and "SlimmableContainer" in out
    code, _, err = run_cli(["inspect", str(path), "--max-nesting", "0"], capsys)
    assert code == 2 and "--max-nesting 0: expected an integer >= 1" in err


# --------------------------------------------------------------------------- broken models

def linear_doc(taps: list[float]) -> dict[str, Any]:
    return {"version": "0.5.0", "architecture": "Linear", "sample_rate": 48000,
            "config": {"receptive_field": len(taps), "bias": False}, "weights": taps}


def lstm_doc(head: float) -> dict[str, Any]:
    """Gates and states all positive (weights 0.1), head weights and bias `head`."""
    n = 4 * 2 * (1 + 2) + 4 * 2 + 2 + 2
    weights = [0.1] * n + [head] * 3
    return {"version": "0.5.0", "architecture": "LSTM", "sample_rate": 48000,
            "config": {"input_size": 1, "hidden_size": 2, "num_layers": 1}, "weights": weights}


def convnet_nan_doc() -> dict[str, Any]:
    # One block, batchnorm with running_var -1 and eps 0: sqrt(-1) is NaN in the fold.
    conv = [0.5] * (2 * 1 * 2)
    bn = [0.0, 0.0, -1.0, -1.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # mean, var, weight, bias, eps
    return {"version": "0.5.0", "architecture": "ConvNet", "sample_rate": 48000,
            "config": {"channels": 2, "dilations": [1], "batchnorm": True,
                       "activation": "Tanh"}, "weights": conv + bn + [1.0, 1.0, 0.0]}


def zero_wavenet_doc() -> dict[str, Any]:
    doc = builtin_doc()
    doc["weights"] = [0.0] * len(doc["weights"])
    doc["config"]["head_scale"] = 0.0
    doc["metadata"] = {"loudness": -35.9}
    return doc


BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "linear_inf_output": (linear_doc([3e38] * 4), "the output is not finite"),
    "linear_silent": (linear_doc([0.0] * 4), "the output is silent"),
    "lstm_inf_output": (lstm_doc(3.4e38), "the output is not finite"),
    "convnet_batchnorm_nan": (convnet_nan_doc(), "the output is not finite"),
    "wavenet_all_zero_claiming_loudness": (zero_wavenet_doc(), "the output is silent"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_model_is_never_passed(case: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    doc, reason = BROKEN[case]
    path = tmp_path / f"{case}.nam"
    write_nam(doc, path)
    report = tmp_path / "r.json"
    for command in ("verify", "audit"):
        code, out, err = run_cli([command, str(path), "--json", str(report)], capsys)
        assert code == 1, out + err
        assert reason in out and "Traceback" not in err
        text = report.read_text()
        assert "NaN" not in text and "Infinity" not in text  # strict JSON
        model = json.loads(text)["models"][0]
        assert model["status"] == "failed"
        level = next(c for c in model["checks"] if c["name"] == "output_level")
        assert level["status"] == "fail" and reason in level["reason"]["text"]
        assert level["reason"]["code"] in ("non_finite_output", "silent_output")


def test_silent_wavenet_claiming_loudness_fails_audit_on_standard_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zero.nam"
    write_nam(zero_wavenet_doc(), path)
    signal = tmp_path / "standard.wav"
    sf.write(str(signal), 0.5 * np.sin(np.arange(48000) / 7.0), 48000, subtype="FLOAT")
    code, out, _ = run_cli(["audit", str(path), "--signal", str(signal), "--standard-input",
                            "--no-gain"], capsys)
    assert code == 1
    assert "stored loudness -35.9 dB, but the output is silent" in out


def test_render_refuses_non_finite_output(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "inf.nam"
    write_nam(linear_doc([3e38] * 4), model)
    wav = tmp_path / "in.wav"
    sf.write(str(wav), np.full(1000, 0.5), 48000, subtype="FLOAT")
    code, _, err = run_cli(["render", str(model), str(wav), str(tmp_path / "o.wav")], capsys)
    assert code == 1 and "the output is not finite" in err and "not written" in err
    assert not (tmp_path / "o.wav").exists()


# --------------------------------------------------------------------------- signals


def write_wav(path: Path, data: np.ndarray, rate: int = 48000) -> Path:
    sf.write(str(path), data, rate, subtype="FLOAT")
    return path


SIGNALS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "zero_samples": (lambda d: write_wav(d / "s.wav", np.zeros(0)), "the audio has no samples"),
    "stereo": (lambda d: write_wav(d / "s.wav", np.zeros((10, 2))), "expected mono audio"),
    "nan_sample": (lambda d: write_wav(d / "s.wav", np.array([0.0, math.nan])),
                   "sample 1 is nan"),
    "not_audio": (lambda d: (d / "s.wav").write_bytes(b"RIFF\0\0garbage") and d / "s.wav",
                  "cannot read audio"),
    "missing": (lambda d: d / "absent.wav", "absent.wav: no such file"),
    "wrong_rate": (lambda d: write_wav(d / "s.wav", np.zeros(100), 44100),
                   "44100 Hz differs from the model's 48000 Hz"),
}


@pytest.mark.parametrize("case", sorted(SIGNALS))
def test_bad_signal_one_line_exit_2(case: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = SIGNALS[case]
    signal = make(tmp_path)
    model = tmp_path / "m.nam"
    write_nam(builtin_doc(), model)
    out = tmp_path / "o.wav"
    code, _, err = run_cli(["render", str(model), str(signal), str(out)], capsys)
    assert code == 2
    assert_one_line(err, expected)
    assert not out.exists()


def test_signal_length_limit_before_reading(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    signal = write_wav(tmp_path / "long.wav", np.zeros(48000 * 3))
    model = tmp_path / "m.nam"
    write_nam(builtin_doc(), model)
    code, _, err = run_cli(["render", str(model), str(signal), str(tmp_path / "o.wav"),
                            "--max-signal-seconds", "2"], capsys)
    assert code == 2
    assert_one_line(err, "signal length (s) 3.0 exceeds the limit 2.0 (raise it with "
                    "--max-signal-seconds)")


# --------------------------------------------------------------------------- arguments, paths


@pytest.fixture
def model_and_wav(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "m.nam"
    write_nam(builtin_doc(), model)
    wav = write_wav(tmp_path / "in.wav", 0.3 * np.sin(np.arange(4800) / 5.0))
    return model, wav


def argument_cases(m: Path, w: Path) -> dict[str, tuple[list[str], str]]:
    d = m.parent
    return {
        "render_over_model": (["render", str(m), str(w), str(d / "copy.nam")],
                              "cannot write audio with extension '.nam'"),
        "render_over_input": (["render", str(m), str(w), str(w)], "is an input of this command"),
        "render_over_input_symlink": (["render", str(m), str(w), str(d / "link.wav")],
                                      "is an input of this command"),
        "verify_json_over_model": (["verify", str(m), "--json", str(m)],
                                   "is an input of this command"),
        "audit_json_over_model": (["audit", str(m), "--json", str(m)],
                                  "is an input of this command"),
        "scale_over_model": (["scale", str(m), "--by", "2", "-o", str(m)],
                             "is an input of this command"),
        "device_unknown": (["verify", str(m), "--device", "banana"], "--device banana: unknown"),
        "device_mps": (["verify", str(m), "--device", "mps"], "namcheck runs on cpu or cuda"),
        "device_cuda_index": (["verify", str(m), "--device", "cuda:99"], "--device cuda:99"),
        "output_folder_missing": (["verify", str(m), "--json", str(d / "no" / "r.json")],
                                  "folder"),
        "output_is_folder": (["scale", str(m), "--by", "2", "-o", str(d)], "is a folder"),
        "render_output_is_folder": (["render", str(m), str(w), str(d)], "is a folder"),
        "render_input_missing": (["render", str(m), str(d / "nope.wav"), str(d / "o.wav")],
                                 "nope.wav: no such file"),
        "render_input_is_folder": (["render", str(m), str(d), str(d / "o.wav")],
                                   "is a folder, not an audio file"),
        "output_inside_file": (["render", str(m), str(w), str(m / "o.wav")],
                               "is a file, not a folder"),
        "render_block_negative": (["render", str(m), str(w), str(d / "o.wav"), "--block", "-5"],
                                  "--block -5: expected an integer >= 1"),
        "render_unknown_extension": (["render", str(m), str(w), str(d / "o.xyz")],
                                     "cannot write audio with extension '.xyz'"),
        "bench_repeats_zero": (["bench", "--repeats", "0"], "--repeats 0"),
        "bench_seconds_nan": (["bench", "--seconds", "nan"], "--seconds nan"),
        "bench_seconds_negative": (["bench", "--seconds", "-1"], "--seconds -1"),
        "bench_seconds_huge": (["bench", "--seconds", "1e9"], "--seconds 1e+09"),
        "bench_threads_zero": (["bench", "--threads", "0"], "--threads 0"),
        "bench_block_beyond_signal": (["bench", "--seconds", "0.001", "--block", "4096"],
                                      "--block 4096"),
        "scale_zero": (["scale", str(m), "--by", "0", "-o", str(d / "o.nam")],
                       "--by 0: scale must be a finite number > 0"),
        "slim_out_of_range": (["verify", str(m), "--slim", "2"], "--slim 2"),
        "fail_above_db_negative": (["verify", str(m), "--fail-above-db", "-1"],
                                   "--fail-above-db -1"),
        "argparse_bad_float": (["verify", "--scale", "abc"], "invalid float value: 'abc'"),
        # float() makes these inf: the message quotes what was typed, not "inf"
        "scale_beyond_float_range": (["verify", "--scale", "1e400"],
                                     "--scale: invalid float value: '1e400' is beyond"),
        "by_beyond_float_range": (["scale", str(m), "--by", "-1e999", "-o", str(d / "o.nam")],
                                  "--by: invalid float value: '-1e999' is beyond"),
        "argparse_unknown_command": (["frobnicate"], "invalid choice: 'frobnicate'"),
        "workers_zero": (["audit", str(m), "--workers", "0"], "--workers 0"),
        "missing_folder": (["audit", str(d / "nowhere")], "no such file"),
    }


CASE_NAMES = sorted(argument_cases(Path("m.nam"), Path("w.wav")))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_argument_or_path_one_line_exit_2(case: str, model_and_wav: tuple[Path, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    model, wav = model_and_wav
    (model.parent / "link.wav").symlink_to(wav)
    args, expected = argument_cases(model, wav)[case]
    before = {p.name: p.read_bytes() for p in model.parent.iterdir() if p.is_file()}
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors: our parser prints one line, exits 2
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert_one_line(err, expected)
    after = {p.name: p.read_bytes() for p in model.parent.iterdir() if p.is_file()}
    assert after == before  # nothing written, nothing destroyed


def test_verify_goes_on_past_a_bad_file(model_and_wav: tuple[Path, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = model_and_wav
    bad = model.parent / "bad.nam"
    bad.write_text("{")
    code, out, _ = run_cli(["verify", str(bad), str(model), "--no-gain", "--json", "-"],
                             capsys)
    assert code == 2
    doc = json.loads(out)  # `--json -`: only JSON on stdout
    assert [m["status"] for m in doc["models"]] == ["error", "passed"]
    assert "not valid JSON" in doc["models"][0]["error"]


def test_sequential_audit_survives_a_crashing_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A model whose forward raises (simulated: every file validated by the schema already
    plays, so this is a namcheck bug) becomes its own internal error entry with one line on
    stderr; the others are audited, and the run exits 4, not 2 (no bad input)."""
    from namcheck.harness import core

    real_load = core.cached_engine

    def crashing_load(model: Any, *args: Any, **kwargs: Any) -> Any:
        if "crash" in str(model.source):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return real_load(model, *args, **kwargs)

    monkeypatch.setattr(core, "cached_engine", crashing_load)
    write_nam(builtin_doc(), tmp_path / "a_good.nam")
    write_nam(builtin_doc(), tmp_path / "b_crash.nam")
    write_nam(builtin_doc(), tmp_path / "c_good.nam")
    code, out, err = run_cli(["audit", str(tmp_path), "--no-gain", "--json", "-"], capsys)
    doc = json.loads(out)
    # (built-in signal: no stored claim to compare, so the readable files are not_verified)
    assert [m["status"] for m in doc["models"]] == ["not_verified", "error", "not_verified"]
    assert "internal error: RuntimeError: mat1 and mat2" in doc["models"][1]["error"]
    assert [m["error_kind"] for m in doc["models"]] == [None, "internal", None]
    # With `--json -` the tables go to stderr; the error is one line of its own there.
    said = [line for line in err.splitlines() if line.startswith("namcheck: ")]
    assert len(said) == 1 and "b_crash.nam: internal error: RuntimeError: mat1" in said[0]
    assert "NAMCHECK_DEBUG=1" in said[0]
    assert "Traceback" not in err and code == 4


def test_cli_subprocess_never_prints_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nam"
    bad.write_text(nested_containers(1000))
    for args in (["inspect", str(bad)], ["verify", "--device", "mps"], ["bench", "--repeats",
                                                                        "0"]):
        proc = subprocess.run([sys.executable, "-m", "namcheck.harness.cli", *args],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# --------------------------------------------------------------------------- faults


def test_disk_full_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """ENOSPC injected at fsync (after the bytes went out): exit 2, input untouched, no
    partial file and no temp file."""
    model = tmp_path / "m.nam"
    write_nam(builtin_doc(), model)
    before = model.read_bytes()
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    for args in (["scale", str(model), "--by", "2", "-o", str(tmp_path / "o.nam"), "--no-gain"],
                 ["scale", str(model), "--by", "2", "-o", str(model), "--in-place",
                  "--no-gain"],
                 ["verify", str(model), "--no-gain", "--json", str(tmp_path / "r.json")]):
        code, _, err = run_cli(args, capsys)
        assert code == 2
        assert_one_line(err, "cannot write: No space left on device")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nam"]
    assert model.read_bytes() == before


def tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(path)], capture_output=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


def test_real_full_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On a 64 KiB tmpfs (where this machine lets us mount one; the injected ENOSPC test
    above runs everywhere): render of 1 s float32 audio (192 kB) cannot fit."""
    small = tmp_path / "small"
    if not tmpfs(small, "64k"):
        pytest.skip("mounting a tmpfs is not permitted here (ENOSPC is tested by injection)")
    try:
        model = small / "m.nam"
        write_nam(builtin_doc(), model)
        wav = write_wav(tmp_path / "in.wav", np.zeros(48000))
        code, _, err = run_cli(["render", str(model), str(wav), str(small / "o.wav")], capsys)
        assert code == 2
        assert_one_line(err, "cannot write: No space left on device")
        assert sorted(p.name for p in small.iterdir()) == ["m.nam"]
        assert read_nam(model).data == builtin_doc()
    finally:
        subprocess.run(["umount", str(small)], check=False)


KILL_WRITER = """
import sys, numpy as np
from namcheck.models.atomic import atomic_write
chunk = np.random.default_rng(0).bytes(1 << 20)
def slow(handle):
    for _ in range(400):
        handle.write(chunk)
atomic_write(sys.argv[1], slow)
"""


@pytest.mark.parametrize("existing", [False, True])
def test_killed_write_leaves_nothing_behind(tmp_path: Path, existing: bool) -> None:
    """SIGKILL in the middle of a 400 MiB atomic write: no temp file, old content intact."""
    target = tmp_path / "out.bin"
    if existing:
        target.write_bytes(b"old")
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", KILL_WRITER, str(target)])
        time.sleep(delay)
        proc.kill()
        proc.wait()
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == (["out.bin"] if existing else []) or (
            names == ["out.bin"] and target.stat().st_size == 400 << 20), names
        if existing and target.stat().st_size != 400 << 20:
            assert target.read_bytes() == b"old"


@pytest.mark.parametrize("command", ["scale", "render"])
def test_killed_cli_leaves_nothing_behind(command: str, model_and_wav: tuple[Path, Path]
                                          ) -> None:
    model, wav = model_and_wav
    folder = model.parent
    out = folder / ("o.nam" if command == "scale" else "o.wav")
    args = (["scale", str(model), "--by", "2", "-o", str(out), "--no-gain"]
            if command == "scale" else ["render", str(model), str(wav), str(out)])
    original = model.read_bytes()
    rng = np.random.default_rng(1)
    for delay in rng.uniform(0.5, 4.0, size=6):
        proc = subprocess.Popen([sys.executable, "-m", "namcheck.harness.cli", *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
        if out.exists():  # complete or absent, never partial
            if command == "scale":
                read_nam(out)
            else:
                assert sf.info(str(out)).frames == 4800
            out.unlink()
    assert model.read_bytes() == original


CONCURRENT_WRITER = """
import sys
from namcheck.models import write_nam
from namcheck.models.examples import builtin_doc
doc = builtin_doc()
doc["metadata"] = {"writer": int(sys.argv[2])}
for _ in range(30):
    write_nam(doc, sys.argv[1])
"""


def test_concurrent_writers_one_complete_file_no_false_alarm(tmp_path: Path) -> None:
    target = tmp_path / "shared.nam"
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(target), str(i)],
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert read_nam(target).metadata["writer"] in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.nam"]


def test_strict_json_report_has_no_nan_tokens(tmp_path: Path) -> None:
    from namcheck.harness.report import dumps

    text = dumps({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": 2}})
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": {"d": 2}}

