"""How fast hostile files are refused: read + decode + the limit check that stops them
(models/format/limits.py). Issue target: < 1 s after the file is read; measured, not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from namcheck.models import NamFileError, read_nam
from namcheck.models.examples import builtin_doc


def _bomb(kind: str) -> str:
    doc = builtin_doc()
    layer = doc["config"]["layers"][0]
    if kind == "million_dilations":
        layer["dilations"] = [1] * 1_000_000
    elif kind == "dilation_2_30":
        layer["dilations"][0] = 2**30  # within int range: the receptive-field limit
    elif kind == "containers_150_deep":
        text = json.dumps(doc)
        for _ in range(150):
            text = ('{"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],'
                    ' "config": {"submodels": [{"max_value": 1.0, "model": ' + text + "}]}}")
        return text
    elif kind == "wrong_count_4m_weights":
        doc["weights"] = [0.125] * 4_000_000
    return json.dumps(doc)


@pytest.mark.parametrize("kind", ["million_dilations", "dilation_2_30", "containers_150_deep",
                                  "wrong_count_4m_weights"])
def test_refusal(benchmark, kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.nam"
    path.write_text(_bomb(kind))
    benchmark.extra_info["file_bytes"] = path.stat().st_size

    def refuse() -> str:
        try:
            read_nam(path)
        except NamFileError as exc:
            return str(exc)
        raise AssertionError("the file was accepted")

    assert "exceeds" in benchmark(refuse) or "expected 842 weights" in refuse()
