"""The worst cases of a conformance run as one figure (the `plot` extra, matplotlib): for
each, the runtime's output over namcheck's reference, and their difference against the
bound."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from namcheck.harness.conform.run import CaseResult
from namcheck.harness.plot import pyplot
from namcheck.models.atomic import atomic_write


def worst(results: list[CaseResult], count: int = 4) -> list[CaseResult]:
    """The `differs` cases with the largest error relative to their bound."""
    differs = [r for r in results if r.verdict.status == "differs"
               and r.verdict.max_abs_error is not None and r.verdict.bound]
    differs.sort(key=lambda r: -(r.verdict.max_abs_error or 0.0) / (r.verdict.bound or 1.0))
    return differs[:count]


def plot_worst(results: list[CaseResult], out: Path, count: int = 4) -> Path | None:
    """Overlay and difference of the worst `count` cases, as PNG; None when no case
    differs (nothing is written)."""
    chosen = worst(results, count)
    if not chosen:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(chosen), 2, figsize=(11, 2.6 * len(chosen)), squeeze=False)
    for row, r in zip(axes, chosen, strict=True):
        p, v = r.prepared, r.verdict
        expected = p.expected
        assert expected is not None and v.bound is not None
        output, _ = sf.read(str(p.output_path), dtype="float64")
        t = np.arange(expected.size) / p.rate * 1000.0
        row[0].plot(t, expected, lw=0.7, label="namcheck reference")
        row[0].plot(t, output, lw=0.7, alpha=0.75, label="runtime")
        row[0].set_title(f"{r.case.name}: {v.status}", fontsize=9)
        row[0].set_ylabel("output")
        row[0].legend(fontsize=7, loc="upper left")
        row[1].plot(t, output - expected, lw=0.7, color="tab:red", label="runtime - reference")
        for sign in (1, -1):
            row[1].axhline(sign * v.bound, color="k", ls=":", lw=0.8,
                           label="bound" if sign > 0 else None)
        cause = (v.shape.text if v.shape else v.cause or "")[:90]
        row[1].set_title(f"max |error| {v.max_abs_error:.3g} (bound {v.bound:.3g}); {cause}",
                         fontsize=8)
        row[1].legend(fontsize=7, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(out, lambda h: h.write(buffer.getbuffer()))
