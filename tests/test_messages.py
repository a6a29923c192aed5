"""What namcheck says when something is wrong (issue 16 items 11, 14, 15): every error line
names its file, a heading says "(unreadable)" only for a file that could not be read (and
"(refused)" for a readable one the runtime refuses for a field), the
words are JSON's (null, true, "text") as the file spells them, never Python's, and every
limit of the parsing stack is bad input naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.harness.core import ModelReport
from namcheck.harness.report import format_table
from namcheck.models import write_nam
from namcheck.models.examples import a1_doc, builtin_doc, container_doc, lstm_doc
from namcheck.signals.generate import default_signal


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


# --------------------------------------------------------------------- 14: the file is named


def test_scale_of_a_model_without_head_scale_names_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lstm = tmp_path / "lstm.nam"
    write_nam(lstm_doc(), lstm)
    code = main(["scale", str(lstm), "--by", "2", "-o", str(tmp_path / "out.nam")])
    assert code == 2
    assert _err_lines(capsys) == [f"namcheck: {lstm}: LSTM has no head_scale"]
    assert not (tmp_path / "out.nam").exists()


def test_hook_refusal_inside_a_container_names_file_and_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = tmp_path / "box.nam"
    write_nam(container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())]), box)
    code = main(["scale", str(box), "--by", "2", "-o", str(tmp_path / "out.nam"),
                 "--builtin-signal"])
    assert code == 2
    assert _err_lines(capsys) == [
        f"namcheck: {box}: config.submodels[0].model: LSTM has no head_scale"]


def test_verify_names_the_reason_once_without_the_file_in_the_check(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lstm = tmp_path / "lstm.nam"
    write_nam(lstm_doc(), lstm)
    main(["verify", str(lstm), "--builtin-signal", "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    hooks = [c for c in doc["models"][0]["checks"] if c["name"] == "hook"]
    assert hooks and all(c["reason"]["text"].endswith(
        ": reference hook refused: LSTM has no head_scale") for c in hooks)


def test_heading_says_unreadable_only_for_unreadable_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    write_nam(a1_doc("nano", seed=0), folder / "a.nam")  # 48 kHz
    (folder / "bad.nam").write_text("{")
    wav = tmp_path / "s44.wav"
    sf.write(str(wav), default_signal()[:44100], 44100, subtype="FLOAT")
    code = main(["audit", str(folder), "--signal", str(wav)])
    out = capsys.readouterr()
    assert code == 2
    assert f"== {folder / 'bad.nam'} (unreadable)" in out.out
    assert f"== {folder / 'a.nam'} (unreadable)" not in out.out
    assert f"== {folder / 'a.nam'} (not checked)" in out.out
    assert "sample rate 44100 Hz differs from the model's 48000 Hz" in out.err
    # a file that timed out or crashed its worker (harness/corpus/pool.py) was never read
    timed_out = ModelReport("slow.nam", None, error="slow.nam: timed out after 3 s (--timeout)")
    assert format_table(timed_out).splitlines()[0] == "== slow.nam (not checked)"


def test_heading_says_refused_for_a_readable_file_the_runtime_refuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file read as JSON whose field the runtime refuses (here "head_scale": null) is
    "refused", not "unreadable": the file is readable, its content is what is wrong."""
    doc = a1_doc("nano", seed=0)
    doc["config"]["head_scale"] = None
    path = tmp_path / "null_head_scale.nam"
    path.write_text(json.dumps(doc))
    assert main(["audit", str(path)]) == 2
    out = capsys.readouterr()
    assert f"== {path} (refused)" in out.out
    assert "unreadable" not in out.out + out.err
    assert "config.head_scale: expected a number, got null" in out.err


# --------------------------------------------------------------------- 15: JSON's words


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["config"]["layers"][0].__setitem__("activation", "Softsigmoid"),
     'unknown activation "Softsigmoid"'),
    (lambda d: d["config"]["layers"][0].__setitem__("dilations", [1, None]),
     "config.layers[0].dilations[1]: expected a number, got null"),
    (lambda d: d["config"]["layers"][0].__setitem__("activation", True),
     "config.layers[0].activation: expected an activation name or object, got true"),
    (lambda d: d.__setitem__("architecture", None), "architecture: expected a string, got null"),
])
def test_messages_use_json_words(tmp_path: Path, capsys: pytest.CaptureFixture[str], edit,
                                 expected: str) -> None:
    doc = a1_doc("nano", seed=0)
    edit(doc)
    path = tmp_path / "m.nam"
    path.write_text(json.dumps(doc))
    code = main(["inspect", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err
    for python in ("None", "True", "False", "'"):
        assert python not in err.replace(str(path), ""), err


def test_inspect_text_writes_booleans_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect"]) == 0  # the built-in model: post_stack_head false
    out = capsys.readouterr().out
    assert "post_stack_head" in out and "False" not in out and "True" not in out


def test_json_parser_position_is_said_once(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.nam"
    path.write_text('{"version": "0.5.0", "architecture": "Line')
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"namcheck: {path}: not valid JSON: Unterminated string starting at "
                   "line 1 column 38\n")  # the opening quote


def test_an_audio_file_named_as_a_model_is_called_what_it_is(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The usual mistake (the signal where the model goes) is said in its own words, not as
    a JSON parser's position; a file that merely starts like one is still bad JSON."""
    wav = tmp_path / "take.wav"
    sf.write(wav, default_signal(4800), 48000, subtype="FLOAT")
    assert main(["inspect", str(wav)]) == 2
    assert _err_lines(capsys) == [
        f"namcheck: {wav}: a WAV (RIFF) audio file, not a .nam model (a JSON file)"]
    flac = tmp_path / "take.flac"
    sf.write(flac, default_signal(4800), 48000, format="FLAC")
    assert main(["verify", str(flac), "--no-gain"]) == 2
    assert _err_lines(capsys) == [
        f"namcheck: {flac}: a FLAC audio file, not a .nam model (a JSON file)"]
    for name, data in (("riff.nam", b"RIFFraff"), ("flac.nam", b"fLaC text"),
                       ("gz.nam", b"\x1f\x8b")):
        text = tmp_path / name
        text.write_bytes(data)
        assert main(["inspect", str(text)]) == 2
        assert "not valid JSON" in capsys.readouterr().err, name
    import gzip
    gz = tmp_path / "model.nam.gz"
    gz.write_bytes(gzip.compress(b'{"version": "0.5.4"}'))
    assert main(["inspect", str(gz)]) == 2
    assert _err_lines(capsys) == [f"namcheck: {gz}: a gzip archive, not a .nam model (a JSON "
                                  "file)"]


# --------------------------------------------------------------------- 11: parsing limits


def _linear(**top: str) -> str:
    """A Linear model's JSON text with raw JSON values spliced in (numbers Python's own
    parser would mangle)."""
    fields = {"version": '"0.5.0"', "architecture": '"Linear"', "sample_rate": "48000",
              "config": '{"receptive_field": 2, "bias": false}', "weights": "[0.5, 0.25]",
              **top}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


DIGITS = "1" + "0" * 5000  # beyond Python's 4300-digit int-to-text limit
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("text", "field"), [
    (_linear(version=f'"0.7.{"9" * 5000}"'), "version"),
    (_linear(config=f'{{"receptive_field": {DIGITS}, "bias": false}}'),
     "config.receptive_field"),
    (_linear(sample_rate=DIGITS), "sample_rate"),
    (_linear(sample_rate="1e999999"), "sample_rate"),
    (_linear(weights=f"[{DIGITS}, 1]"), "weights[0]"),
    (_linear(weights="[-1e400, 1]"), "weights[0]"),
    (_linear(metadata=f'{{"loudness": {DIGITS}}}'), "metadata.loudness"),
    (_linear(metadata=f'{{"gain": -{DIGITS}}}'), "metadata.gain"),
    (_linear(config=NESTED), ""),
    (NESTED, ""),
])
def test_every_parsing_limit_is_bad_input_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str) -> None:
    path = tmp_path / "hostile.nam"
    path.write_text(text)
    code = main(["inspect", str(path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith(f"namcheck: {path}: {field}"), err
    assert "internal error" not in err[0] and "Exceeds the limit" not in err[0]
    assert len(err[0]) < 300


def test_plots_folder_errors_name_the_plots_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plots DIR is checked as -o DIR is, and its error names --plots, not -o."""
    pytest.importorskip("matplotlib")
    model = tmp_path / "m.nam"
    write_nam(builtin_doc(), model)
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main(["verify", str(model), "--plots", str(taken)]) == 2
    err = _err_lines(capsys)
    assert err == [f"namcheck: --plots {taken}: is a file, expected a folder"], err


def test_rate_mismatch_on_a_standard_rate_model_names_one_rate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 48 kHz model given a 44.1 kHz WAV: "give a WAV at 48000 Hz", once (for a model at
    another rate the line also offers NAM's standard input, at 48 kHz)."""
    model = tmp_path / "m.nam"
    write_nam(a1_doc("nano", seed=0), model)  # 48 kHz
    wav = tmp_path / "s44.wav"
    sf.write(str(wav), default_signal()[:44100], 44100, subtype="FLOAT")
    assert main(["verify", str(model), "--signal", str(wav)]) == 2
    err = capsys.readouterr().err
    assert "give a WAV at 48000 Hz" in err
    assert err.count("48000 Hz") == 2, err  # the model's rate, and the WAV to give


def test_audit_argument_error_is_the_only_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """--workers 0 on a folder holding a non-.nam file: the argument error alone, not after
    the folder scan's note on skipped files."""
    write_nam(a1_doc("nano", seed=0), tmp_path / "a.nam")
    (tmp_path / "input.wav").write_bytes(b"")
    assert main(["audit", str(tmp_path), "--workers", "0"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "--workers" in err[0], err


def test_a_negative_number_with_an_exponent_is_a_value(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--scale -0.5e-3 is the (refused) scale -0.0005, not a missing argument followed by
    an unknown option, as argparse's own negative-number pattern (no exponent) took it."""
    assert main(["verify", "--scale", "-0.5e-3"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("namcheck: --scale -0.0005: scale must be"), err
