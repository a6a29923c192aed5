"""The `.nam` format module: validation, one-line errors, warnings, round trip, atomic write."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, needs_fixtures
from namcheck.harness.cli import main
from namcheck.models import NamFileError, read_nam, write_nam
from namcheck.models.examples import builtin_doc, wavenet_doc


def container_doc(values: list[float]) -> dict[str, Any]:
    return {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],
            "sample_rate": 48000,
            "config": {"submodels": [{"max_value": v, "model": builtin_doc()} for v in values]}}


def edited(edit: Any) -> dict[str, Any]:
    doc = builtin_doc()
    edit(doc)
    return doc


BAD: dict[str, tuple[Any, str]] = {
    # name: (file content: str is written raw, else JSON-encoded; expected error text)
    "not_json": ("{'architecture': 1", "not valid JSON"),
    "empty": ("", "empty file"),
    "top_level_list": ([1, 2], "expected a JSON object at the top level, got list"),
    "no_architecture": (edited(lambda d: d.pop("architecture")), "architecture: required key"),
    "no_config": (edited(lambda d: d.pop("config")), "config: required key is missing"),
    "no_weights": (edited(lambda d: d.pop("weights")), "weights: required key is missing"),
    "unknown_architecture": (edited(lambda d: d.update(architecture="Transformer")),
                             "architecture: unknown architecture \"Transformer\""),
    "too_few_weights": (edited(lambda d: d["weights"].pop()),
                        "weights: expected 842 weights for this config, found 841"),
    "too_many_weights": (edited(lambda d: d["weights"].append(0.0)),
                         "weights: expected 842 weights for this config, found 843"),
    "nan_weight": (edited(lambda d: d["weights"].__setitem__(7, math.nan)),
                   "weights[7]: weight is nan"),
    "inf_weight": (edited(lambda d: d["weights"].__setitem__(3, math.inf)),
                   "weights[3]: weight is inf"),
    "string_weight": (edited(lambda d: d["weights"].__setitem__(5, "0.1")),
                      "weights[5]: expected a number"),
    "zero_channels": (edited(lambda d: d["config"]["layers"][1].update(channels=0)),
                      "config.layers[1].channels: expected a positive integer, got 0"),
    "zero_kernel": (edited(lambda d: d["config"]["layers"][0].update(kernel_size=0)),
                    "config.layers[0].kernel_size: expected a positive integer, got 0"),
    "negative_dilation": (edited(lambda d: d["config"]["layers"][1]["dilations"].__setitem__(
        2, -4)), "config.layers[1].dilations[2]: expected a positive integer, got -4"),
    "unknown_activation": (edited(lambda d: d["config"]["layers"][0].update(
        activation="Softsigmoid")), "config.layers[0].activation: unknown activation"),
    "both_kernel_forms": (edited(lambda d: d["config"]["layers"][0].update(
        kernel_sizes=[3] * 7)), "config.layers[0]: only one of kernel_size and kernel_sizes"),
    "bad_version": (edited(lambda d: d.update(version="0.8.0")), "version: version 0.8.0 is not"),
    "container_empty": (container_doc([]), "config.submodels: expected a non-empty list"),
    "container_not_ascending": (container_doc([0.5, 0.5, 1.0]),
                                "config.submodels[1].max_value: max_value must be strictly"),
    "container_last_below_one": (container_doc([0.3, 0.9]),
                                 "config.submodels[1].max_value: the last max_value must be >= 1"),
    "container_bad_submodel": (
        {**container_doc([1.0]), "config": {"submodels": [{"max_value": 1.0, "model": edited(
            lambda d: d["weights"].pop())}]}},
        "config.submodels[0].model.weights: expected 842 weights"),
}


def write_raw(path: Path, content: Any) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_gives_one_line_and_exit_2(case: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    content, expected = BAD[case]
    path = tmp_path / f"{case}.nam"
    write_raw(path, content)
    with pytest.raises(NamFileError) as info:
        read_nam(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_cli_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.nam"
    path.write_text("[]")
    proc = subprocess.run([sys.executable, "-m", "namcheck.harness.cli", "inspect", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("expected a JSON object at the top level, got list")


def test_head_scale_disagreement_and_negative_are_warnings() -> None:
    doc = builtin_doc()
    doc["weights"][-1] = -0.5
    model = read_nam(doc)
    messages = [str(w) for w in model.warnings]
    assert any("config head_scale 0.02 differs from weights[-1] -0.5" in m for m in messages)
    assert any("negative head_scale" in m for m in messages)
    assert model.head_scale == -0.5 and model.head_scale_config == 0.02


def test_unknown_keys_survive_round_trip(tmp_path: Path) -> None:
    doc = builtin_doc()
    doc["notes"] = ["kept"]
    doc["config"]["layers"][0]["future_option"] = {"x": 1}
    target = tmp_path / "m.nam"
    write_nam(read_nam(doc), target)
    again = json.loads(target.read_text())
    assert again == doc


def test_write_is_atomic_and_refuses_invalid(tmp_path: Path) -> None:
    target = tmp_path / "m.nam"
    write_nam(builtin_doc(), target)
    before = target.read_bytes()
    broken = builtin_doc()
    broken["weights"].pop()
    with pytest.raises(NamFileError):
        write_nam(broken, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nam"]  # no temp file left behind


def test_weight_count_from_config_alone() -> None:
    """Count an A1-style config by hand: rechannel + per layer (conv, mixer, 1x1) + head."""
    layers = [{"input_size": 1, "condition_size": 1, "channels": 3, "kernel_size": 2,
               "dilations": [1, 2], "activation": "Tanh",
               "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}]
    doc = wavenet_doc(layers, seed=0)
    per_layer = (3 * 3 * 2 + 3) + 3 + (3 * 3 + 3)  # conv+bias, mixer, layer1x1+bias
    by_hand = 3 + 2 * per_layer + (3 + 1) + 1  # rechannel, layers, head+bias, head_scale
    assert read_nam(doc).expected_weight_count == by_hand == len(doc["weights"])


@needs_fixtures
@pytest.mark.parametrize("path", sorted(str(p.relative_to(FIXTURES))
                                        for p in FIXTURES.rglob("*.nam"))
                         if FIXTURES.is_dir() else [])
def test_every_fixture_validates_and_inspects(path: str, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    model = read_nam(FIXTURES / path)
    assert model.parameter_count > 0
    assert main(["inspect", str(FIXTURES / path), "--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    assert isinstance(infos, list) and len(infos) == 1
    info = infos[0]
    assert info["architecture"] == model.architecture
    if model.submodels:
        assert [s["max_value"] for s in info["submodels"]] == [
            s.max_value for s in model.submodels]
