"""The fast LSTM (models/fast/lstm.py, lstm.c) against the float64 reference.

Three kinds of evidence, each against a derived bound:
- one step at a time (tight): from the float64 state rounded to float32, one kernel step
  of every layer is within the local error bound of `lstm_error_bound`'s analysis;
- whole signals, prewarm included: within `lstm_error_bound` (first order, worst case);
- streaming == offline bit for bit at every block size, (B, N) rows == single runs, the
  register path == the general path bit for bit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NAMCORE, UPSTREAM, needs_fixtures
from namcheck.models import load, read_nam
from namcheck.models.engines import load_engine
from namcheck.models.examples import container_doc, lstm_doc
from namcheck.models.fast.activations import TANH_ERROR_BOUND
from namcheck.models.fast.lstm import (
    FastLSTM,
    _float64_params,
    _Trajectory,
    lstm_error_bound,
    lstm_step_bound,
    lstm_tolerance,
)
from namcheck.models.format.layout import lstm_weight_count
from namcheck.models.numerics import EPS_PER_STAGE, peak_relative_error

if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
    pytest.skip("no C compiler on this machine: the fast engine cannot be built here",
                allow_module_level=True)

U32 = float(np.finfo(np.float32).eps) / 2


def lstm_model(hidden: int, layers: int, seed: int, scale: float, rate: float = 2000.0,
               forget_bias: float = 0.0) -> dict[str, Any]:
    """An LSTM with weights ~ scale / sqrt(H) (trained models' regime), the forget gates'
    bias raised by `forget_bias` (long memory, as trained LSTMs have), h0/c0 at the scale of
    a settled state. rate sets the prewarm (2000 Hz: 1024 zeros)."""
    rng = np.random.default_rng(seed)
    parts = []
    for layer in range(layers):
        width = 1 if layer == 0 else hidden
        W = rng.standard_normal((4 * hidden, width + hidden)) * scale / np.sqrt(hidden)
        b = rng.standard_normal(4 * hidden) * 0.3
        b[hidden : 2 * hidden] += forget_bias
        parts += [W.ravel(), b, np.tanh(rng.standard_normal(hidden)) * 0.3,
                   rng.standard_normal(hidden) * 0.3]
    parts += [rng.standard_normal(hidden) / np.sqrt(hidden), rng.standard_normal(1) * 0.1]
    weights = np.concatenate(parts)
    assert weights.size == lstm_weight_count(1, hidden, layers, 1)
    return {"version": "0.5.0", "architecture": "LSTM", "sample_rate": rate,
            "config": {"input_size": 1, "hidden_size": hidden, "num_layers": layers},
            "weights": [float(np.float32(w)) for w in weights]}


def signal(n: int, seed: int = 0, level: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(n) * np.linspace(0.2, 1.0, n)).astype(np.float32)


def fast(doc: Any, slim: float | None = None) -> FastLSTM:
    net, choice = load_engine(doc, "fast", slim=slim)
    assert choice.name == "fast", choice.note
    assert isinstance(net, FastLSTM)
    return net


def assert_within_trajectory_bound(doc: Any, x: np.ndarray) -> None:
    model = read_nam(doc)
    y = fast(doc)(x)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    err = peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64))
    assert err <= lstm_error_bound(model, x), err


def assert_steps_within_local_bound(doc: dict[str, Any], x: np.ndarray, steps: list[int]
                                    ) -> None:
    """One kernel step from the float64 state (rounded to float32) at each step in
    `steps`, every layer: |fast - exact| <= the local bound of lstm_error_bound's analysis
    (dot products, activations, cell roundings) + what the float32 rounding of the start
    state and of the layer's input (the previous layer's fast h) move through one step
    (|J| u |state| + |B| |input error|)."""
    model = read_nam(doc)
    net = FastLSTM(model)
    params = _float64_params(model)
    e = float(np.finfo(np.float32).eps)

    def dot(n: int) -> float:
        return max(EPS_PER_STAGE, np.sqrt(n) / 2) * e

    from namcheck.models.reference.recurrent import lstm_prewarm_samples

    P = lstm_prewarm_samples(model.sample_rate)
    inp = np.concatenate([np.zeros(P), x.astype(np.float64)])[:, None]
    trajectories = []
    for W, b, h0, c0 in params["layers"]:
        tr = _Trajectory(inp, W, b, h0, c0)
        tr.local(dot, U32, TANH_ERROR_BOUND)
        trajectories.append(tr)
        inp = tr.h
    H = model.config.hidden_size
    state = net.new_state()
    for t in steps:
        k = P + t  # the step that reads x[t]
        for layer, tr in enumerate(trajectories):
            state.h[layer, :H], state.c[layer, :H] = tr.h[k - 1], tr.c[k - 1]
        state.run(x[t : t + 1][None])
        in_err = np.zeros(1)  # the signal is exact
        for layer, tr in enumerate(trajectories):
            J = tr.state_jacobians(k, k + 1)[0]
            dc_dx, dh_dx = tr.jacobians(k, k + 1, slice(0, tr.width))
            start = np.abs(J) @ (U32 * np.abs(np.concatenate([tr.h[k - 1], tr.c[k - 1]])))
            h_bound = tr.local_h[k] + start[:H] + np.abs(dh_dx[0]) @ in_err
            c_bound = tr.local_c[k] + start[H:] + np.abs(dc_dx[0]) @ in_err
            h_err = np.abs(state.h[layer, :H] - tr.h[k])
            c_err = np.abs(state.c[layer, :H] - tr.c[k])
            assert np.all(h_err <= h_bound), (t, layer, h_err, h_bound)
            assert np.all(c_err <= c_bound), (t, layer, c_err, c_bound)
            in_err = h_err


# ---- against float64 ---------------------------------------------------------------------

# derandomize: CI sees the same examples every run.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(hidden=st.integers(1, 40), layers=st.integers(1, 3), seed=st.integers(0, 2**16),
       scale=st.sampled_from([0.5, 1.0, 2.0]), forget=st.sampled_from([0.0, 3.0]))
def test_steps_within_local_bound_random_configs(hidden: int, layers: int, seed: int,
                                                 scale: float, forget: float) -> None:
    """Every hidden size across the vector width (1..40: one to five 8-lane chunks),
    1..3 layers, gains from contracting to expanding: each kernel step is as exact as
    its derived local bound, whatever the model does through time."""
    doc = lstm_model(hidden, layers, seed, scale, forget_bias=forget)
    x = signal(400, seed)
    assert_steps_within_local_bound(doc, x, [0, 1, 7, 100, 399])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(hidden=st.integers(1, 24), layers=st.integers(1, 3), seed=st.integers(0, 2**16),
       scale=st.sampled_from([0.5, 1.0]), forget=st.sampled_from([0.0, 3.0]))
def test_signal_within_trajectory_bound_random_configs(hidden: int, layers: int, seed: int,
                                                       scale: float, forget: float) -> None:
    """Whole signals, prewarm included, within lstm_error_bound (first order, worst case:
    the growth and decay of errors through time along the float64 trajectory)."""
    doc = lstm_model(hidden, layers, seed, scale, forget_bias=forget)
    assert_within_trajectory_bound(doc, signal(600, seed))


@needs_fixtures
@pytest.mark.fixtures
@pytest.mark.parametrize("path", [NAMCORE / "lstm.nam", UPSTREAM / "models" / "lstm.nam"],
                         ids=["namcore", "upstream"])
def test_fixtures_within_trajectory_bound(path: Any) -> None:
    """The real files at 48 kHz (24,000 samples of prewarm), 0.25 s of signal; each step
    within its local bound too."""
    x = signal(12000, 3)
    assert_within_trajectory_bound(str(path), x)
    doc = read_nam(path).to_dict()
    assert_steps_within_local_bound(doc, x, [0, 5000, 11999])


@needs_fixtures
@pytest.mark.fixtures
def test_upstream_outputs() -> None:
    """upstream's float32 output of its lstm fixture (the file as the runtime reads it):
    both forwards round, ours within the trajectory bound, theirs within the reference's."""
    from namcheck.models.numerics import forward_tolerance

    path = UPSTREAM / "models" / "lstm.nam"
    x = np.load(UPSTREAM / "signals" / "test_signal.npy").astype(np.float32)
    ref = np.load(UPSTREAM / "outputs" / "lstm.test.f32.npy")
    model = read_nam(path)
    y = fast(str(path))(x)
    bound = lstm_error_bound(model, x) + forward_tolerance(model, torch.float32)
    assert peak_relative_error(torch.from_numpy(y), torch.from_numpy(ref)) <= bound


def test_register_path_equals_general_path() -> None:
    """H <= vector width runs with the state in registers; the general path must give the
    same bits (same terms, same order)."""
    for hidden, layers in ((3, 1), (8, 2), (5, 3), (1, 1)):
        doc = lstm_model(hidden, layers, seed=hidden, scale=1.0)
        model = read_nam(doc)
        x = signal(3000, 1)
        assert np.array_equal(FastLSTM(model)(x), FastLSTM(model, generic=True)(x))


def test_tolerance_is_finite_and_covers_the_default_signal() -> None:
    """EngineChoice.bound (lstm_tolerance, the operating-point bound) for a stable model:
    finite, at least one step's bound, and above the error on the default signal."""
    from namcheck.signals.generate import default_signal

    doc = lstm_model(6, 2, seed=4, scale=1.0, rate=48000.0)
    model = read_nam(doc)
    net, choice = load_engine(doc, "auto")
    assert choice.name == "fast" and choice.bound == lstm_tolerance(model)
    assert lstm_step_bound(model) <= choice.bound < 0.1  # a worst case, but finite
    x = default_signal(48000).astype(np.float32)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    assert peak_relative_error(torch.from_numpy(net(x)), torch.from_numpy(y64)) <= choice.bound


def test_unstable_model_runs_on_the_reference() -> None:
    """An LSTM whose operating point amplifies errors has no error bound: the reference
    runs and says why."""
    doc = lstm_model(16, 1, seed=2, scale=6.0)
    assert lstm_tolerance(read_nam(doc)) == float("inf")
    _net, choice = load_engine(doc, "auto")
    assert choice.name == "reference" and "unstable" in (choice.note or "")


def test_non_finite_input() -> None:
    """NaN in gives NaN out from that sample on (the state is NaN); an infinite sample
    saturates the gates, as in the reference: finite output."""
    doc = lstm_model(5, 2, seed=3, scale=1.0)
    net = fast(doc)
    x = signal(300)
    x[100] = np.nan
    y = net(x)
    assert np.all(np.isfinite(y[:100])) and np.all(np.isnan(y[100:]))
    x[100] = np.inf
    y = net(x)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(y64))


# ---- streaming and batches ----------------------------------------------------------------

BLOCKS: list[Any] = [1, 2, 63, 64, 65, 127, 334, 4096, "random"]


def blocks_of(n: int, block: Any) -> list[int]:
    if block == "random":
        return [int(s) for s in np.random.default_rng(7).integers(1, 700, size=n)]
    return [block] * (n // block + 1)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", [(3, 1), (12, 2), (40, 1)], ids=["h3", "h12x2", "h40"])
def test_stream_equals_offline(block: Any, shape: tuple[int, int]) -> None:
    """Bit for bit, numpy and torch blocks alike (the torch one-block path is its own
    code)."""
    net = fast(lstm_model(*shape, seed=5, scale=1.0))
    x = signal(6000, seed=6)
    offline = net(x)
    for as_torch in (False, True):
        stream, outs, i = net.stream(), [], 0
        for size in blocks_of(x.size, block):
            if i >= x.size:
                break
            part = x[i : i + size]
            out = stream.process(torch.from_numpy(part) if as_torch else part)
            outs.append(out.numpy() if as_torch else out)
            i += size
        assert np.array_equal(np.concatenate(outs), offline)


def test_batch_rows_equal_single_runs() -> None:
    net = fast(lstm_model(7, 2, seed=8, scale=1.0))
    xs = np.stack([signal(500, seed=s) for s in range(4)])
    batched = net(xs)
    assert batched.shape == xs.shape and batched.dtype == np.float32
    for row, x in zip(batched, xs, strict=True):
        assert np.array_equal(row, net(x))
    assert net(xs.astype(np.float64)).dtype == np.float64
    torch_out = net(torch.from_numpy(xs))
    assert isinstance(torch_out, torch.Tensor) and torch_out.dtype == torch.float32
    stream = net.stream(batch=4)
    ys = np.concatenate([stream.process(xs[:, i : i + 64]) for i in range(0, 500, 64)], axis=1)
    assert np.array_equal(ys, batched)


def test_out_channels_and_stream_batch_errors() -> None:
    doc = lstm_doc(4, 1)
    doc["config"]["out_channels"] = 2
    doc["weights"] = doc["weights"][: lstm_weight_count(1, 4, 1, 1) - 5] + [0.1] * 10
    net = fast(doc)
    x = signal(200)
    y = net(x)
    y64 = load(doc, dtype=torch.float64)(x.astype(np.float64))
    assert y.shape == y64.shape == (2, 200)
    stream = net.stream()
    assert np.array_equal(np.concatenate([stream.process(x[:77]), stream.process(x[77:])],
                                         axis=-1), y)
    with pytest.raises(ValueError, match="batch 1"):
        net.stream().process(np.zeros((2, 10), dtype=np.float32))


# ---- containers ---------------------------------------------------------------------------

@needs_fixtures
@pytest.mark.fixtures
@pytest.mark.parametrize("slim,kind", [(0.0, "FastLSTM"), (0.2, "FastLSTM"),
                                       (0.5, "FastWaveNet"), (0.9, "FastWaveNet"),
                                       (None, "FastWaveNet")])
def test_mixed_container_runs_each_submodel_fast(slim: float | None, kind: str) -> None:
    """namcore-examples/slimmable_container.nam (an LSTM and two WaveNets): the selected
    submodel on its fast engine, equal to that submodel's own fast forward, and streaming ==
    offline."""
    from namcheck.models.engines import selected_model

    path = str(NAMCORE / "slimmable_container.nam")
    net, choice = load_engine(path, "auto", slim=slim)
    assert choice.name == "fast" and type(net).__name__ == kind
    sub = selected_model(read_nam(path), slim)
    x = signal(4800, 9)
    y = net(x)
    own, _ = load_engine(sub, "fast")
    assert np.array_equal(y, own(x))
    stream = net.stream()
    assert np.array_equal(np.concatenate([stream.process(x[i : i + 65])
                                          for i in range(0, x.size, 65)]), y)
    y64 = load(path, dtype=torch.float64, slim=slim)(x.astype(np.float64))
    assert peak_relative_error(torch.from_numpy(y), torch.from_numpy(y64)) <= choice.bound


def test_container_of_every_architecture() -> None:
    """An LSTM, a Linear, a ConvNet and a WaveNet in one container: each slim interval on
    its fast engine."""
    from namcheck.models.examples import a1_doc, convnet_doc, linear_doc

    doc = container_doc([(0.25, lstm_doc(4, 1)), (0.5, linear_doc(20)),
                         (0.75, convnet_doc(3)), (1.0, a1_doc("nano"))])
    kinds = {}
    for slim in (0.1, 0.3, 0.6, 0.9):
        net, choice = load_engine(doc, "auto", slim=slim)
        assert choice.name == "fast", choice.note
        kinds[slim] = type(net).__name__
        x = signal(1000, 2)
        y64 = load(doc, dtype=torch.float64, slim=slim)(x.astype(np.float64))
        assert peak_relative_error(torch.from_numpy(net(x)), torch.from_numpy(y64)) <= \
            choice.bound
    assert kinds == {0.1: "FastLSTM", 0.3: "FastLinear", 0.6: "FastConvNet",
                     0.9: "FastWaveNet"}


# ---- no compiler, no loss -----------------------------------------------------------------

@pytest.mark.parametrize("case,why", [("no compiler", "no-such-cc"),
                                      ("disabled", "NAMCHECK_NO_FAST")])
def test_unbuildable_kernel_falls_back(tmp_path: Any, case: str, why: str) -> None:
    """LSTM, Linear and ConvNet fall back to the reference and say why (a fresh process:
    the built library is cached per process)."""
    code = ("from namcheck.models.engines import load_engine\n"
            "from namcheck.models.examples import lstm_doc, linear_doc, convnet_doc\n"
            "for doc in (lstm_doc(), linear_doc(), convnet_doc()):\n"
            "    net, c = load_engine(doc, 'auto')\n"
            "    print(c.name, '|', c.note)\n")
    env = {**os.environ, "NAMCHECK_CACHE": str(tmp_path / "cache")}
    env.pop("NAMCHECK_NO_FAST", None)
    if case == "no compiler":
        env["CC"] = str(tmp_path / "no-such-cc")
    else:
        env["NAMCHECK_NO_FAST"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == 3
    assert all(line.startswith("reference |") and why in line for line in out)
    assert not list(tmp_path.rglob("*.so"))
