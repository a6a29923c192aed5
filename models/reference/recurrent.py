"""Reference LSTM forward (NAM_FORMAT §5), with the runtime's prewarm from the stored state."""

from __future__ import annotations

import math

import torch
from torch import nn

from namcheck.models.format.schema import LSTMConfig
from namcheck.models.reference.base import NamModule
from namcheck.models.reference.conv import StreamState, WeightStream

# render's host buffer size; the runtime rounds its prewarm up to whole buffers.
DEFAULT_BUFFER = 64


def lstm_prewarm_samples(sample_rate: float | None, buffer_size: int = DEFAULT_BUFFER) -> int:
    """floor(0.5 * sr) zeros (1 if unknown), rounded up to whole host buffers."""
    p = math.floor(0.5 * sample_rate) if sample_rate else 1
    p = max(p, 1)
    return math.ceil(p / buffer_size) * buffer_size


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
