"""`namcheck stamp`: measured loudness/gain written where missing or wrong, nothing else
changed, atomically, never over an input without --in-place; a stamped file audits clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from conftest import FIXTURES, NAMCORE, needs_fixtures
from namcheck.harness.cli import main
from namcheck.models import read_nam, write_nam
from namcheck.models.examples import builtin_doc, container_doc, lstm_doc
from namcheck.signals.generate import default_signal


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, list[str]]:
    """Models with missing, wrong and right metadata; a signal treated as the standard."""
    signal = tmp_path / "standard.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="FLOAT")
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    wrong = builtin_doc()
    wrong["metadata"] = {"loudness": -20.0, "gain": 0.2, "name": "kept"}
    wrong["notes"] = ["an unknown key, kept"]
    write_nam(wrong, folder / "wrong.nam")
    write_nam(builtin_doc(), folder / "sub" / "missing.nam")
    write_nam(container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())]), folder / "c.nam")
    args = ["--signal", str(signal), "--standard-input"]
    return folder, args


def weights_of(doc: dict[str, Any]) -> list[Any]:
    out = list(doc["weights"])
    for entry in doc["config"].get("submodels", []) if isinstance(doc["config"], dict) else []:
        out += weights_of(entry["model"])
    return out


def without_levels(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with metadata.loudness/gain removed at every level."""
    doc = json.loads(json.dumps(doc))
    for node in [doc, *[e["model"] for e in doc["config"].get("submodels", [])]]:
        meta = node.get("metadata") or {}
        meta.pop("loudness", None)
        meta.pop("gain", None)
        if not meta:
            node.pop("metadata", None)
    return doc


def test_stamp_to_folder_then_audit_clean(corpus: tuple[Path, list[str]], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder, signal = corpus
    before = {p: p.read_bytes() for p in folder.rglob("*.nam")}
    out = tmp_path / "out"
    assert main(["stamp", str(folder), "-o", str(out), *signal]) == 0
    text = capsys.readouterr().out
    assert "metadata.loudness: -20.0000 dB -> " in text
    assert "metadata.loudness: (missing) -> " in text
    assert "(the top submodel's)" in text
    assert {p: p.read_bytes() for p in folder.rglob("*.nam")} == before  # inputs untouched
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.nam"))
    assert written == ["c.nam", "sub/missing.nam", "wrong.nam"]
    for path in out.rglob("*.nam"):
        new, old = json.loads(path.read_text()), json.loads((folder / path.relative_to(out))
                                                            .read_text())
        assert weights_of(new) == weights_of(old)  # value for value
        assert without_levels(new) == without_levels(old)  # every other key kept
    stamped = read_nam(out / "c.nam")
    top = stamped.submodels[-1].model
    assert (stamped.loudness, stamped.gain) == (top.loudness, top.gain)
    assert stamped.submodels[0].model.loudness is not None
    assert json.loads((out / "wrong.nam").read_text())["notes"] == ["an unknown key, kept"]
    code = main(["audit", str(out), *signal, "--json", "-"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0  # the container's one loudness cannot fit both submodels: a runtime
    # limitation, reported (and failed only with --fail-on-runtime-limits)
    by_name = {Path(m["path"]).name: m for m in report["models"]}
    for name in ("wrong.nam", "missing.nam"):
        assert by_name[name]["status"] == "passed", by_name[name]
    failing = [c["name"] for c in by_name["c.nam"]["checks"] if c["status"] == "fail"]
    limits = [c["name"] for c in by_name["c.nam"]["checks"] if c["status"] == "limitation"]
    assert failing == [] and limits == ["normalised_level_error[0<=slim<0.5]"]
    assert report["summary"]["runtime_limits"] == 1
    assert main(["audit", str(out), *signal, "--fail-on-runtime-limits"]) == 1


def test_stamp_in_place_dry_run_and_refusals(corpus: tuple[Path, list[str]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder, signal = corpus
    path = folder / "wrong.nam"
    before = path.read_bytes()
    assert main(["stamp", str(path), "--dry-run", *signal]) == 0
    assert "metadata.loudness: -20.0000 dB ->" in capsys.readouterr().out
    assert path.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == [
        "c.nam", "sub", "wrong.nam"]
    for args, expected in (([], "give exactly one of -o DIR and --in-place"),
                           (["-o", str(folder)], "is the input"),
                           (["--in-place", "--builtin-signal"], "unrecognized arguments"),
                           (["--in-place", "--signal", str(folder / "x.wav")],
                            "x.wav: no such file")):
        try:
            code = main(["stamp", str(path), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        err = capsys.readouterr().err
        assert code == 2 and expected in err and err.count("\n") == 1, (args, err)
    assert path.read_bytes() == before
    plain = folder / "plain.wav"
    sf.write(str(plain), default_signal(), 48000, subtype="FLOAT")
    assert main(["stamp", str(path), "--in-place", "--signal", str(plain)]) == 2
    assert "stamp needs NAM's standard loudness input" in capsys.readouterr().err
    assert main(["stamp", str(path), "--in-place", *signal]) == 0
    assert read_nam(path).loudness != -20.0
    again = path.read_bytes()
    assert main(["stamp", str(path), "--in-place", *signal]) == 0
    assert "already correct" in capsys.readouterr().out and path.read_bytes() == again


def test_stamp_in_place_leaves_a_read_only_file_as_it_is(
        corpus: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    """A rename in a writable folder would replace a read-only file: --in-place refuses it
    (exit 2, one line naming the file) and stamps the writable ones of the same run."""
    folder, signal = corpus
    locked, free = folder / "wrong.nam", folder / "c.nam"
    before = locked.read_bytes()
    locked.chmod(0o444)
    try:
        assert main(["stamp", str(locked), str(free), "--in-place", "--no-gain", *signal]) == 2
        out = capsys.readouterr()
        assert f"{locked}: read-only; left as it is" in out.out + out.err
        assert locked.read_bytes() == before and locked.stat().st_mode & 0o777 == 0o444
        assert read_nam(free).loudness is not None
    finally:
        locked.chmod(0o644)


def test_stamp_in_place_writes_through_a_link(corpus: tuple[Path, list[str]],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """--in-place on a symbolic link stamps the file it names and keeps the link (a rename
    over the link replaced it with a stamped copy, and the real file kept its old values);
    a hard-linked file is stamped under its name, with a warning that its other names keep
    the old content."""
    folder, signal = corpus
    real, link = folder / "wrong.nam", folder / "link.nam"
    link.symlink_to(real.name)
    assert main(["stamp", str(link), "--in-place", "--no-gain", *signal]) == 0
    assert link.is_symlink() and read_nam(real).loudness != -20.0
    capsys.readouterr()
    other = folder / "c.nam"
    hard = folder / "hard.nam"
    hard.hardlink_to(other)
    doc = json.loads(other.read_text())
    doc.setdefault("metadata", {})["loudness"] = -3.0
    other.write_text(json.dumps(doc))
    assert main(["stamp", str(hard), "--in-place", "--no-gain", *signal]) == 0
    assert "hard-linked (2 names)" in capsys.readouterr().out
    assert read_nam(hard).loudness != -3.0 and read_nam(other).loudness == -3.0


def test_stamp_refuses_a_silent_model(tmp_path: Path, corpus: tuple[Path, list[str]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, signal = corpus
    doc = builtin_doc()
    doc["weights"] = [0.0] * len(doc["weights"])
    doc["config"]["head_scale"] = 0.0
    path = tmp_path / "zero.nam"
    write_nam(doc, path)
    assert main(["stamp", str(path), "--in-place", *signal]) == 1
    assert "the output is silent" in capsys.readouterr().out
    assert read_nam(path).loudness is None


def test_killed_stamp_leaves_nothing_behind(corpus: tuple[Path, list[str]]) -> None:
    folder, signal = corpus
    originals = {p: p.read_bytes() for p in folder.rglob("*.nam")}
    for delay in np.random.default_rng(2).uniform(0.5, 4.0, size=5):
        proc = subprocess.Popen([sys.executable, "-m", "namcheck.harness.cli", "stamp",
                                 str(folder), "--in-place", "--no-gain", *signal],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
        for path, data in originals.items():
            read_nam(path)  # every file complete: old or stamped
            if path.read_bytes() != data:
                assert read_nam(path).loudness is not None
        originals = {p: p.read_bytes() for p in folder.rglob("*.nam")}


@needs_fixtures
def test_stamp_fixes_namcore_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    signal = ["--signal", str(FIXTURES / "loudness_input.wav")]
    names = ["wavenet_a2_max.nam", "lstm.nam"]
    out = tmp_path / "out"
    assert main(["stamp", *[str(NAMCORE / n) for n in names], "-o", str(out), *signal]) == 0
    text = capsys.readouterr().out
    assert "metadata.loudness: -20.0000 dB -> 19.38" in text  # plays ~ +19.38 dB
    # -38.07174 dB in float64; float32 forwards land either side of the printed digit's
    # boundary (the reference -38.071748, the fast engine -38.071751)
    assert re.search(r"metadata.loudness: -37.8407 dB -> -38.071[78] dB", text)
    for name in names:
        old, new = json.loads((NAMCORE / name).read_text()), json.loads((out / name)
                                                                         .read_text())
        assert new["weights"] == old["weights"]
        assert without_levels(new) == without_levels(old)
    assert main(["audit", str(out), *signal, "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [m["status"] for m in report["models"]] == ["passed", "passed"]


def test_a_new_output_folder_appears_only_with_a_written_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o NEW: checked before any work, but made by the first file written, so a run that
    writes nothing (here: every input unreadable; likewise Ctrl-C before the first file)
    leaves no empty folder behind; a run that writes makes it."""
    signal = tmp_path / "standard.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="FLOAT")
    bad = tmp_path / "bad.nam"
    bad.write_text("{")
    args = ["--signal", str(signal), "--standard-input"]
    assert main(["stamp", str(bad), "-o", str(tmp_path / "new"), *args]) == 2
    assert not (tmp_path / "new").exists()
    out = capsys.readouterr().out  # one header for the unreadable file, the table's
    assert out.count(f"== {bad}") == 1 and f"== {bad} (unreadable)" in out
    write_nam(builtin_doc(), tmp_path / "good.nam")
    assert main(["stamp", str(tmp_path / "good.nam"), "-o", str(tmp_path / "new"), *args]) == 0
    assert (tmp_path / "new" / "good.nam").is_file()


def test_stamp_json_edits_are_the_written_values(corpus: tuple[Path, list[str]], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The report's `edits` give every change as (path, before, after) values: `before` is
    what the input file stored, `after` what the written file now stores at that path."""
    folder, args = corpus
    out = tmp_path / "out"
    assert main(["stamp", str(folder), "-o", str(out), *args, "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema_version"] == "1.3"
    by_name = {Path(m["path"]).name: m for m in report["models"]}
    assert set(by_name) == {"wrong.nam", "missing.nam", "c.nam"}

    def at(doc: Any, path: str) -> Any:
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            if part.startswith("["):
                doc = doc[int(part[1:-1])]
            else:
                doc = doc.get(part) if isinstance(doc, dict) else None
        return doc

    for name, entry in by_name.items():
        source = next(folder.rglob(name))
        before, after = json.loads(source.read_text()), json.loads(next(out.rglob(name))
                                                                    .read_text())
        edits = entry["edits"]
        assert len(edits) == len(entry["changes"]) > 0
        for edit in edits:
            assert edit["before"] == at(before, edit["path"]), (name, edit)
            assert edit["after"] == at(after, edit["path"]), (name, edit)
    assert [e["path"] for e in by_name["missing.nam"]["edits"]] == ["metadata.loudness",
                                                                   "metadata.gain"]
    assert by_name["wrong.nam"]["edits"][0]["before"] == -20.0
    c = by_name["c.nam"]["edits"]
    top = {e["path"]: e["after"] for e in c if e["path"].startswith("metadata.")}
    last = {e["path"].rsplit(".", 2)[-2] + "." + e["path"].rsplit(".", 1)[-1]: e["after"]
            for e in c if e["path"].startswith("config.submodels[1]")}
    assert top == last and set(top) == {"metadata.loudness", "metadata.gain"}
