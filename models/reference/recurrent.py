"""Reference LSTM forward (NAM_FORMAT §5), with the runtime's prewarm from the stored state."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from namcheck.models.format.schema import LSTMConfig
from namcheck.models.reference.base import NamModule
from namcheck.models.reference.conv import StreamState, WeightStream

# Whether the reference's LSTM may run on cuDNN (CUDA). It may not: see `_no_cudnn`.
CUDNN_LSTM = False

# render's host buffer size; the runtime rounds its prewarm up to whole buffers.
DEFAULT_BUFFER = 64


def lstm_prewarm_samples(sample_rate: float | None, buffer_size: int = DEFAULT_BUFFER) -> int:
    """floor(0.5 * sr) zeros (1 if unknown), rounded up to whole host buffers."""
    p = math.floor(0.5 * sample_rate) if sample_rate else 1
    p = max(p, 1)
    return math.ceil(p / buffer_size) * buffer_size


@contextmanager
def _no_cudnn(x: torch.Tensor) -> Iterator[None]:
    """A float32 LSTM on CUDA runs on ATen's own kernels (cuBLAS products, IEEE exp and
    tanh), not cuDNN's. Measured on an H200 (torch 2.11, cuDNN 9, TF32 off: precision.py),
    peak-relative error against the float64 forward on upstream's test signal:

        model                          cuDNN f32   ATen f32   CPU f32   bound
        upstream lstm.nam (H 6)        9.8e-6      2.4e-7     2.8e-7    4.3e-6
        namcore-examples lstm.nam      1.4e-5      2.3e-6     2.7e-6    9.9e-5
        lstm_doc(hidden=3, layers=2)   3.4e-6      1.1e-7     1.2e-7    4.1e-6

    (bound: numerics.forward_tolerance in float32). cuDNN's float32 LSTM errs 5 to 40
    times the CPU's, beyond the bound on upstream's model; ATen's errs as the CPU's. ATen
    launches its kernels sample by sample (2.5 s per second of audio there, cuDNN 28 ms):
    the reference's job is the exact answer. float64 stays on cuDNN (its error there:
    5e-16 to 4e-15). The setting is process-wide while the block runs, like
    precision.py's."""
    if x.device.type != "cuda" or x.dtype != torch.float32 or CUDNN_LSTM:
        yield
        return
    saved = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = False
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = saved


class LSTM(NamModule):
    """Starts at the file's h0/c0, runs the prewarm zeros, then the signal."""

    def __init__(self, cfg: LSTMConfig, stream: WeightStream, prewarm: int) -> None:
        super().__init__()
        H, L = cfg.hidden_size, cfg.num_layers
        # Built in the run's dtype and device: weights copied into a float32 module first
        # would be rounded to float32 before a float64 run.
        self.lstm = nn.LSTM(cfg.input_size, H, L, batch_first=True, dtype=stream.dtype,
                            device=stream.device)
        h0, c0 = [], []
        for layer in range(L):
            width = cfg.input_size if layer == 0 else H
            w = stream.take(4 * H, width + H)
            with torch.no_grad():
                getattr(self.lstm, f"weight_ih_l{layer}").copy_(w[:, :width])
                getattr(self.lstm, f"weight_hh_l{layer}").copy_(w[:, width:])
                getattr(self.lstm, f"bias_ih_l{layer}").copy_(stream.take(4 * H))
                getattr(self.lstm, f"bias_hh_l{layer}").zero_()
            h0.append(stream.take(H))
            c0.append(stream.take(H))
        self.lstm.requires_grad_(False)
        self.lstm.flatten_parameters()  # (cuDNN's one weight buffer; a no-op on the CPU)
        self.head = nn.Linear(H, cfg.out_channels, dtype=stream.dtype, device=stream.device)
        with torch.no_grad():
            self.head.weight.copy_(stream.take(cfg.out_channels, H))
            self.head.bias.copy_(stream.take(cfg.out_channels))
        self.head.requires_grad_(False)
        stream.finish()
        self.register_buffer("h0", torch.stack(h0))
        self.register_buffer("c0", torch.stack(c0))
        self.prewarm, self.out_channels = prewarm, cfg.out_channels
        self.stateful = True
        self.slot = id(self)

    def _run(self, x: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        with _no_cudnn(x):
            y, hc = self.lstm(x.transpose(1, 2), hc)
        return self.head(y).transpose(1, 2), hc

    def _initial(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        hc = (self.h0[:, None].expand(-1, batch, -1).contiguous(),
              self.c0[:, None].expand(-1, batch, -1).contiguous())
        zeros = self.h0.new_zeros(batch, self.lstm.input_size, self.prewarm)
        return self._run(zeros, hc)[1]

    def forward_valid(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        if state is None:
            return self._run(x, self._initial(x.shape[0]))[0]
        hc = state.get(self.slot)
        if hc is None:
            hc = self._initial(x.shape[0])
        y, hc = self._run(x, hc)
        state[self.slot] = hc  # type: ignore[assignment]
        return y
