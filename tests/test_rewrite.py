"""Layout-preserving writes: `stamp` and `scale` change only the values they mean to change,
keep every other byte of the file, and never write a file the runtime refuses."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.models import NamFileError, read_nam, write_nam
from namcheck.models.examples import builtin_doc, container_doc, lstm_doc
from namcheck.models.format.rewrite import rewrite_text
from namcheck.signals.generate import default_signal


def test_only_changed_values_are_rewritten() -> None:
    text = ('\ufeff{\r\n  "version": "0.5.4",\r\n  "metadata": {\r\n    "loudness": -20.0,\r\n'
            '    "date": {"y": 1}\r\n  },\r\n  "x": 1.50,\r\n  "e": 1E-3,\r\n'
            '  "weights": [0.1, 0.2, 0.30000001]\r\n}\r\ntrailing \x00')
    doc = json.loads(text[1:text.rindex("}") + 1])
    doc["metadata"]["loudness"] = -18.25
    doc["metadata"]["gain"] = 0.5
    doc["weights"][-1] = 0.6
    out = rewrite_text(text, doc)
    assert out == text.replace("-20.0,", "-18.25,").replace(
        '{"y": 1}\r\n', '{"y": 1},\r\n    "gain": 0.5\r\n').replace("0.30000001", "0.6")


def test_keys_added_in_the_files_style() -> None:
    indented = json.dumps({"a": 1, "config": {"b": [1, 2]}}, indent=3)
    doc = json.loads(indented)
    doc["metadata"] = {"loudness": -1.5, "gain": 2.0}
    assert rewrite_text(indented, doc) == json.dumps(doc, indent=3)
    compact = json.dumps({"a": 1, "metadata": {}}, separators=(",", ":"))
    doc = json.loads(compact)
    doc["metadata"]["loudness"] = -3.0
    assert rewrite_text(compact, doc) == json.dumps(doc, separators=(",", ":"))
    spaced = json.dumps({"a": 1, "metadata": {}})
    doc = json.loads(spaced)
    doc["metadata"]["loudness"] = -3.0
    assert rewrite_text(spaced, doc) == json.dumps(doc)


def test_keys_removed_with_their_separator() -> None:
    text = json.dumps({"sample_rate": None, "a": 1, "b": {"c": 2, "d": 3}}, indent=2)
    doc = json.loads(text)
    del doc["sample_rate"], doc["b"]["d"]
    assert rewrite_text(text, doc) == json.dumps(doc, indent=2)


def test_duplicate_keys_edit_the_value_the_runtime_reads() -> None:
    text = '{"sample_rate": 44100, "sample_rate": 48000, "x": 1}'
    doc = json.loads(text)
    doc["x"] = 2
    doc["sample_rate"] = 96000
    assert rewrite_text(text, doc) == '{"sample_rate": 44100, "sample_rate": 96000, "x": 2}'


def test_never_writes_what_the_runtime_refuses(tmp_path: Path) -> None:
    source = tmp_path / "in.nam"
    source.write_text(json.dumps(builtin_doc(), indent=2))
    doc = builtin_doc()
    doc["sample_rate"] = None
    target = tmp_path / "out.nam"
    with pytest.raises(NamFileError) as info:
        write_nam(doc, target, original=source)
    assert info.value.path == "sample_rate"
    assert sorted(os.listdir(tmp_path)) == ["in.nam"]


def _diff(before: str, after: str) -> tuple[list[str], list[str]]:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), n=0,
                                      lineterm=""))[2:]
    removed = [line[1:] for line in lines if line.startswith("-")]
    added = [line[1:] for line in lines if line.startswith("+")]
    return removed, added


@pytest.fixture
def standard(tmp_path: Path) -> list[str]:
    signal = tmp_path / "standard.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="FLOAT")
    return ["--signal", str(signal), "--standard-input"]


def _indented(path: Path, doc: dict[str, Any], crlf: bool = False) -> str:
    text = json.dumps(doc, indent=4).replace('"head_scale": 0.02', '"head_scale": 0.020')
    text = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes(text.encode())
    return text


@pytest.mark.parametrize("crlf", [False, True])
def test_stamp_diff_shows_only_metadata_lines(tmp_path: Path, standard: list[str],
                                              crlf: bool) -> None:
    source = tmp_path / "amp.nam"
    before = _indented(source, builtin_doc(), crlf)
    out = tmp_path / "out"
    assert main(["stamp", str(source), "-o", str(out), *standard]) == 0
    after = (out / "amp.nam").read_bytes().decode()
    removed, added = _diff(before, after)
    assert removed == ['        "name": "namcheck built-in"']
    assert after.count("\r\n") == (after.count("\n") if crlf else 0)  # line ends kept
    assert [a.split(":")[0].strip() for a in added] == ['"name"', '"loudness"', '"gain"']
    assert '"head_scale": 0.020' in after  # untouched numbers keep their text
    assert read_nam(out / "amp.nam").loudness is not None


def test_stamp_adds_a_missing_metadata_object_in_the_files_indentation(
        tmp_path: Path, standard: list[str]) -> None:
    doc = container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())])
    for node in (doc, *[s["model"] for s in doc["config"]["submodels"]]):
        node.pop("metadata", None)
    source = tmp_path / "c.nam"
    before = _indented(source, doc)
    assert main(["stamp", str(source), "--in-place", *standard]) == 0
    after = source.read_text()
    removed, added = _diff(before, after)
    # the lines before each new metadata object gain a comma, nothing else is removed
    assert [r.strip() for r in removed] == ["]", '"sample_rate": 48000.0']
    keys = [a.split(":")[0].strip() for a in added if ":" in a]
    assert keys.count('"metadata"') == 3 and keys.count('"loudness"') == 3
    again = json.loads(after)
    assert again["metadata"] == {"loudness": again["metadata"]["loudness"],
                                 "gain": again["metadata"]["gain"]}
    assert '\n    "metadata": {\n        "loudness": ' in after


def test_scale_diff_shows_head_scale_tail_and_loudness(tmp_path: Path, standard: list[str],
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    source = tmp_path / "amp.nam"
    _indented(source, builtin_doc())
    assert main(["stamp", str(source), "--in-place", *standard]) == 0  # a right loudness
    before = source.read_text()
    out = tmp_path / "scaled.nam"
    assert main(["scale", str(source), "--by", "2", "-o", str(out), *standard]) == 0
    capsys.readouterr()
    removed, added = _diff(before, out.read_text())
    changed = sorted(r.split(":")[0].strip() for r in removed)
    assert changed == ['"head_scale"', '"loudness"', str(builtin_doc()["weights"][-1])]
    assert len(added) == 3
