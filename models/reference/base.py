"""What every reference model module offers: offline forward, streaming, receptive field."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch
from torch import nn

from namcheck.models.reference.conv import StreamState, right_align
from namcheck.models.reference.precision import ieee_float32
from namcheck.models.stream_output import check_out, into

# Offline forwards longer than this (samples; 0.34 s at 48 kHz) run in chunks of it, so
# memory stays flat in the signal length (a whole-signal forward holds every layer's
# activations: ~20 MB per second of audio for an A1 standard WaveNet in float32). At 1 << 16
# a 60 s forward added 265 MB peak; at 1 << 14, 132 MB (mostly the signal's own copies),
# at the same speed (benchmarks/test_bench_engines.py measures both engines).
OFFLINE_CHUNK = 1 << 14


def as_numpy(y: torch.Tensor, like: np.dtype[Any]) -> np.ndarray:
    """An output as NumPy: float32 for a float32 input, float64 for any other."""
    dtype = np.float32 if like == np.float32 else np.float64
    return y.detach().cpu().numpy().astype(dtype, copy=False)


class NamModule(nn.Module):
    """A `.nam` model as a torch module.

    ``forward(x)`` takes ``(N,)`` or ``(B, N)`` mono samples and returns the same shape: the
    output with zero history before the first sample (R-1 zeros prepended, R the receptive
    field). Subclasses implement :meth:`forward_valid` on ``(B, C, T)`` tensors.
    """

    name = "reference"  # the Engine protocol (models/engines.py)
    receptive_field: int = 1
    in_channels: int = 1  # the reference reads mono signals
    out_channels: int = 1
    # True where the output depends on more than the last receptive_field samples (the
    # LSTM's state): then R-1 zeros do not reset it, and signals cannot be joined in time.
    stateful: bool = False

    def forward_valid(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        """Offline (state None): output T-(R-1) samples. Streaming: T samples, state kept."""
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        return self._first_tensor().dtype

    @property
    def device(self) -> torch.device:
        return self._first_tensor().device

    def _first_tensor(self) -> torch.Tensor:
        return next(itertools.chain(self.parameters(), self.buffers()))

    def _as_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        if x.dim() not in (1, 2):
            raise ValueError(f"expected (N,) or (B, N) mono samples, got shape {tuple(x.shape)}")
        single = x.dim() == 1
        x = x.to(dtype=self.dtype, device=self.device)
        return (x[None, None, :] if single else x[:, None, :]), single

    def _as_output(self, y: torch.Tensor, single: bool) -> torch.Tensor:
        y = y[:, 0, :] if self.out_channels == 1 else y
        return y[0] if single else y

    def __call__(self, x: torch.Tensor | np.ndarray) -> Any:  # type: ignore[override]
        """forward(); a NumPy array in gives a NumPy array out (float32 for float32 input,
        float64 otherwise). On CUDA, float32 runs without TF32 (precision.py)."""
        with ieee_float32(self.device):
            if isinstance(x, np.ndarray):
                y = super().__call__(torch.from_numpy(np.asarray(x, dtype=np.float64)))
                return as_numpy(y, x.dtype)
            return super().__call__(x)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[0] > 1 and self.joins_rows():
            return self._forward_rows(x)
        if x.shape[-1] > OFFLINE_CHUNK:
            return self._forward_chunked(x)
        xb, single = self._as_batch(x)
        pad = self.receptive_field - 1
        if pad:
            xb = torch.cat((xb.new_zeros(xb.shape[0], xb.shape[1], pad), xb), dim=-1)
        n = xb.shape[-1] - pad
        return self._as_output(right_align(self.forward_valid(xb, None), n), single)

    def joins_rows(self) -> bool:
        """Does forward() run a (B, N) batch as its rows joined in time (_forward_rows)? On
        the CPU, where that is faster; on any other device a (B, 1, T) batch runs each op
        over every row in one launch."""
        return self.device.type == "cpu"

    def _forward_rows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N) on the CPU, every row from zero history. A (B, C, T) batch runs through
        broadcast matmuls there, slower per signal than B single runs (0.58x at B = 8, 0.23x
        at B = 32), and a long signal is faster still (3.5x a (B, N) batch per signal): the
        rows of a model whose output depends only on its receptive field follow each other
        in time, each after R - 1 zeros, which is exactly zero history for each. A stateful
        model (LSTM) runs each row from its start state."""
        if self.stateful or self.out_channels != 1:
            return torch.stack([self.forward(row) for row in x])
        rows, n = x.shape
        gap = self.receptive_field - 1
        joined = torch.cat((x.new_zeros(rows, gap), x), dim=1).reshape(-1)
        return self.forward(joined).reshape(rows, gap + n)[:, gap:]

    def _forward_chunked(self, x: torch.Tensor) -> torch.Tensor:
        """Offline over a long signal in OFFLINE_CHUNK-sample pieces, each continuing the
        previous one's state (every conv's history, the LSTM's h/c), as a stream does: the
        same output, with memory bounded by the chunk instead of the signal length."""
        batch = 1 if x.dim() == 1 else x.shape[0]
        stream = self.stream(batch)
        pieces = [stream.process(x[..., i : i + OFFLINE_CHUNK])
                  for i in range(0, x.shape[-1], OFFLINE_CHUNK)]
        return torch.cat(pieces, dim=-1)

    def stream(self, batch: int = 1, compile: bool = False) -> Streamer:
        """A block-by-block processor with state kept between calls, prewarmed like a plugin.

        `compile=True` runs each block through `torch.compile` (C++ kernels, no per-op
        Python overhead): about 3x faster at 64-sample blocks on CPU, after a compile of
        tens of seconds per distinct block size."""
        return Streamer(self, batch, compile)


class Streamer:
    """Feeds consecutive blocks through a model; the concatenated output equals forward()."""

    def __init__(self, model: NamModule, batch: int = 1, compile: bool = False) -> None:
        self.model, self.batch = model, batch
        self.state: StreamState = {}
        state = self.state

        def step(xb: torch.Tensor) -> torch.Tensor:
            return model.forward_valid(xb, state)

        # A closure, not a bound method: torch.compile then guards on far less per call.
        self._step = torch.compile(step, dynamic=False) if compile else step
        pad = model.receptive_field - 1
        if pad:  # prewarm: the runtime's zero history
            with torch.no_grad(), ieee_float32(model.device):
                zeros = torch.zeros(batch, 1, pad, dtype=model.dtype, device=model.device)
                model.forward_valid(zeros, self.state)

    @torch.no_grad()
    def process(self, block: torch.Tensor | np.ndarray,
                out: torch.Tensor | np.ndarray | None = None) -> Any:
        """The next block's output ((N,) or (B, N); NumPy in, NumPy out), written into
        `out` where given (a buffer of that type, shape and dtype, not overlapping the
        block; ValueError otherwise, before the block is processed)."""
        check_out(out, block, self.model.dtype, self.model.out_channels)
        if isinstance(block, np.ndarray):
            y = self.process(torch.from_numpy(np.asarray(block, dtype=np.float64)))
            return into(out, as_numpy(y, block.dtype))
        xb, single = self.model._as_batch(block)
        if xb.shape[0] != self.batch:
            raise ValueError(f"this stream was opened for batch {self.batch}, got {xb.shape[0]}")
        with ieee_float32(xb.device):
            return into(out, self.model._as_output(self._step(xb), single))
