"""What an audit costs, in forward-equivalents: audit_model of a standard WaveNet (load,
loudness, the 11-level gain sweep as one joined forward, checks) over a plain load +
forward of the same file on the same engine, timed in the same run (issue target: <= 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from namcheck.harness.audit import audit_model
from namcheck.harness.bench import median_seconds
from namcheck.harness.core import Options, Signal
from namcheck.models import write_nam
from namcheck.models.engines import load_engine
from namcheck.models.examples import a1_doc
from namcheck.signals.generate import default_signal


@pytest.mark.parametrize("engine", ["auto", "reference"])
@pytest.mark.parametrize("gain", [True, False], ids=["with_gain", "no_gain"])
def test_audit_cost_in_forward_equivalents(benchmark, gain: bool, engine: str,
                                           tmp_path: Path) -> None:
    path = tmp_path / "a1_standard.nam"
    write_nam(a1_doc("standard"), path)
    x = default_signal()
    signal = Signal(x, 48000, "built-in", True)
    opts = Options(with_gain=gain, engine=engine)

    def plain() -> None:
        load_engine(path, engine)[0](np.asarray(x))

    def audit() -> None:
        audit_model(path, signal, opts)

    report = benchmark.pedantic(audit_model, args=(path, signal, opts), rounds=1)
    assert report.error is None
    repeats = 3 if benchmark.disabled else 5
    t_plain = median_seconds(plain, repeats=repeats)
    t_audit = median_seconds(audit, repeats=repeats)
    benchmark.extra_info.update(engine=engine, plain_seconds=t_plain, audit_seconds=t_audit,
                                forward_equivalents=t_audit / t_plain)
