"""`namcheck plot`: pictures where people would rather look than read (the `plot` extra,
matplotlib). Every figure is computed by running the models, like the checks.

- shift: measured vs closed-form loudness shift over scales 1e-3..1e3, and below, on its
  own labelled axis, the error and its tolerance (a post-stack head shows the gap).
- slims: a container's stored loudness vs each submodel's measured loudness, per slim
  interval of the runtime's selection rule, with each interval's verdict and tolerance.
- compare: reference vs upstream's PyTorch output (or a render WAV): overlay, difference,
  spectra in dBFS.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from namcheck.harness import checks as C
from namcheck.harness.core import ModelReport, Options, Signal, check_rate, measure
from namcheck.harness.errors import BadInputError
from namcheck.harness.hooks import closed_form_shift_db, scale_output
from namcheck.models.atomic import atomic_write
from namcheck.models.format import NamModel, read_nam
from namcheck.models.slimming import slim_intervals

SHIFT_SCALES = np.logspace(-3, 3, 13)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or one line saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        raise BadInputError("plot: matplotlib is not installed (pip install "
                            "'namcheck[plot]')") from None
    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    data = buffer.getvalue()
    return atomic_write(path, lambda handle: handle.write(data))


def plot_shift(model: NamModel, signal: Signal, opts: Options, out: str | os.PathLike[str]
               ) -> Path:
    """Measured loudness shift vs 20*log10(s) for s in 1e-3..1e3 (13 forwards per curve),
    error and tolerance on their own axis below. A SlimmableContainer gets one curve per
    submodel with a head_scale (each is what plays at its slim values). Models with a
    post-stack head are scaled with force."""
    if model.head_scale is None and not any(s.model.head_scale is not None
                                            for s in model.submodels):
        raise BadInputError(f"{model.source}: plot shift: {model.architecture} has no "
                            "head_scale to scale")
    check_rate(model, signal)
    plain = Options(opts.dtype, opts.device, opts.slim, False)
    if model.submodels:  # each submodel scaled alone (a container may mix in an LSTM)
        targets = [(f"submodel {i} (max_value {sub.max_value:g})", sub.model, None)
                   for i, sub in enumerate(model.submodels) if sub.model.head_scale is not None]
    else:
        targets = [("measured shift", model, opts.slim)]

    closed = np.array([closed_form_shift_db(float(s)) for s in SHIFT_SCALES])
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 2]})
    ax.semilogx(SHIFT_SCALES, closed, "k--", lw=2.5, label="closed form 20·log10(s)")
    held = True
    markers = "osD^v<>"
    for k, (label, target, slim) in enumerate(targets):
        before = measure(target, signal, plain, slim)
        checks = [C.loudness_shift(before, measure(scale_output(target, float(s), force=True),
                                                   signal, plain, slim), float(s), opts.dtype)
                  for s in SHIFT_SCALES]
        measured = np.array([c.measured for c in checks], dtype=float)
        tolerance = np.array([c.tolerance for c in checks], dtype=float)
        error = np.abs(measured - closed)
        held = held and bool(np.all(error <= tolerance))
        color = f"C{k}"
        # hollow markers shrinking per curve, so coinciding curves all stay visible
        ax.semilogx(SHIFT_SCALES, measured, markers[k % len(markers)], color=color,
                    ms=max(4, 10 - 3 * k), fillstyle="none", mew=1.5, label=label)
        drawn = error > 0  # an exact 0 (at s = 1) has no place on a log axis
        ax2.loglog(SHIFT_SCALES[drawn], error[drawn], "-" + markers[k % len(markers)],
                   color=color, ms=4, label=f"|measured − closed form|: {label}")
        if k == 0:
            ax2.loglog(SHIFT_SCALES, tolerance, ":", color="black", lw=1.5,
                       label="tolerance (passes at or below)")
    ax.set_ylabel("loudness shift (dB)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax2.set_xlabel("scale s")
    ax2.set_ylabel("error and tolerance (dB)")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(loc="best", fontsize=7, title="an exact 0 is not drawn", title_fontsize=7)
    ax.set_title(f"{Path(model.source).name}: loudness shift vs scale "
                 f"({'closed form holds' if held else 'closed form does NOT hold'})",
                 fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def plot_slims(model: NamModel, signal: Signal, opts: Options, out: str | os.PathLike[str]
               ) -> Path:
    """Per slim interval: the loudness hosts normalise with (the container's stored value)
    vs the measured (and stored) loudness of the submodel that plays there."""
    if not model.submodels:
        raise BadInputError(f"{model.source}: plot slims: not a SlimmableContainer")
    check_rate(model, signal)
    plain = Options(opts.dtype, opts.device, None, False)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    verdicts = []
    for k, (index, lo, hi) in enumerate(slim_intervals(model)):
        sub = model.submodels[index].model
        m = measure(sub, signal, plain)
        level = m.loudness
        right = hi if hi > lo else lo + 0.01
        # measured: a wide translucent band, so the thin lines drawn over it stay visible
        ax.hlines(level, lo, right, colors="tab:blue", lw=7, alpha=0.35, zorder=2,
                  label="measured (submodel playing)" if k == 0 else None)
        if sub.loudness is not None:
            ax.hlines(sub.loudness, lo, right, colors="tab:green", lw=1.5, linestyles="--",
                      zorder=4, label="stored in the submodel" if k == 0 else None)
        check = C.normalised_level_error(model, index, lo, hi, m, signal.standard_input)
        limited = C.is_limitation(check)  # off the level, as the runtime's design makes it
        verdicts.append(False if limited else check.passed)
        note = f"sub {index}: {level:.2f} dB"
        if (check.passed is not None or limited) and model.loudness is not None:
            mark = "LIMIT" if limited else "PASS" if check.passed else "FAIL"
            off = round(level - model.loudness, 2) + 0.0  # never "-0.00"
            note += (f"\n{mark}: {off:+.2f} "
                     f"dB vs the level hosts set (tolerance {check.tolerance:.2g} dB)")
        first = lo == 0.0  # centred there, the note would run into the y axis
        ax.annotate(note, (lo + 0.01 if first else (lo + right) / 2, level), xytext=(0, 6),
                    textcoords="offset points", va="bottom",
                    ha="left" if first else "center", fontsize=8)
    if model.loudness is not None:
        ax.axhline(model.loudness, color="tab:red", lw=1.2, linestyle="-.", zorder=3,
                   label=f"container's stored loudness ({model.loudness:.2f} dB)")
    ax.set_xlim(0, 1.02)
    low, high = ax.get_ylim()
    ax.set_ylim(low - 0.5, high + 0.15 * (high - low) + 0.5)  # room for the notes
    ax.set_xlabel("slim value")
    ax.set_ylabel("loudness (dB)")
    kind = "NAM's standard input" if signal.standard_input else "not NAM's standard input"
    if model.loudness is None:
        verdict = "\nthe container stores no loudness: hosts cannot normalise it"
    elif None in verdicts:
        verdict = "\nnot verified: stored loudness is compared on NAM's standard input only"
    else:
        verdict = ("\nevery slim plays at the level hosts set" if all(verdicts) else
                   f"\n{verdicts.count(False)} slim interval(s) play off the level hosts set")
    ax.set_title(f"{Path(model.source).name}: level per slim interval ({kind}){verdict}",
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    # below the axes: inside, it covered an interval's bar and note
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    return _save(fig, out)


def plot_compare(model: NamModel, signal: Signal, opts: Options, out: str | os.PathLike[str],
                 render: str | os.PathLike[str] | None = None) -> Path:
    """Reference vs upstream's PyTorch output (or `render`): overlay, difference, spectra,
    drawn from the comparison `compare` reports (harness/compare.py: Compared): the render
    aligned by the shift found, and the title with the report's peak-relative difference,
    bound and verdict, and the shift."""
    from namcheck.harness.compare import render_comparison, upstream_comparison

    check_rate(model, signal)
    if render is not None:
        compared = render_comparison(model, render, signal, opts)
        label = Path(render).name
    else:
        target = model.submodels[-1].model if model.submodels else model
        try:
            compared = upstream_comparison(target, signal, opts)
        except BadInputError as exc:
            raise BadInputError(f"{model.source}: plot compare: {exc}") from None
        label = "upstream (PyTorch)"
    a = compared.outputs.ours.numpy()
    b = compared.outputs.theirs.numpy()
    n = len(a)
    rate = signal.rate or 48000
    t = np.arange(n) / rate
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(8, 8))
    axes[0].plot(t, a, lw=1.4, color="tab:blue", label="namcheck reference (runtime)")
    axes[0].plot(t, b, lw=0.6, color="tab:orange", linestyle="--", label=label)
    axes[0].set_ylabel("output (full scale 1.0)")
    axes[0].set_xlabel("time (s)")
    axes[0].legend(fontsize=8)
    axes[1].plot(t, b - a, lw=0.6, color="tab:red")
    axes[1].set_ylabel(f"{label} − reference\n(full scale 1.0)")
    axes[1].set_xlabel("time (s)")
    window = np.hanning(n)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    # dBFS: a full-scale sine at a bin's frequency reads 0 dBFS (amplitude 2|X|/sum(w))
    full_scale = np.sum(window) / 2
    styles = (("tab:blue", 1.4, "-"), ("tab:orange", 0.6, "--"), ("tab:red", 0.6, "-"))
    exact = not np.any(b - a)
    for (data, name), (color, width, style) in zip(
            ((a, "reference"), (b, label),
             (b - a, "difference: exactly 0, not drawn" if exact else "difference")),
            styles, strict=True):
        spectrum = np.abs(np.fft.rfft(data * window))[1:] / full_scale
        with np.errstate(divide="ignore"):  # an exact 0 is not drawn (no -inf dB)
            level = np.where(spectrum > 0, 20 * np.log10(spectrum), np.nan)
        axes[2].semilogx(freqs[1:], level, lw=width, color=color, linestyle=style,
                         label=name)
    axes[2].set_xlabel("frequency (Hz)")
    axes[2].set_ylabel("level (dBFS, Hann window)")
    axes[2].legend(fontsize=8)
    check = compared.output_check
    verdict = {True: "PASS", False: "FAIL", None: "n/a"}[check.passed]
    shift = (f"; aligned: {label} is {abs(compared.lag)} samples "
             f"{'late' if compared.lag > 0 else 'early'}" if compared.lag else "")
    measured = "-" if check.measured is None else f"{check.measured:.2g}"
    bound = "-" if check.tolerance is None else f"{check.tolerance:.2g}"
    # the comparison's verdict is the report's: a shift or a length difference fails it
    # even where the aligned output is within its bound
    failed = [c.name for c in compared.report.checks if c.passed is False]
    overall = (f"\ncompare: {compared.report.status.upper()}"
               + (f" ({', '.join(failed)})" if failed else ""))
    axes[0].set_title(f"{Path(model.source).name}: {label} vs reference: peak-relative "
                      f"difference {measured}, bound {bound}: output {verdict}{shift}"
                      f"{overall}", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def write_plots(kind: str, reports: list[ModelReport], models: list[NamModel | None],
                signal: Signal, opts: Options, folder: Path, say: Callable[[str], None],
                render: str | os.PathLike[str] | None = None) -> list[Path]:
    """`--plots DIR`: the `kind` figure of every model in `reports` it applies to (shift:
    models with a head_scale; slims: containers; compare: every model), named
    MODEL-stem.KIND.png. `models[i]` is the parsed model reports[i] ran on (None where it
    ran elsewhere, e.g. an audit worker: then it is read again). A model a figure cannot be
    drawn for is said, and skipped."""
    written = []
    for report, parsed in zip(reports, models, strict=True):
        if report.error:
            continue
        model = parsed if parsed is not None else read_nam(report.path)
        if kind == "slims" and not model.submodels:
            continue
        if kind == "shift" and model.head_scale is None and not model.submodels:
            continue
        stem = "builtin" if model.source.startswith("<") else Path(model.source).stem
        out = folder / f"{stem or 'model'}.{kind}.png"
        try:
            if kind == "shift":
                plot_shift(model, signal, opts, out)
            elif kind == "slims":
                plot_slims(model, signal, opts, out)
            else:
                plot_compare(model, signal, opts, out, render)
        except BadInputError as exc:
            print(f"namcheck: {exc}", file=sys.stderr)
            continue
        say(f"plot: {out}")
        written.append(out)
    return written
