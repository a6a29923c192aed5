"""Several models of one shape in one forward (models/reference/batched.py) equal each
model run alone, and the batched gain sweeps equal each model's own gain_sweep.

The batched forward sums the same products as a single run in another order (batched
matmuls, or a grouped conv1d, instead of one addmm per tap), so each side rounds on its own:
the bound is forward_tolerance(model, dtype, implementations=2), the project's derived
peak-relative bound for two forwards that both round (models/numerics.py).
"""

from __future__ import annotations

import copy
from typing import Any

import nam_variants as V
import numpy as np
import pytest
import torch

from conftest import DEVICES
from namcheck.models.examples import convnet_doc, linear_doc, lstm_doc
from namcheck.models.format import NamModel, read_nam
from namcheck.models.numerics import forward_tolerance, peak_relative_error
from namcheck.models.reference.batched import ModelBatch, group_by_shape, shape_key
from namcheck.models.reference.loader import load
from namcheck.signals.levels import gain_sweep, gain_sweeps

DOCS = {
    "wavenet": V.small_wavenet,
    "gated": V.gated_wavenet,
    "featured": V.featured_wavenet,  # FiLM, grouped layer1x1, head1x1, post-stack head
    # (A1- and A2-sized models batch the same code; their long receptive fields make
    # these CPU tests slow: benchmarks/gpu_check.py runs A1 standard batched on a GPU)
    "condition_dsp": V.with_dsp,
    "convnet": V.small_convnet,
    "batchnorm_convnet": V.batchnorm_convnet,  # tensors computed from several weights
    "linear": lambda: linear_doc(taps=12),
}


def variants(doc: dict[str, Any], count: int) -> list[NamModel]:
    """`count` models of the doc's shape with different weights (each its own seed; the
    condition DSP's weights are redrawn too)."""
    out = []
    for i in range(count):
        d = copy.deepcopy(doc)
        rng = np.random.default_rng(100 + i)
        inner = d
        while inner is not None:
            w = np.asarray(inner["weights"], dtype=np.float64)
            inner["weights"] = (w * rng.uniform(0.5, 1.5, w.shape)).tolist()
            inner = inner.get("config", {}).get("condition_dsp")
        out.append(read_nam(d))
    return out


def signals(rows: int, n: int = 700) -> torch.Tensor:
    rng = np.random.default_rng(7)
    return torch.from_numpy(0.4 * rng.standard_normal((rows, n)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("conv", ["matmul", "torch"])
@pytest.mark.parametrize("name", list(DOCS))
def test_batched_forward_equals_each_model_alone(name: str, conv: str,
                                                 dtype: torch.dtype) -> None:
    models = variants(DOCS[name](), 3)
    batch = ModelBatch(models, dtype=dtype, conv=conv)
    x = signals(2)
    y = batch(x)
    assert y.shape == (3, 2, x.shape[-1]) and y.dtype == dtype
    for m, model in enumerate(models):
        alone = load(model, dtype=dtype)(x)
        bound = forward_tolerance(model, dtype, implementations=2)
        assert peak_relative_error(y[m], alone) <= bound, (m, batch)
    # the models differ: a batch that ran model 0's weights for all would fail above
    assert peak_relative_error(y[1], y[0]) > 1e-3


def test_gathered_weights_are_the_models_own() -> None:
    """Weights are gathered from the stacked weight rows where the reference copies entries
    (checked bit for bit against model 0's build), built one by one where it computes
    them (batchnorm folding)."""
    assert ModelBatch(variants(V.featured_wavenet(), 2)).gathered
    assert ModelBatch(variants(V.with_dsp(), 2)).gathered
    assert not ModelBatch(variants(V.batchnorm_convnet(), 2)).gathered


def test_per_model_signals_and_a_split_plan() -> None:
    """(M, S, N) input gives each model its own signals; a memory budget too small for
    one launch splits models and time (recomputing R - 1 samples of context per piece)
    without changing the result."""
    models = variants(V.small_wavenet(), 3)
    x = torch.stack([signals(2) * (1 + m) for m in range(3)])
    whole = ModelBatch(models, dtype=torch.float64)
    small = ModelBatch(models, dtype=torch.float64, memory=40_000)
    per_launch, piece = small.plan(2, x.shape[-1])
    assert per_launch < 3 and piece < x.shape[-1]
    assert whole.plan(2, x.shape[-1]) == (3, x.shape[-1])
    y, y_small = whole(x), small(x)
    for m, model in enumerate(models):
        alone = load(model, dtype=torch.float64)(x[m])
        bound = forward_tolerance(model, torch.float64, implementations=2)
        assert peak_relative_error(y[m], alone) <= bound
        assert peak_relative_error(y_small[m], alone) <= bound


def test_gain_sweeps_equal_each_models_gain_sweep() -> None:
    models = variants(V.gated_wavenet(), 3)
    x = signals(1, 900)[0]
    swept = gain_sweeps(ModelBatch(models, dtype=torch.float64), x)
    assert len(swept) == 3
    for model, (out, levels) in zip(models, swept, strict=True):
        net = load(model, dtype=torch.float64)
        out1, levels1 = gain_sweep(net, x)
        bound = forward_tolerance(model, torch.float64, implementations=2)
        assert peak_relative_error(out, out1) <= bound
        assert levels is not None and len(levels) == len(levels1) == 11
        # an RMS is a mean of squares of the output: relative error at most twice the
        # output's peak-relative error times the crest factor (here < 20)
        for a, b in zip(levels, levels1, strict=True):
            assert a == pytest.approx(b, rel=2 * 20 * bound, abs=1e-300)
    outs = gain_sweeps(ModelBatch(models, dtype=torch.float64), x, with_gain=False)
    assert all(levels is None for _, levels in outs)
    assert torch.equal(outs[1][0], swept[1][0])


def test_shape_keys_group_models_that_batch() -> None:
    a = variants(V.small_wavenet(), 2)
    b = variants(V.gated_wavenet(), 1)
    lstm = read_nam(lstm_doc())
    container = read_nam(V.mixed_container())
    groups, alone = group_by_shape([a[0], b[0], lstm, a[1], container])
    assert groups == [[0, 3], [1]] and alone == [2, 4]
    assert shape_key(lstm) is None and shape_key(container) is None
    assert shape_key(read_nam(convnet_doc(seed=1))) == shape_key(read_nam(convnet_doc(seed=2)))


def test_what_cannot_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ModelBatch([])
    with pytest.raises(ValueError, match="cannot batch"):
        ModelBatch([read_nam(lstm_doc())])
    with pytest.raises(ValueError, match="different shapes"):
        ModelBatch([read_nam(V.small_wavenet()), read_nam(V.gated_wavenet())])
    with pytest.raises(ValueError, match="conv"):
        ModelBatch(variants(V.small_wavenet(), 1), conv="taps")
    with pytest.raises(ValueError, match="expected"):
        ModelBatch(variants(V.small_wavenet(), 2))(torch.zeros(3, 2, 10))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_batched_forward_on_each_device(device: str, dtype: torch.dtype) -> None:
    """The batch on the device (CUDA where present, skipped by name otherwise) against
    each model alone on the CPU in float64: both round (the device side in `dtype`)."""
    models = variants(V.featured_wavenet(), 3)
    x = signals(2)
    y = ModelBatch(models, dtype=dtype, device=device)(x)
    assert y.device.type == device
    for m, model in enumerate(models):
        exact = load(model, dtype=torch.float64)(x)
        bound = forward_tolerance(model, dtype) + forward_tolerance(model, torch.float64)
        assert peak_relative_error(y[m], exact) <= bound


def batching_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """measure_many (harness/core.py) batches on CUDA only: let it batch on the CPU, and
    return the list that records the size of each ModelBatch made."""
    from namcheck.harness import core

    sizes: list[int] = []

    class Spy(ModelBatch):
        def __init__(self, models: list[NamModel], **kw: Any) -> None:
            sizes.append(len(models))
            super().__init__(models, **kw)

    monkeypatch.setattr(core, "BATCH_DEVICES", ("cpu",))
    monkeypatch.setattr(core, "ModelBatch", Spy)
    return sizes


def test_measure_many_batches_models_of_one_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """measure_many (harness/core.py) batches on CUDA only; let it batch on the CPU here:
    each Measurement equals its own measure() within the bound, with the same engine and
    bound, the same-shape models ran as one ModelBatch and the others alone."""
    from namcheck.harness import core

    sizes = batching_on_the_cpu(monkeypatch)
    lstm = read_nam({**lstm_doc(), "sample_rate": 128})
    models = [*variants(V.gated_wavenet(), 3), lstm, read_nam(convnet_doc())]
    signal = core.Signal(signals(1, 900)[0].numpy(), 48000, "noise", False)
    opts = core.Options(dtype=torch.float64)  # auto: the reference, with the reason why
    many = core.measure_many(models, signal, opts)
    assert sizes == [3]
    for model, got in zip(models, many, strict=True):
        want = core.measure(model, signal, opts)
        assert (got.engine, got.bound, got.engine_note) == (want.engine, want.bound,
                                                             want.engine_note)
        assert got.engine == "reference" and got.engine_note
        bound = forward_tolerance(model, torch.float64, implementations=2)
        assert peak_relative_error(got.output, want.output) <= bound
        assert got.levels == pytest.approx(want.levels, rel=1e-9)


def test_verify_reports_the_same_with_batched_scales(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify's scale sweep measured as one batch gives the report a run model by model
    gives: the same checks, in the same order, with the same verdicts."""
    from namcheck.harness import core
    from namcheck.harness.verify import verify_model

    model = read_nam(V.gated_wavenet())
    signal = core.Signal(signals(1, 900)[0].numpy(), 48000, "noise", False)
    opts = core.Options(dtype=torch.float64, engine="reference")
    scales = [0.5, 2.0, -1.0]  # (the reference hook refuses -1: its place is kept)
    alone = verify_model(model, scales, "reference", signal, opts)
    monkeypatch.setattr(core, "BATCH_DEVICES", ("cpu",))
    batched = verify_model(model, scales, "reference", signal, opts)
    assert [(c.name, c.scale, c.passed) for c in batched.checks] == [
        (c.name, c.scale, c.passed) for c in alone.checks]
    assert batched.unverified == alone.unverified and batched.status == alone.status
    assert any(c.name.startswith("loudness_shift") and c.passed for c in batched.checks)


def test_audit_of_a_container_reports_the_same_batched(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """An audit measures a container and each submodel: those of one shape (here the
    container's played submodel and both submodels) run as one batch where measure_many
    batches, and the report is the one a run model by model gives."""
    from namcheck.harness import core
    from namcheck.harness.audit import audit_loaded
    from namcheck.models.examples import container_doc

    doc = V.small_wavenet()
    other = copy.deepcopy(doc)
    other["weights"] = (np.asarray(other["weights"]) * 0.7).tolist()
    model = read_nam(container_doc([(0.5, doc), (1.0, other)]))
    signal = core.Signal(signals(1, 900)[0].numpy(), 48000, "noise", False)
    opts = core.Options(dtype=torch.float64, engine="reference")
    alone = audit_loaded(model, signal, opts)
    sizes = batching_on_the_cpu(monkeypatch)
    batched = audit_loaded(model, signal, opts)
    assert sizes == [3]
    assert [(c.name, c.passed) for c in batched.checks] == [
        (c.name, c.passed) for c in alone.checks]
    for a, b in zip(batched.levels, alone.levels, strict=True):
        assert a["loudness_db"] == pytest.approx(b["loudness_db"], abs=1e-9)
        assert a["gain"] == pytest.approx(b["gain"], abs=1e-9)


def test_corpus_audit_batches_across_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Any
                                           ) -> None:
    """`audit DIR` in one process on a device that batches: files of one shape (here three
    WaveNets of one config with other weights) run as one batched forward across files, a
    file of another shape and an unreadable file keep their own reports, and every report
    is the one an unbatched audit gives (same checks and verdicts, levels within the
    forward's rounding)."""
    import json

    from namcheck.harness import core
    from namcheck.harness.audit import audit_files

    docs = [V.gated_wavenet()]
    for k in (0.7, 1.3):
        other = copy.deepcopy(docs[0])
        other["weights"] = (np.asarray(other["weights"]) * k).tolist()
        docs.append(other)
    paths = []
    for i, doc in enumerate([docs[0], lstm_doc(), docs[1], docs[2]]):
        paths.append(tmp_path / f"m{i}.nam")
        paths[-1].write_text(json.dumps(doc))
    paths.insert(2, tmp_path / "broken.nam")
    paths[2].write_text("{")
    signal = core.Signal(signals(1, 900)[0].numpy(), 48000, "noise", False)
    opts = core.Options(dtype=torch.float64, engine="reference")
    alone = audit_files(paths, signal, opts)
    sizes = batching_on_the_cpu(monkeypatch)
    batched = audit_files(paths, signal, opts)
    assert sizes == [3]
    assert [r.path for r in batched] == [r.path for r in alone]
    assert batched[2].error and batched[2].error == alone[2].error
    for b, a in zip(batched, alone, strict=True):
        assert [(c.name, c.passed) for c in b.checks] == [(c.name, c.passed) for c in a.checks]
        assert b.status == a.status
        for lb, la in zip(b.levels, a.levels, strict=True):
            assert lb["loudness_db"] == pytest.approx(la["loudness_db"], abs=1e-9)


@pytest.mark.parametrize("name", ["wavenet", "gated"])
def test_verify_measures_before_and_after_the_hook_in_one_batch(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """verify's exact checks (linearity, loudness_shift, gain_invariant: 4 eps) hold only
    where the model before the hook and after it run the same arithmetic. On an H200 the
    model measured alone and its scaled copies measured as one batch differed by 6.1e-7
    of the peak (linearity failed the built-in model in float32). Where measure_many
    batches, the model before the hook joins the scaled ones' batch: one ModelBatch of
    1 + scales models, and the output scales exactly."""
    from namcheck.harness import core
    from namcheck.harness.verify import verify_model

    sizes = batching_on_the_cpu(monkeypatch)
    doc = V.small_wavenet() if name == "wavenet" else V.gated_wavenet()
    model = read_nam(doc)
    signal = core.Signal(signals(1, 900)[0].numpy(), 48000, "noise", False)
    opts = core.Options(dtype=torch.float32, engine="reference")
    report = verify_model(model, [0.5, 2.0], "reference", signal, opts)
    assert sizes == [3]
    linear = [c for c in report.checks if c.name == "linearity"]
    assert [c.scale for c in linear] == [0.5, 2.0]
    assert all(c.passed and c.measured == 0.0 for c in linear), linear
    assert report.status == "passed"
