"""`namcheck scale`: the reference output-scaling hook on a file, verified by measurement
in memory, then written atomically (exactly the model that was verified)."""

from __future__ import annotations

from pathlib import Path

from namcheck.harness.core import ModelReport, Options, Signal
from namcheck.harness.hooks import scale_output
from namcheck.harness.verify import verify_model
from namcheck.models.format import NamModel, read_nam, write_nam

# With --force (a post-stack head), the closed form is known not to hold: these failures
# are what the user accepted. Any other failure (a non-finite or silent output, a scale
# that under- or overflows float32) still keeps the file from being written.
FORCED_FAILURES = ("not_linear_in_head_scale", "beyond_tolerance", "")


def writable(report: ModelReport, force: bool = False) -> bool:
    """Whether the verification allows writing the scaled file: it passed (with `force`:
    no failure but the closed form's own)."""
    if report.status == "passed":
        return True
    if not force or report.status != "failed":
        return False
    return all(c.passed is not False or c.reason in FORCED_FAILURES for c in report.checks)


def scale_file(model_path: Path, scale: float, output: Path, signal: Signal, opts: Options,
               force: bool = False) -> tuple[ModelReport, str, bool]:
    """Scale the model at `model_path` by `scale` (head_scale and weights[-1], loudness +
    20*log10(scale)), verify the hooked model on `signal`, and write it to `output` only
    where the verification allows it (`writable`): nothing is written for a failed one.
    Returns the verification report (of the file as it is, and scaled: its checks labelled
    [s=scale] are the model written), a one-line summary of the change, and whether the
    file was written. HookRefusedError where the hook does not
    apply (a post-stack head without `force`)."""
    model = read_nam(model_path)
    scaled = scale_output(model, scale, force=force)
    report = verify_model(model, [scale], "reference", signal, opts)
    written = writable(report, force)
    if written:
        write_nam(scaled, output, original=model_path)
    return report, scaled_summary(model, scaled, scale), written


def scaled_summary(before: NamModel, after: NamModel, scale: float) -> str:
    """'scale xS, head_scale a -> b, loudness x dB -> y dB'."""
    def db(value: float | None) -> str:
        return "none stored" if value is None else f"{value:.4f} dB"

    parts = [f"scale x{scale:g}"]
    if after.head_scale is not None and before.head_scale is not None:
        parts.append(f"head_scale {before.head_scale:.6g} -> {after.head_scale:.6g}")
    parts.append(f"loudness {db(before.loudness)} -> {db(after.loudness)}")
    return ", ".join(parts)
