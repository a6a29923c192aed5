"""Wrong-typed metadata the runtime ignores (issue 17 item 3) is audited, not refused, and
`stamp` repairs it.

The runtime converts only `metadata.loudness`, `input_level_dbu` and `output_level_dbu`
(`get<double>`: a string, bool, list or object there refuses the file, so namcheck refuses it
too: docs/runtime_reading.md); it never reads `gain`, and ignores a `metadata` that is not an
object. Such a file plays, but hosts get no usable value: `audit` fails the metadata check
with reason `wrong_type`, naming the JSON path, and `stamp` writes the measured number in
place of the wrong-typed value, every other byte of the file kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from namcheck.harness import audit, stamp
from namcheck.harness.cli import main
from namcheck.harness.core import Options, Signal
from namcheck.models import read_nam
from namcheck.models.examples import builtin_doc, container_doc, linear_doc
from namcheck.signals.generate import default_signal

WRONG = {"string": "high", "true": True, "list": [1], "object": {"value": 0.5}}


def standard() -> Signal:
    """A varying 48 kHz signal treated as NAM's standard input."""
    return Signal(default_signal(), 48000, "test signal", True)


def checks(report: Any) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


def measured_gain() -> float:
    """The built-in model's gain on the signal, with no gain stored (the ordinary case)."""
    report = audit.audit_loaded(read_nam(builtin_doc()), standard(), Options())
    return report.levels[0]["gain"]


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_wrong_typed_gain_fails_the_gain_check(kind: str) -> None:
    doc = builtin_doc()
    doc["metadata"]["gain"] = WRONG[kind]
    report = audit.audit_loaded(read_nam(doc), standard(), Options())
    gain = checks(report)["metadata_gain"]
    assert gain.passed is False and gain.reason == "wrong_type"
    assert gain.detail.startswith("metadata.gain is ") and "not a number" in gain.detail
    assert gain.measured == measured_gain()
    assert report.status == "failed"
    assert not any(w.startswith("metadata.gain: missing") for w in report.warnings)
    assert any(w.startswith("metadata.gain: expected a number") for w in report.warnings)


@pytest.mark.parametrize("value", ["n/a", 3, [1, 2]])
def test_metadata_not_an_object_fails_loudness_and_gain(value: Any) -> None:
    doc = builtin_doc()
    doc["metadata"] = value
    report = audit.audit_loaded(read_nam(doc), standard(), Options())
    for name in ("metadata_loudness", "metadata_gain"):
        check = checks(report)[name]
        assert check.passed is False and check.reason == "wrong_type", name
        assert check.detail.startswith("metadata is ") and "not an object" in check.detail


def test_wrong_type_fails_whatever_the_signal() -> None:
    """The type is wrong on any signal; a measured value is quoted only on the standard."""
    doc = builtin_doc()
    doc["metadata"]["gain"] = "high"
    report = audit.run(doc, signal=Signal.default())
    gain = checks(report)["metadata_gain"]
    assert gain.passed is False and gain.measured is None and "; measured" not in gain.detail


def test_a_submodels_wrong_typed_gain_is_named_by_its_path() -> None:
    sub = linear_doc()
    sub["metadata"] = {"gain": "x"}
    report = audit.audit_loaded(read_nam(container_doc([(0.5, sub), (1.0, builtin_doc())])),
                                standard(), Options())
    check = checks(report)["metadata_gain.submodel0"]
    assert check.reason == "wrong_type"
    assert check.detail.startswith("config.submodels[0].model.metadata.gain is string")
    assert checks(report)["metadata_gain"].reason != "wrong_type"


def test_audit_cli_exits_1(tmp_path: Path, capsys: Any) -> None:
    doc = builtin_doc()
    doc["metadata"]["gain"] = "high"
    (tmp_path / "m.nam").write_text(json.dumps(doc))
    assert main(["audit", str(tmp_path / "m.nam"), "--builtin-signal"]) == 1
    assert 'metadata.gain is string "high", not a number' in capsys.readouterr().out


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_stamp_writes_a_number_in_place_of_a_wrong_typed_gain(kind: str,
                                                              tmp_path: Path) -> None:
    doc = builtin_doc()
    doc["metadata"] = {"name": "kept", "gain": WRONG[kind], "loudness": -20.0}
    text = json.dumps(doc, indent=3)
    source = tmp_path / "m.nam"
    source.write_text(text)
    report = stamp.run(source, tmp_path / "o.nam", signal=standard())
    assert report.status == "passed", report.checks
    loud = audit.audit_loaded(read_nam(builtin_doc()), standard(), Options()).levels[0]
    gain_text = json.dumps(WRONG[kind], indent=3).replace("\n", "\n" + " " * 6)
    expected = text.replace(f'"gain": {gain_text}', f'"gain": {measured_gain()!r}').replace(
        '"loudness": -20.0', f'"loudness": {loud["loudness_db"]!r}')
    assert expected != text and (tmp_path / "o.nam").read_text() == expected
    assert any(c.startswith("metadata.gain: ") and "wrong type" in c for c in report.changes)
    again = audit.audit_model(tmp_path / "o.nam", standard(), Options())
    assert checks(again)["metadata_gain"].passed is True


def test_stamp_replaces_a_metadata_that_is_not_an_object(tmp_path: Path) -> None:
    doc = builtin_doc()
    doc["metadata"] = "n/a"
    source = tmp_path / "m.nam"
    source.write_text(json.dumps(doc, indent=2))
    report = stamp.run(source, tmp_path / "o.nam", signal=standard())
    assert report.status == "passed"
    assert report.changes[0] == ('metadata: string "n/a" (wrong type, ignored by the '
                                 'runtime) -> an object')
    written = json.loads((tmp_path / "o.nam").read_text())
    assert written["metadata"] == {"loudness": written["metadata"]["loudness"],
                                   "gain": measured_gain()}
    assert {k: v for k, v in written.items() if k != "metadata"} == {
        k: v for k, v in doc.items() if k != "metadata"}


def test_stamp_repairs_a_submodels_gain(tmp_path: Path) -> None:
    sub = linear_doc()
    sub["metadata"] = {"gain": True}
    doc = container_doc([(0.5, sub), (1.0, builtin_doc())])
    source = tmp_path / "c.nam"
    source.write_text(json.dumps(doc, indent=2))
    report = stamp.run(source, tmp_path / "o.nam", signal=standard())
    assert report.error is None
    assert any(c.startswith("config.submodels[0].model.metadata.gain: true (wrong type")
               for c in report.changes)
    gain = read_nam(tmp_path / "o.nam").submodels[0].model.gain
    assert isinstance(gain, float) and 0.0 <= gain <= 1.0


def test_wrong_typed_loudness_is_refused_as_the_runtime_refuses_it(tmp_path: Path) -> None:
    """(Not audited: the runtime's get<double> throws on it; exit 2 naming the path.)"""
    doc = builtin_doc()
    doc["metadata"]["loudness"] = "loud"
    report = audit.run(doc, signal=standard())
    assert report.status == "error" and "metadata.loudness" in (report.error or "")


def test_every_documented_row_names_a_test_here() -> None:
    """docs/runtime_reading.md's rows that cite this module name tests that exist."""
    import re

    from conftest import ROOT

    text = (ROOT / "docs" / "runtime_reading.md").read_text()
    named = set(re.findall(r"`test_metadata_types::(\w+)`", text))
    assert len(named) >= 6 and named - set(globals()) == set()
