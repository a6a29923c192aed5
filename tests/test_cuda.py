"""The reference on devices other than the CPU.

On every machine: each architecture builds and runs (offline, chunked, streaming, batched)
on PyTorch's 'meta' device, which has shapes, dtypes and devices but no values, and where
an op mixing in a CPU tensor raises: a CPU-only assumption (a tensor made without the
model's device) fails here as it would on CUDA. The TF32 guard's settings are checked on
the CPU (they are process-wide flags). With a CUDA device (skipped by name without one):
every architecture in float32 and float64 against the CPU's float64 forward, streaming,
NumPy in and out, the gain sweep, and TF32 kept off while the caller has it on.
"""

from __future__ import annotations

import copy
from typing import Any

import nam_variants as V
import numpy as np
import pytest
import torch

from conftest import HAS_CUDA
from namcheck.harness.core import Options, Signal, measure
from namcheck.models.examples import a1_doc, convnet_doc, linear_doc, lstm_doc
from namcheck.models.format import read_nam
from namcheck.models.numerics import forward_tolerance, peak_relative_error
from namcheck.models.reference import base
from namcheck.models.reference.batched import ModelBatch
from namcheck.models.reference.loader import load
from namcheck.models.reference.precision import ieee_float32, tf32_settings
from namcheck.signals.levels import gain_sweep

needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="cuda: no CUDA device on this machine")


def short_prewarm(doc: dict[str, Any]) -> dict[str, Any]:
    """An LSTM played at 128 Hz: a 64-sample prewarm instead of 24,000 steps."""
    d = copy.deepcopy(doc)
    d["sample_rate"] = 128
    return d


DOCS = {
    "wavenet": V.small_wavenet,
    "gated": V.gated_wavenet,
    "featured": V.featured_wavenet,
    "legacy": V.legacy_wavenet,
    "a2_shaped": V.a2_shaped,
    "condition_dsp": V.with_dsp,
    "lstm": lambda: short_prewarm(lstm_doc(hidden=3, layers=2)),
    "container": V.mixed_container,
    "convnet": V.small_convnet,
    "batchnorm_convnet": V.batchnorm_convnet,
    "linear": lambda: linear_doc(taps=12),
}
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])


@DTYPES
@pytest.mark.parametrize("name", list(DOCS))
def test_every_path_stays_on_the_models_device(name: str, dtype: torch.dtype,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "OFFLINE_CHUNK", 64)  # (an LSTM steps in Python on 'meta')
    net = load(DOCS[name](), dtype=dtype, device="meta")
    for t in [*net.parameters(), *net.buffers()]:
        assert t.device.type == "meta" and t.dtype == dtype
    rows = net(torch.zeros(3, 50, dtype=torch.float64))  # the (B, 1, T) batch path
    long = net(torch.zeros(150))  # longer than OFFLINE_CHUNK: chunked, a stream inside
    block = net.stream(2).process(torch.zeros(2, 64))
    for y, shape in ((rows, (3, 50)), (long, (150,)), (block, (2, 64))):
        assert y.device.type == "meta" and y.dtype == dtype
        assert y.shape[0] == shape[0] and y.shape[-1] == shape[-1]


@DTYPES
@pytest.mark.parametrize("name", ["featured", "condition_dsp", "batchnorm_convnet", "linear"])
def test_a_model_batch_stays_on_its_device(name: str, dtype: torch.dtype) -> None:
    batch = ModelBatch([read_nam(DOCS[name]())] * 2, dtype=dtype, device="meta")
    assert all(t.device.type == "meta" and t.dtype == dtype for t in batch.state.values())
    y = batch(torch.zeros(3, 40))
    assert y.device.type == "meta" and y.shape == (2, 3, 40)


def test_float64_lstm_weights_are_not_rounded_to_float32() -> None:
    """nn.LSTM is built in the run's dtype: copying float64 weights into a float32 module
    first would round them (weights 1/3 etc. differ from their float32 rounding)."""
    doc = short_prewarm(lstm_doc(hidden=3, layers=1))
    w = np.asarray(doc["weights"], dtype=np.float64) * (1 + 1e-9)  # (no longer float32s)
    doc["weights"] = w.tolist()
    net = load(doc, dtype=torch.float64)
    H = 3
    expect = torch.from_numpy(w[: 4 * H * (1 + H)].reshape(4 * H, 1 + H))
    assert torch.equal(net.lstm.weight_ih_l0, expect[:, :1])
    assert torch.equal(net.lstm.weight_hh_l0, expect[:, 1:])
    assert not torch.equal(expect, expect.float().double())  # the test could fail


@pytest.mark.parametrize("name", ["featured", "condition_dsp", "lstm", "batchnorm_convnet"])
def test_the_batch_path_equals_rows_joined_in_time(name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Off the CPU, forward() runs a (B, N) batch as (B, 1, T) tensors; on the CPU it joins
    the rows in time. Both give every row zero history (float64, both round: 2x bound)."""
    model = read_nam(DOCS[name]())
    net = load(model, dtype=torch.float64)
    x = torch.from_numpy(0.3 * np.random.default_rng(1).standard_normal((3, 400)))
    joined = net(x)
    monkeypatch.setattr(net, "joins_rows", lambda: False)
    batched = net(x)
    bound = forward_tolerance(model, torch.float64, implementations=2)
    for a, b in zip(joined, batched, strict=True):
        assert peak_relative_error(b, a) <= bound


def test_ieee_float32_turns_tf32_off_and_restores_the_callers_settings() -> None:
    saved = tf32_settings()
    cudnn = torch.backends.cudnn
    try:
        cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")  # what training scripts set
        before = tf32_settings()
        assert before["float32_matmul_precision"] == "high"
        with ieee_float32("cpu"):  # a no-op off CUDA
            assert tf32_settings() == before
        with ieee_float32("cuda"):  # only flags change: runs without a GPU
            inside = tf32_settings()
            assert inside["float32_matmul_precision"] == "highest"
            assert all(v in ("ieee", "highest", False) for v in inside.values()), inside
        assert tf32_settings() == before
    finally:
        restore(saved)
    assert tf32_settings() == saved


def test_a_float32_lstm_on_cuda_runs_without_cudnn() -> None:
    """cuDNN's float32 LSTM erred 5-40x the CPU's float32 on an H200 (recurrent.py), so the
    reference's float32 LSTM on CUDA runs with cuDNN off, float64 and the CPU as they were,
    and the caller's setting comes back (only a flag changes: runs without a GPU)."""
    from types import SimpleNamespace

    from namcheck.models.reference.recurrent import _no_cudnn

    cudnn = torch.backends.cudnn
    saved = cudnn.enabled
    try:
        for flag in (True, False):
            cudnn.enabled = flag
            for device, dtype, inside in (("cuda", torch.float32, False),
                                          ("cuda", torch.float64, flag),
                                          ("cpu", torch.float32, flag)):
                x = SimpleNamespace(device=torch.device(device), dtype=dtype)
                with _no_cudnn(x):  # type: ignore[arg-type]
                    assert cudnn.enabled is inside, (device, dtype)
                assert cudnn.enabled is flag
    finally:
        cudnn.enabled = saved


def restore(saved: dict[str, Any]) -> None:
    """Put back the settings tf32_settings() read (torch >= 2.9's per-op ones last)."""
    cudnn = torch.backends.cudnn
    cudnn.allow_tf32 = saved.get("cudnn.allow_tf32", True)
    torch.set_float32_matmul_precision(saved["float32_matmul_precision"])
    if "cuda.matmul.fp32_precision" in saved:
        torch.backends.cuda.matmul.fp32_precision = saved["cuda.matmul.fp32_precision"]
    if "cudnn.conv.fp32_precision" in saved:
        cudnn.conv.fp32_precision = saved["cudnn.conv.fp32_precision"]
        cudnn.rnn.fp32_precision = saved["cudnn.rnn.fp32_precision"]


# --- with a CUDA device -----------------------------------------------------------------


def _signal(rows: int = 2, n: int = 600) -> torch.Tensor:
    return torch.from_numpy(0.4 * np.random.default_rng(3).standard_normal((rows, n)))


@needs_cuda
@DTYPES
@pytest.mark.parametrize("name", list(DOCS))
def test_cuda_forward_and_stream_equal_the_cpu_float64_forward(name: str,
                                                               dtype: torch.dtype) -> None:
    model = read_nam(DOCS[name]())
    exact = load(model, dtype=torch.float64)
    net = load(model, dtype=dtype, device="cuda")
    x = _signal()
    bound = forward_tolerance(model, dtype) + forward_tolerance(model, torch.float64)
    y = net(x)
    assert y.device.type == "cuda" and y.dtype == dtype
    want = exact(x)
    for a, b in zip(y, want, strict=True):
        assert peak_relative_error(a, b) <= bound
    stream = net.stream(2)
    blocks = torch.cat([stream.process(x[:, i : i + 64]) for i in range(0, x.shape[1], 64)],
                       dim=-1)
    for a, b in zip(blocks, want, strict=True):
        assert peak_relative_error(a, b) <= bound
    out = net(x[0].numpy().astype(np.float32))  # NumPy in, NumPy out (from the device)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32


@needs_cuda
@DTYPES
def test_cuda_gain_sweep_and_measure(dtype: torch.dtype) -> None:
    model = read_nam(V.gated_wavenet())
    x = _signal(1, 2000)[0].numpy()
    out, levels = gain_sweep(load(model, dtype=dtype, device="cuda"), x)
    out64, levels64 = gain_sweep(load(model, dtype=torch.float64), x)
    bound = forward_tolerance(model, dtype) + forward_tolerance(model, torch.float64)
    assert peak_relative_error(out, out64) <= bound
    # an RMS's relative error: at most twice the peak-relative error times the crest factor
    crest = float(out64.abs().max()) / levels64[-1]
    assert levels == pytest.approx(levels64, rel=2 * crest * bound)
    sig = Signal(x, 48000, "noise", False)
    m = measure(model, sig, Options(dtype=dtype, device="cuda", engine="reference"))
    assert m.engine == "reference" and m.output.device.type == "cuda"
    assert m.loudness == pytest.approx(20 * np.log10(levels64[-1]), abs=2 * 8.7 * crest * bound)


@needs_cuda
def test_cuda_float32_stays_ieee_while_the_caller_allows_tf32() -> None:
    """A1 standard in float32 on CUDA, with TF32 allowed by the caller, stays within the
    float32 bound of the float64 forward (TF32's ~1e-3 relative products would not), and
    the caller's settings are back afterwards."""
    model = read_nam(a1_doc("standard"))
    x = _signal(1, 6000)[0]
    want = load(model, dtype=torch.float64)(x)
    saved = tf32_settings()
    try:
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        before = tf32_settings()
        for impl in ("taps", "torch"):  # cuBLAS matmuls, cuDNN convolutions
            net = load(model, dtype=torch.float32, device="cuda")
            for conv in net.modules():
                if hasattr(conv, "implementation"):
                    conv.implementation = impl
            y = net(x)
            bound = forward_tolerance(model, torch.float32) + forward_tolerance(
                model, torch.float64)
            assert peak_relative_error(y, want) <= bound, impl
            assert tf32_settings() == before
    finally:
        restore(saved)


@needs_cuda
def test_cuda_convnet_and_linear_batch_on_the_device() -> None:
    models = [read_nam(convnet_doc(seed=s)) for s in (1, 2, 3)]
    y = ModelBatch(models, dtype=torch.float64, device="cuda")(_signal())
    for m, model in enumerate(models):
        want = load(model, dtype=torch.float64)(_signal())
        assert peak_relative_error(y[m], want) <= forward_tolerance(model, torch.float64, 2)
