"""Several models of one shape as one reference forward (a corpus audit's gain sweeps, a
verify's scale sweep, on a GPU).

Models with the same `shape_key` run the same forward with different weights. `ModelBatch`
stacks their weights along a leading model axis and runs the reference forward once for
all of them under `torch.func.vmap` (PyTorch's model-ensembling recipe): each convolution
becomes one batched matmul or grouped convolution over every model, so M models cost one
sequence of kernel launches instead of M. Every row is computed as `NamModule.forward`
computes it alone (zero history: R - 1 zeros before the first sample), within rounding
(tests/test_batched_forward.py).

Only models whose output depends on the last R samples alone batch: no LSTM anywhere in
them (its state is not a function of R samples, and `nn.LSTM` has no batching rule). A
container batches as the submodel it plays (`engines.selected_model`).

Weights are stacked without building a module per model where the reference's tensors
are copies of weight-vector entries (every WaveNet, Linear and batchnorm-free ConvNet):
one module is built from the entries' indices, and each of its tensors is a gather from
the (M, n) weight matrix; a module built from model 0's own weights checks the gather bit
for bit. Otherwise (batchnorm folding computes from several entries) each model is built
and its tensors stacked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from namcheck.models.format import NamModel
from namcheck.models.format.schema import LSTMConfig, WaveNetConfig
from namcheck.models.reference.base import NamModule
from namcheck.models.reference.conv import CONV_IMPLEMENTATIONS, CausalConv, right_align
from namcheck.models.reference.loader import build
from namcheck.models.reference.precision import ieee_float32

# Activation tensors of the widest layer alive at once inside one forward, per row and
# sample (a WaveNet layer holds its input, the conv, mixer, gate and residual outputs and
# the head accumulator; vmap may add a copy). The launch plan divides its memory budget by
# this; benchmarks/gpu_check.py reports the peak memory it actually took.
LIVE_TENSORS = 12
# The share of a CUDA device's free memory one launch may plan to use.
DEVICE_MEMORY_SHARE = 0.5
# Budget off CUDA (tests, NAMCHECK_BATCH_MODELS=1 on the CPU).
HOST_MEMORY_BUDGET = 1 << 30
# How a batch's convolutions run (conv.CONV_IMPLEMENTATIONS): "matmul", one batched matmul
# per kernel tap over every model, or "torch", one grouped conv1d per convolution over
# every model (vmap's batching rule). Both have batching rules; benchmarks/gpu_check.py
# times both on a GPU. ("taps" would fall back to a loop over models for one signal.)
BATCH_CONV = "matmul"


def shape_key(model: NamModel) -> str | None:
    """A key equal for models whose reference forwards differ only in their weights, or
    None for a model that runs alone (a container, an LSTM, or a model with an LSTM as
    condition DSP).

    A WaveNet's forward reads its layout (every conv's shape, activations, gating, FiLM
    slots; head_scale is a weight), a Linear or ConvNet's its config; a condition DSP adds
    its own key."""
    if model.submodels or isinstance(model.config, LSTMConfig):
        return None
    shape = model.layout if isinstance(model.config, WaveNetConfig) else model.config
    key = f"{model.architecture}:{shape!r}"
    if model.condition_dsp is not None:
        inner = shape_key(model.condition_dsp)
        if inner is None:
            return None
        key += f"|dsp:{inner}"
    return key


def _nested(model: NamModel) -> list[NamModel]:
    """The model and its condition DSPs, outermost first (each has its own weights)."""
    out = [model]
    while out[-1].condition_dsp is not None:
        out.append(out[-1].condition_dsp)  # type: ignore[arg-type]
    return out


def _weight_row(model: NamModel) -> np.ndarray:
    return np.concatenate([np.asarray(m.weights, dtype=np.float64) for m in _nested(model)])


def _index_build(model: NamModel) -> tuple[NamModule, int]:
    """The model built (float64, CPU) from the indices of its weight row instead of the
    weights, and the row's length."""
    offsets: dict[int, np.ndarray] = {}
    start = 0
    for m in _nested(model):
        n = int(np.asarray(m.weights).size)
        offsets[id(m)] = np.arange(start, start + n, dtype=np.float64)
        start += n
    net = build(model, torch.float64, torch.device("cpu"), None,
                weights_of=lambda m: offsets[id(m)])
    return net, start


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(net.named_parameters()), **dict(net.named_buffers())}


def _gathered_state(models: Sequence[NamModel], template: NamModule, dtype: torch.dtype,
                    device: torch.device) -> dict[str, torch.Tensor] | None:
    """Every tensor of the models stacked (M, ...) by gathering from their weight rows, or
    None where the reference's tensors are not plain copies of weight entries.

    The gather and its check (model 0's own float64 build, bit for bit) run on the CPU in
    float64; the stacked tensors then move to `device` in `dtype` once each."""
    index_net, n = _index_build(models[0])
    rows = torch.from_numpy(np.stack([_weight_row(m) for m in models]))
    if rows.shape[1] != n:
        return None
    want = _state(template)
    own = _state(build(models[0], torch.float64, torch.device("cpu"), None))
    out: dict[str, torch.Tensor] = {}
    for name, index in _state(index_net).items():
        flat = index.reshape(-1)
        if flat.numel() and not (bool(torch.all(flat == flat.round()))
                                 and float(flat.min()) >= 0 and float(flat.max()) < n):
            return None  # computed from several entries (batchnorm folding)
        stacked = rows[:, flat.long()].reshape(len(models), *index.shape)
        if name not in own or not torch.equal(stacked[0], own[name]):
            return None  # model 0's own build disagrees: not a gather after all
        out[name] = stacked.to(dtype=dtype, device=device)
    if set(out) != set(want):
        return None
    return out


def _built_state(models: Sequence[NamModel], dtype: torch.dtype, device: torch.device
                 ) -> dict[str, torch.Tensor]:
    """Every model built on its own, its tensors stacked (M, ...)."""
    nets = [build(m, dtype, device, None) for m in models]
    return {name: torch.stack([_state(net)[name] for net in nets])
            for name in _state(nets[0])}


class _Offline(nn.Module):
    """The template's offline forward (no state) as a module call, for functional_call."""

    def __init__(self, net: NamModule) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_valid(x, None)


class ModelBatch:
    """M models of one `shape_key`, run as one forward.

    ``batch(x)``: ``x`` of shape ``(N,)`` or ``(S, N)`` (the same signals for every model)
    or ``(M, S, N)`` (each model its own), torch or NumPy, any float dtype; returns a tensor
    ``(M, S, N)`` (``(M, S, C, N)`` for a model with C > 1 outputs) in the batch's dtype on
    its device, where ``[m, s]`` is model m's output for signal s with zero history, as
    ``NamModule.forward`` gives it (within rounding).

    `memory`: bytes one launch may plan to use (default: budget()). `conv`: how the
    convolutions run (BATCH_CONV). Raises ValueError for an empty list, models of
    different shape keys, a model that cannot batch (shape_key None), or an unknown conv.
    """

    def __init__(self, models: Sequence[NamModel], *, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu", memory: int | None = None,
                 conv: str = BATCH_CONV) -> None:
        if conv not in CONV_IMPLEMENTATIONS or conv == "taps":
            raise ValueError(f"conv {conv!r}: expected 'matmul' or 'torch'")
        if not models:
            raise ValueError("a ModelBatch needs at least one model")
        keys = {shape_key(m) for m in models}
        if None in keys:
            raise ValueError("a model that cannot batch (container, or an LSTM in it)")
        if len(keys) != 1:
            raise ValueError(f"models of {len(keys)} different shapes cannot batch")
        self.models = list(models)
        self.dtype, self.device = dtype, torch.device(device)
        self.template = build(self.models[0], dtype, self.device, None)
        for module in self.template.modules():
            if isinstance(module, CausalConv):
                module.implementation = conv
        self.conv = conv
        state = _gathered_state(self.models, self.template, dtype, self.device)
        self.gathered = state is not None
        if state is None:
            state = _built_state(self.models, dtype, self.device)
        self.state = {f"net.{name}": t for name, t in state.items()}
        self._module = _Offline(self.template)
        self.receptive_field = int(self.template.receptive_field)
        self.out_channels = int(self.template.out_channels)
        self.width = max([max(c.spec.cin, c.spec.cout) for c in self.template.modules()
                          if isinstance(c, CausalConv)] + [1])
        self.memory = memory

    def __len__(self) -> int:
        return len(self.models)

    def budget(self) -> int:
        """Bytes one launch may plan to use: the `memory` given, else a share of the CUDA
        device's free memory, else HOST_MEMORY_BUDGET."""
        if self.memory is not None:
            return self.memory
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            return int(free * DEVICE_MEMORY_SHARE)
        return HOST_MEMORY_BUDGET

    def plan(self, signals: int, n: int) -> tuple[int, int]:
        """(models per launch, output samples per launch) for `signals` rows of `n` samples:
        the whole batch at once where it fits the budget, else fewer models, else shorter
        pieces of the signal (each recomputing R - 1 samples of context)."""
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        per_row_sample = self.width * LIVE_TENSORS * itemsize
        budget = max(self.budget(), 1)
        context = self.receptive_field - 1
        samples = budget // per_row_sample  # (row, sample) pairs one launch may hold
        models = len(self.models)
        if models * signals * (n + context) <= samples:
            return models, n
        piece = min(n, max(8 * context, 1 << 14))  # overlap at most 1/8 of the work
        fit = samples // (signals * (piece + context))
        if fit >= 1:
            per_launch = min(models, fit)
            longest = samples // (per_launch * signals) - context
            return per_launch, max(1, min(n, longest))
        return 1, max(1, min(n, samples // signals - context))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        xt = torch.as_tensor(np.asarray(x) if isinstance(x, np.ndarray) else x)
        per_model = xt.dim() == 3
        if xt.dim() == 1:
            xt = xt[None]
        if xt.dim() not in (2, 3) or (per_model and xt.shape[0] != len(self.models)):
            raise ValueError(f"expected (N,), (S, N) or ({len(self.models)}, S, N) samples, "
                             f"got shape {tuple(xt.shape)}")
        xt = xt.to(dtype=self.dtype, device=self.device)
        signals, n = xt.shape[-2], xt.shape[-1]
        context = self.receptive_field - 1
        # (..., S, 1, R - 1 + N): each row a mono conv input after its zero history
        xt = torch.cat((xt.new_zeros(*xt.shape[:-1], context), xt), dim=-1).unsqueeze(-2)
        out = torch.empty(len(self.models), signals, self.out_channels, n, dtype=self.dtype,
                          device=self.device)
        per_launch, piece = self.plan(signals, n)
        module = self._module

        def one(state: dict[str, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(module, state, (rows,))

        run = torch.func.vmap(one, in_dims=(0, 0 if per_model else None))
        with ieee_float32(self.device):
            for m0 in range(0, len(self.models), per_launch):
                m1 = min(len(self.models), m0 + per_launch)
                state = {k: v[m0:m1] for k, v in self.state.items()}
                rows = xt[m0:m1] if per_model else xt
                for t0 in range(0, n, piece):
                    t1 = min(n, t0 + piece)
                    y = run(state, rows[..., t0 : t1 + context])
                    out[m0:m1, ..., t0:t1] = right_align(y, t1 - t0)
        return out[:, :, 0] if self.out_channels == 1 else out

    def __repr__(self) -> str:
        how = "gathered" if self.gathered else "built one by one"
        return (f"ModelBatch({len(self.models)} x {self.models[0].architecture}, "
                f"R={self.receptive_field}, {str(self.dtype).removeprefix('torch.')} on "
                f"{self.device}, conv {self.conv}, weights {how})")


def group_by_shape(models: Sequence[NamModel]) -> tuple[list[list[int]], list[int]]:
    """Indices of `models` grouped by shape_key (first appearance order), and the indices
    of those that run alone (shape_key None)."""
    groups: dict[str, list[int]] = {}
    alone: list[int] = []
    for i, m in enumerate(models):
        key = shape_key(m)
        if key is None:
            alone.append(i)
        else:
            groups.setdefault(key, []).append(i)
    return list(groups.values()), alone

