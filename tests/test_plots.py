"""`namcheck plot` and `--plots DIR`: each PNG is written and is not blank (the `plot`
extra; skipped by name without matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.models import write_nam
from namcheck.models.examples import builtin_doc, container_doc, linear_doc
from namcheck.signals.generate import default_signal

pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")


def assert_picture(path: Path) -> None:
    """A real PNG with drawn content: many colours, and a good share of non-white pixels."""
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(str(path))[..., :3]
    non_white = float(np.mean(np.any(pixels < 0.95, axis=-1)))
    colours = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert non_white > 0.02 and colours > 20, (path, non_white, colours)


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    signal = tmp_path / "signal.wav"
    sf.write(str(signal), default_signal(), 48000, subtype="FLOAT")
    paths = {"wavenet": tmp_path / "amp.nam", "container": tmp_path / "c.nam",
             "linear": tmp_path / "lin.nam", "signal": signal}
    write_nam(builtin_doc(), paths["wavenet"])
    hot = builtin_doc()
    hot["weights"][-1] *= 3
    hot["config"]["head_scale"] *= 3
    container = container_doc([(0.5, hot), (1.0, builtin_doc())])
    container["metadata"] = {"loudness": -40.0}
    write_nam(container, paths["container"])
    write_nam(linear_doc(), paths["linear"])
    return paths


def test_plot_commands_write_pictures(models: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    signal = ["--signal", str(models["signal"])]
    shift = tmp_path / "shift.png"
    assert main(["plot", "shift", str(models["wavenet"]), "-o", str(shift), *signal]) == 0
    assert_picture(shift)
    slims = tmp_path / "slims.png"
    assert main(["plot", "slims", str(models["container"]), "-o", str(slims), *signal]) == 0
    assert_picture(slims)
    render = tmp_path / "render.wav"
    assert main(["render", str(models["linear"]), str(models["signal"]), str(render)]) == 0
    versus = tmp_path / "compare.png"
    assert main(["plot", "compare", str(models["linear"]), "--render", str(render), "-o",
                 str(versus), *signal]) == 0
    assert_picture(versus)
    capsys.readouterr()
    # bad requests: one line, exit 2, nothing written
    for args, expected in ((["shift", str(models["linear"])], "has no head_scale"),
                           (["slims", str(models["wavenet"])], "not a SlimmableContainer"),
                           (["shift", str(models["wavenet"]), "-o", str(tmp_path / "x.jpg")],
                            "plots are written as .png")):
        assert main(["plot", *args, *signal]) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1
    assert not (tmp_path / "x.jpg").exists()


def test_plots_folder_from_verify_and_audit(models: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    assert main(["verify", str(models["wavenet"]), "--builtin-signal", "--no-gain", "--plots",
                 str(folder)]) == 0
    assert_picture(folder / "amp.shift.png")
    assert main(["audit", str(models["container"]), "--signal", str(models["signal"]),
                 "--standard-input", "--no-gain", "--plots", str(folder)]) == 1
    assert_picture(folder / "c.slims.png")
    assert sorted(p.name for p in folder.iterdir()) == ["amp.shift.png", "c.slims.png"]


def test_plot_compare_upstream(models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("nam", reason="the 'upstream' extra is not installed")
    out = tmp_path / "up.png"
    assert main(["plot", "compare", str(models["linear"]), "-o", str(out),
                 "--builtin-signal"]) == 0
    assert_picture(out)


def test_shift_plot_draws_one_curve_per_container_submodel(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """A container mixing an LSTM with two WaveNets: each WaveNet submodel is scaled alone
    and drawn as its own curve (the LSTM, with no head_scale, is left out, not refused)."""
    from namcheck.harness import plot as P
    from namcheck.models.examples import lstm_doc

    doc = container_doc([(0.3, lstm_doc()), (0.6, builtin_doc()), (1.0, builtin_doc())])
    model = tmp_path / "box.nam"
    write_nam(doc, model)
    labels: list[str] = []
    real = P.pyplot

    def spying() -> object:
        plt = real()
        if labels or getattr(plt.Axes.semilogx, "spy", False):
            return plt
        original = plt.Axes.semilogx

        def semilogx(self: object, *args: object, **kwargs: object) -> object:
            if "label" in kwargs:
                labels.append(str(kwargs["label"]))
            return original(self, *args, **kwargs)

        semilogx.spy = True  # type: ignore[attr-defined]
        monkeypatch.setattr(plt.Axes, "semilogx", semilogx)
        return plt

    monkeypatch.setattr(P, "pyplot", spying)
    out = tmp_path / "shift.png"
    assert main(["plot", "shift", str(model), "-o", str(out), "--builtin-signal"]) == 0
    assert_picture(out)
    assert labels == ["closed form 20·log10(s)", "submodel 1 (max_value 0.6)",
                      "submodel 2 (max_value 1)"]


def test_plot_compare_leaves_an_exact_zero_undrawn(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An identity Linear against its own input: the difference is exactly 0, which the
    spectrum panel names and does not draw (it was a line at -400 dBFS that squashed the
    spectra into the top of the panel)."""
    import namcheck.harness.plot as plot

    signal = tmp_path / "signal.wav"
    sf.write(str(signal), default_signal().astype(np.float32), 48000, subtype="FLOAT")
    model = tmp_path / "identity.nam"
    write_nam({"version": "0.5.4", "architecture": "Linear", "sample_rate": 48000,
               "config": {"receptive_field": 1, "bias": False}, "weights": [1.0]}, model)
    figures: list = []
    monkeypatch.setattr(plot, "_save", lambda fig, path: figures.append(fig) or Path(path))
    assert main(["plot", "compare", str(model), "--render", str(signal), "--signal",
                 str(signal), "-o", str(tmp_path / "c.png")]) == 0
    spectra = figures[0].axes[2]
    labels = [line.get_label() for line in spectra.get_lines()]
    assert labels[2] == "difference: exactly 0, not drawn"
    assert np.all(np.isnan(spectra.get_lines()[2].get_ydata()))
    assert spectra.get_ylim()[0] > -300
