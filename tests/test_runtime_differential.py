"""namcheck against NeuralAmpModelerCore itself: several hundred file variants, each played
by the runtime's `render` tool and by `namcheck render`; they must agree on accept/refuse
and, where both play, on the output within the forward bound.

Runs when NAMCHECK_CORE_RENDER names the runtime's `render` binary (built outside the repo
from NeuralAmpModelerCore's public source; never vendored); skips by name otherwise:

    NAMCHECK_CORE_RENDER=/path/to/render pytest tests/test_runtime_differential.py

Variants come by family from small seeded models (tests/nam_variants.py): encodings, a null
per key, a missing key, type swaps, integers written as floats, versions, sample rates,
metadata shapes, weight-list edits, containers and condition DSPs. The runtime's renders run
in parallel subprocesses; namcheck's run in this process (its float64 reference: the bound
is the derived float32 bound of the runtime's forward, models/numerics.forward_tolerance).

Where the runtime plays a file only through undefined behaviour (a key read without a check,
an LSTM read past its weights) namcheck refuses by design (docs/runtime_reading.md); such
variants are marked `ub`: namcheck refusing them agrees whatever the runtime happens to do
(reading such a key without a check is undefined even where a fast path reads it safely).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from nam_variants import (
    DELETE,
    a2_shaped,
    batchnorm_convnet,
    featured_wavenet,
    gated_wavenet,
    leaves,
    legacy_wavenet,
    mixed_container,
    setter,
    small_convnet,
    small_wavenet,
    two_lstms,
    with_dsp,
)

from namcheck.harness.cli import main
from namcheck.models import read_nam
from namcheck.models.examples import linear_doc, lstm_doc
from namcheck.models.numerics import forward_tolerance, peak_relative_error

RENDER = os.environ.get("NAMCHECK_CORE_RENDER", "")
pytestmark = pytest.mark.skipif(
    not (RENDER and Path(RENDER).is_file() and os.access(RENDER, os.X_OK)),
    reason="NAMCHECK_CORE_RENDER does not name NeuralAmpModelerCore's render binary")

SECONDS = 0.1  # of signal per render: enough to cover every base model's receptive field
Doc = dict[str, Any]


@dataclass(frozen=True)
class Variant:
    data: bytes
    rate: int  # of the WAV both play
    ub: bool = False  # the runtime plays it only through undefined behaviour


BASES: dict[str, Callable[[], Doc]] = {
    "wavenet": small_wavenet,
    "featured": featured_wavenet,
    "gated": gated_wavenet,
    "legacy": legacy_wavenet,
    "a2": a2_shaped,
    "dsp": with_dsp,
    "lstm": lambda: lstm_doc(3, seed=11),
    "linear": lambda: linear_doc(8, seed=12),
    "convnet": small_convnet,
    "batchnorm": batchnorm_convnet,
    "container": two_lstms,
    "mixed": mixed_container,
}
# Keys the runtime reads without checking that they are there (a const operator[] or a
# nested model's top level: RUNTIME_READING.md §3.3); missing, they are undefined behaviour.
UNCHECKED = {"layers", "head_scale", "num_layers", "input_size", "hidden_size",
             "receptive_field", "bias", "channels", "dilations", "batchnorm", "activation",
             "type", "version", "architecture", "config", "active", "groups", "out_channels"}


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, indent=2).encode()


def _rate_of(doc: Doc) -> int:
    rate = doc.get("sample_rate") if isinstance(doc, dict) else None
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
        return int(rate) if rate in (44100, 48000, 96000) else 48000
    return 48000


def _edited(base: Doc, edit: Callable[[Doc], Any]) -> Doc:
    doc = copy.deepcopy(base)
    result = edit(doc)
    return doc if result is None else result


# Bases whose every key also gets type swaps and integers written as floats (the others get a
# null and a missing key per key); bases that also get the encoding, version and metadata
# families.
SWAPPED = {"wavenet", "featured", "a2", "lstm", "linear", "convnet"}
ENCODED = {"wavenet", "lstm", "container"}


def _families(name: str, base: Doc) -> Iterator[tuple[str, Doc | bytes, bool]]:
    """(variant name, document or file bytes, ub) for one base model."""
    for path, value in leaves(base):
        if path.startswith("metadata.") or path == "weights" or "weights[" in path:
            continue
        key = path.rsplit(".", 1)[-1]
        yield f"null:{path}", _edited(base, setter(path, None)), False
        if not key.endswith("]"):
            ub = key in UNCHECKED
            yield f"missing:{path}", _edited(base, setter(path, DELETE)), ub
        if name not in SWAPPED:
            continue
        if isinstance(value, bool):
            yield f"swap:{path}=1", _edited(base, setter(path, int(value))), False
        elif isinstance(value, int):
            yield f"swap:{path}=str", _edited(base, setter(path, str(value))), False
            if value == 1:
                yield f"swap:{path}=true", _edited(base, setter(path, True)), False
            if path not in ("sample_rate",) and not path.endswith("max_value"):
                yield f"float:{path}", _edited(base, setter(path, float(value))), False
                if value >= 0:
                    yield f"trunc:{path}", _edited(base, setter(path, value + 0.9)), False
        elif isinstance(value, float):
            yield f"swap:{path}=true", _edited(base, setter(path, True)), False
        elif isinstance(value, str):
            yield f"swap:{path}=3", _edited(base, setter(path, 3)), False
        elif isinstance(value, dict) and value:
            yield f"swap:{path}=false", _edited(base, setter(path, False)), False
        elif isinstance(value, list) and value:
            yield f"swap:{path}=scalar", _edited(base, setter(path, value[0])), False


def _common(name: str, base: Doc) -> Iterator[tuple[str, Doc | bytes, bool]]:
    """Encodings, versions, sample rates, metadata and weight lists of one base."""
    yield from _rates_and_weights(base)
    if name not in ENCODED:
        return
    data = _encode(base)
    text = data.decode()
    yield "bom", b"\xef\xbb\xbf" + data, False
    yield "bom_twice", b"\xef\xbb\xbf" * 2 + data, False
    yield "crlf", data.replace(b"\n", b"\r\n"), False
    yield "trailing_text", data + b"garbage<html>", False
    yield "trailing_nul", data + b"\0" * 16, False
    yield "second_object", data + data, False
    yield "truncated", data[: len(data) * 6 // 10], False
    yield "comment", b"// saved by hand\n" + data, False
    yield "utf16", text.encode("utf-16"), False
    yield "trailing_comma", (text[: text.rindex("}")] + ",}").encode(), False
    for version in ("0.5.0", "0.6.1", "0.7.0", "0.7.3", "0.8.0", "0.4.9", "1.0.0", "0.7",
                    "00.07.00", "0.7.0 ", "v0.7.0"):
        yield f"version:{version}", _edited(base, setter("version", version)), False
    for meta in (DELETE, None, "n/a", [1], 3, {}, {"loudness": None}, {"loudness": "-18"},
                 {"loudness": True}, {"loudness": -18}, {"gain": "high"},
                 {"input_level_dbu": [1]}, {"output_level_dbu": 12.5}, {"name": 5}):
        yield f"metadata:{json.dumps(meta) if meta is not DELETE else 'absent'}", _edited(
            base, setter("metadata", meta)), False


def _rates_and_weights(base: Doc) -> Iterator[tuple[str, Doc | bytes, bool]]:
    for rate in (DELETE, None, -1, 0, -48000, 44100, 48000, 48000.0, 96000, "48000", True):
        yield f"sample_rate:{rate!r}", _edited(base, setter("sample_rate", rate)), False
    n = len(base["weights"])
    lstm = base["architecture"] == "LSTM"
    weights = {
        "extra": lambda d: d["weights"].append(0.125),
        "short": lambda d: d["weights"].pop(),
        "empty": lambda d: d["weights"].clear(),
        "bool": lambda d: d["weights"].__setitem__(min(1, n - 1), True),
        "int": lambda d: d["weights"].__setitem__(min(2, n - 1), 1),
        "string": lambda d: d["weights"].__setitem__(0, "0.1"),
        "null": lambda d: d["weights"].__setitem__(0, None),
        "nested": lambda d: d["weights"].__setitem__(0, [0.1]),
    }
    if n:
        for label, edit in weights.items():
            yield f"weights:{label}", _edited(base, edit), lstm and label in ("short", "empty")


def _nested() -> Iterator[tuple[str, Doc, bool]]:
    """Container and condition-DSP rules across nested models."""
    for rate in (DELETE, None, -1, 0, 44100, 48000, "48000"):
        yield (f"container:sub_rate={rate!r}",
               _edited(two_lstms(), setter("config.submodels[0].model.sample_rate", rate)), False)
    for value in (0.5, 1.0, 0.4, True, "1", None):
        yield (f"container:max_value0={value!r}",
               _edited(two_lstms(), setter("config.submodels[0].max_value", value)), False)
    yield "container:last_max_0.9", _edited(two_lstms(), setter(
        "config.submodels[1].max_value", 0.9)), False
    yield "container:empty", _edited(two_lstms(), setter("config.submodels", [])), False
    yield "container:weights", _edited(two_lstms(), setter("weights", [1, 2, 3])), False
    for dsp_rate, rate in ((48000, 48000), (None, 48000), (48000, None), (None, None),
                           (44100, 48000), (0, None), (-1, None)):
        yield f"dsp:rates={dsp_rate},{rate}", with_dsp(dsp_rate, rate), False
    yield "dsp:null", _edited(small_wavenet(), setter("config.condition_dsp", None)), False
    yield "dsp:false", _edited(small_wavenet(), setter("config.condition_dsp", False)), False
    yield "dsp:version", _edited(with_dsp(), setter("config.condition_dsp.version",
                                                    "0.9.0")), False


def variants() -> dict[str, Variant]:
    out: dict[str, Variant] = {}
    seen: set[bytes] = set()
    items: list[tuple[str, Doc | bytes, bool]] = []
    for name, build in BASES.items():
        base = build()
        items += [(f"{name}/{v}", d, ub) for v, d, ub in _families(name, base)]
        items += [(f"{name}/{v}", d, ub) for v, d, ub in _common(name, base)]
    items += list(_nested())
    for name, doc, ub in items:
        data = doc if isinstance(doc, bytes) else _encode(doc)
        if data in seen:
            continue
        seen.add(data)
        rate = 48000 if isinstance(doc, bytes) else _rate_of(doc)
        out[name] = Variant(data, rate, ub)
    return out


VARIANTS = variants() if RENDER else {}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    """Every variant through the runtime's render, in parallel: name -> (verdict, folder)."""
    root = tmp_path_factory.mktemp("differential")
    rng = np.random.default_rng(0)
    for rate in (44100, 48000, 96000):
        n = int(SECONDS * rate)
        x = rng.standard_normal(n) * 0.3
        x[n // 2:] += 0.5  # a step
        sf.write(str(root / f"in_{rate}.wav"), x.astype(np.float32), rate, subtype="FLOAT")

    def run(item: tuple[str, Variant]) -> tuple[str, tuple[str, Path]]:
        name, variant = item
        folder = Path(tempfile.mkdtemp(dir=root))
        (folder / "m.nam").write_bytes(variant.data)
        proc = subprocess.run([RENDER, str(folder / "m.nam"), str(root / f"in_{variant.rate}.wav"),
                               str(folder / "runtime.wav")], capture_output=True, timeout=120,
                              check=False)
        plays = proc.returncode == 0 and (folder / "runtime.wav").is_file()
        return name, ("plays" if plays else "refuses", folder)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(pool.map(run, VARIANTS.items()))
    results["__root__"] = ("", root)
    return results


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_namcheck_reads_and_plays_as_the_runtime(name: str, runtime: dict[str, tuple[str, Path]],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    variant = VARIANTS[name]
    verdict, folder = runtime[name]
    root = runtime["__root__"][1]
    out = folder / "namcheck.wav"
    code = main(["render", str(folder / "m.nam"), str(root / f"in_{variant.rate}.wav"),
                 str(out), "--dtype", "float64", "--engine", "reference"])
    err = capsys.readouterr().err
    assert code in (0, 2), f"namcheck exit {code}: {err}"
    ours = "plays" if code == 0 else "refuses"
    if variant.ub and ours == "refuses":
        return  # the runtime reads a key it never checked: namcheck refuses by design
    assert ours == verdict, f"runtime {verdict}, namcheck {ours}: {err.strip()}"
    if ours == "plays":
        model = read_nam(folder / "m.nam")
        theirs, _ = sf.read(str(folder / "runtime.wav"), dtype="float64")
        mine, _ = sf.read(str(out), dtype="float64")
        assert theirs.shape == mine.shape
        error = peak_relative_error(torch.from_numpy(theirs), torch.from_numpy(mine))
        bound = forward_tolerance(model, torch.float32)
        assert error <= bound, f"peak-relative error {error:.3g} > bound {bound:.3g}"


def test_stamped_fixtures_load_in_the_runtime(tmp_path: Path) -> None:
    """`stamp` of the runtime's example files: each written file loads in the runtime, and
    its diff against the input touches only metadata lines."""
    from conftest import FIXTURES, NAMCORE

    if not NAMCORE.is_dir():
        pytest.skip(f"fixtures folder {FIXTURES} is absent (../shared/fixtures)")
    out = tmp_path / "out"
    signal = FIXTURES / "loudness_input.wav"
    assert main(["stamp", str(NAMCORE), "-o", str(out), "--signal", str(signal)]) in (0, 1)
    written = sorted(out.rglob("*.nam"))
    assert len(written) == len(list(NAMCORE.glob("*.nam")))
    for path in written:
        before = (NAMCORE / path.name).read_text().splitlines()
        after = path.read_text().splitlines()
        for line in difflib.unified_diff(before, after, n=0, lineterm=""):
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                body = line[1:].strip()
                assert (len(before) == 1 or any(k in body for k in ("loudness", "gain",
                                                                   "metadata"))
                        or body.rstrip(",") in ("]", "}", "") or body.endswith(",")
                        or body.rstrip(",") in {b.strip() for b in before}), line[:120]
        proc = subprocess.run([RENDER, str(path), str(NAMCORE / "input.wav"),
                               str(tmp_path / "o.wav")], capture_output=True, timeout=300,
                              check=False)
        assert proc.returncode == 0, (path.name, proc.stderr[-500:])
