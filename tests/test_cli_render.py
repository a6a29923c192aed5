"""`namcheck render` and `namcheck inspect` on the built-in model, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import NAMCORE, needs_fixtures
from namcheck.harness.cli import main
from namcheck.models import load, read_nam, write_nam
from namcheck.models.examples import builtin_doc
from namcheck.models.numerics import forward_tolerance, peak_relative_error


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "nano.nam"
    write_nam(builtin_doc(), path)
    return path


def write_input(path: Path, rate: int = 48000, n: int = 6000) -> np.ndarray:
    x = (0.5 * np.sin(np.arange(n) * 2 * np.pi * 220 / rate)).astype(np.float32)
    sf.write(str(path), x, rate, subtype="FLOAT")
    return x


@pytest.mark.parametrize("block", [None, 64, 1000])
def test_render_writes_the_forward(model_file: Path, tmp_path: Path, block: int | None) -> None:
    x = write_input(tmp_path / "in.wav")
    out = tmp_path / "out.wav"
    streaming = ["--block", str(block)] if block else []
    assert main(["render", str(model_file), str(tmp_path / "in.wav"), str(out),
                 *streaming]) == 0
    y, rate = sf.read(str(out), dtype="float32")
    assert rate == 48000 and sf.info(str(out)).subtype == "FLOAT"
    expected = load(model_file)(torch.from_numpy(x))
    model = read_nam(model_file)
    assert peak_relative_error(torch.from_numpy(y), expected) <= forward_tolerance(
        model, torch.float32, implementations=2)


def test_render_rate_mismatch_names_both(model_file: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_input(tmp_path / "in.wav", rate=44100)
    assert main(["render", str(model_file), str(tmp_path / "in.wav"),
                 str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert "44100 Hz" in err and "48000 Hz" in err
    assert not (tmp_path / "o.wav").exists()


def test_render_refuses_stereo(model_file: Path, tmp_path: Path) -> None:
    sf.write(str(tmp_path / "st.wav"), np.zeros((100, 2), np.float32), 48000)
    assert main(["render", str(model_file), str(tmp_path / "st.wav"),
                 str(tmp_path / "o.wav")]) == 2


def test_inspect_builtin_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json"]) == 0
    [info] = json.loads(capsys.readouterr().out)  # always a list
    assert info["parameters"] == 842 and info["receptive_field"] == 4093


@needs_fixtures
@pytest.mark.parametrize(("model", "slim"), [("A2.nam", 0.0), ("A2.nam", 0.4), ("A2.nam", 1.0),
                                             ("slimmable_wavenet.nam", 0.2),
                                             ("slimmable_wavenet.nam", 0.9),
                                             ("slimmable_container.nam", 0.1),
                                             ("slimmable_container.nam", 0.5),
                                             ("slimmable_container.nam", 1.0)])
def test_render_namcore_examples(model: str, slim: float, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    assert main(["render", str(NAMCORE / model), str(NAMCORE / "input.wav"), str(out),
                 "--slim", str(slim)]) == 0
    y, _ = sf.read(str(out))
    assert np.isfinite(y).all() and np.abs(y).max() > 0


def test_render_says_what_the_runtime_plays_despite(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A file the runtime plays with a fault (here a UTF-8 byte-order mark it skips) is
    rendered, with the warning inspect and audit give, on stderr (a new user's trial: render
    said nothing)."""
    bom = tmp_path / "bom.nam"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(builtin_doc()).encode())
    write_input(tmp_path / "in.wav")
    assert main(["render", str(bom), str(tmp_path / "in.wav"), str(tmp_path / "o.wav")]) == 0
    captured = capsys.readouterr()
    assert f"namcheck: {bom}: warning:" in captured.err and "byte-order mark" in captured.err
    assert "warning" not in captured.out
