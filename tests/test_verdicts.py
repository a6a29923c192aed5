"""Verdicts that mean what they say (statuses, exit codes), upstream's hook and forward as
subjects, divergence warnings, per-slim container levels, causes and the dB gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from conftest import FIXTURES, NAMCORE, UPSTREAM, checked_upstream_loader_fact, needs_fixtures
from namcheck.harness.cli import main
from namcheck.models import load, read_nam, write_nam
from namcheck.models.examples import (
    a1_doc,
    builtin_doc,
    container_doc,
    convnet_doc,
    legacy_a1_doc,
    linear_doc,
    lstm_doc,
)
from namcheck.signals.generate import default_signal

TEST_SIGNAL = UPSTREAM / "signals" / "test_signal.wav"
LOUDNESS_INPUT = FIXTURES / "loudness_input.wav"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """Run the CLI with a JSON report on stdout; returns (exit code, report)."""
    code = main([*args, "--json", "-"])
    return code, json.loads(capsys.readouterr().out)


def put(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp_path / name
    write_nam(doc, path)
    return path


def generic_signal(tmp_path: Path) -> Path:
    """A 48 kHz signal that is not NAM's standard input (stored loudness is not compared)."""
    path = tmp_path / "signal.wav"
    sf.write(str(path), default_signal(), 48000, subtype="FLOAT")
    return path


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("doc", [lstm_doc(), linear_doc(), convnet_doc()],
                         ids=["lstm", "linear", "convnet"])
def test_nothing_checked_is_not_verified_exit_3(doc: dict[str, Any], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = put(tmp_path, "m.nam", doc)
    code, report = run(["verify", str(path), "--builtin-signal", "--no-gain"], capsys)
    assert code == 3
    [model] = report["models"]
    assert model["status"] == "not_verified"
    assert model["unverified"] and report["status"] == "not_verified"
    assert report["summary"]["not_verified"] == 1


def test_wavenet_verifies_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = put(tmp_path, "m.nam", builtin_doc())
    code, report = run(["verify", str(path), "--builtin-signal", "--no-gain"], capsys)
    assert code == 0 and report["models"][0]["status"] == "passed"


def test_worst_status_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = put(tmp_path, "a.nam", builtin_doc())
    lstm = put(tmp_path, "b.nam", lstm_doc())
    code, report = run(["verify", str(good), str(lstm), "--builtin-signal", "--no-gain"],
                       capsys)
    assert code == 3 and [m["status"] for m in report["models"]] == ["passed", "not_verified"]


@needs_fixtures
@pytest.mark.parametrize(("name", "code", "status"), [("lstm", 3, "not_verified"),
                                                      ("linear", 3, "not_verified"),
                                                      ("convnet", 3, "not_verified"),
                                                      ("a1_standard", 0, "passed")])
def test_fixture_statuses_on_a_non_standard_signal(name: str, code: int, status: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    got, report = run(["verify", str(UPSTREAM / "models" / f"{name}.nam"), "--signal",
                       str(TEST_SIGNAL), "--no-gain"], capsys)
    assert (got, report["models"][0]["status"]) == (code, status)


def test_container_head_scale_check_names_submodels_without_one() -> None:
    from namcheck.harness.checks import head_scale_scaled
    from namcheck.harness.hooks import scale_output

    mixed = read_nam(container_doc([(0.5, builtin_doc()), (1.0, builtin_doc())]))
    check = head_scale_scaled(mixed, scale_output(mixed, 2.0), 2.0)
    assert check.passed is True and "without" not in check.detail
    with_lstm = read_nam(container_doc([(0.5, lstm_doc()), (1.0, builtin_doc())]))
    check = head_scale_scaled(with_lstm, with_lstm, 2.0)
    assert check.passed is False  # nothing was scaled
    only_lstm = read_nam(container_doc([(1.0, lstm_doc())]))
    check = head_scale_scaled(only_lstm, only_lstm, 2.0)
    assert check.passed is None and "no submodel has a head_scale" in check.detail


def test_config_vs_tail_is_a_warning_not_a_verdict(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The runtime (and upstream's loader, beyond 1e-5) plays weights[-1]: a config that
    disagrees is reported with its path, and does not fail the file."""
    doc = builtin_doc()
    doc["config"]["head_scale"] = 0.5
    path = put(tmp_path, "m.nam", doc)
    code, report = run(["audit", str(path), "--builtin-signal", "--no-gain"], capsys)
    [model] = report["models"]
    assert any(w.startswith("config.head_scale: config head_scale 0.5 differs from "
                            "weights[-1]") for w in model["warnings"])
    assert model["status"] == "not_verified" and code == 3


# --------------------------------------------------------------------------- upstream's hook



def needs_upstream() -> None:
    pytest.importorskip("nam", reason="the 'upstream' extra (neural-amp-modeler) is not "
                        "installed: pip install '.[upstream]'")


@pytest.mark.parametrize("scale", ["-1", "0"])
def test_upstream_hook_half_applied_is_hook_atomic_failure(
        scale: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    doc = builtin_doc()
    doc["metadata"] = {"loudness": -30.0}  # upstream's hook raises on log10(s) for it
    for path, raised in ((put(tmp_path, "m.nam", doc), True),
                         (put(tmp_path, "bare.nam", builtin_doc()), False)):
        code, report = run(["verify", str(path), "--hook", "upstream", "--scale", scale,
                            "--builtin-signal", "--no-gain"], capsys)
        assert code == 1
        check = next(c for c in report["models"][0]["checks"] if c["name"].startswith(
            "hook_atomic"))
        assert check["status"] == "fail" and check["name"] == "hook_atomic"
        assert check["scale"] == float(scale)
        assert "config.head_scale: 0.02 -> " in check["reason"]["text"]
        assert "weights[841]: 0.0199999996 -> " in check["reason"]["text"]
        assert ("math domain error" in check["reason"]["text"]) == raised
        assert raised or "accepted s=" in check["reason"]["text"]


def test_upstream_hook_on_container_wavenet_then_lstm(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    path = put(tmp_path, "c.nam", container_doc([(0.5, builtin_doc()), (1.0, lstm_doc())]))
    code, report = run(["verify", str(path), "--hook", "upstream", "--scale", "2",
                        "--builtin-signal", "--no-gain"], capsys)
    assert code == 1
    check = next(c for c in report["models"][0]["checks"] if c["name"] == "hook_atomic")
    assert check["scale"] == 2.0 and check["reason"]["code"] == "hook_not_atomic"
    assert check["status"] == "fail" and "Unsupported architecture" in check["reason"]["text"]
    assert "config.submodels[0].model.config.head_scale: 0.02 -> 0.04" in check["reason"]["text"]


@pytest.mark.parametrize("scale", ["nan", "inf"])
def test_upstream_hook_writing_non_finite_fails(scale: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    path = put(tmp_path, "m.nam", builtin_doc())
    code, report = run(["verify", str(path), "--hook", "upstream", "--scale", scale,
                        "--builtin-signal", "--no-gain"], capsys)
    assert code == 1
    check = report["models"][0]["checks"][-1]
    assert check["name"] == "hook_atomic" and check["status"] == "fail"
    assert check["reason"]["code"] == "hook_wrote_invalid_model"
    assert "wrote an invalid model" in check["reason"]["text"]


def test_upstream_hook_clean_refusal_is_not_verified(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    path = put(tmp_path, "c.nam", convnet_doc())
    code, report = run(["verify", str(path), "--hook", "upstream", "--builtin-signal",
                        "--no-gain"], capsys)
    assert code == 3 and report["models"][0]["status"] == "not_verified"


# --------------------------------------------------------------------------- compare


def test_compare_flags_each_divergent_upstream_export(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    from upstream_exports import divergent_exports

    from namcheck.harness.divergence import runtime_divergences

    exports = divergent_exports()
    for name, (doc, cause) in exports.items():
        path = put(tmp_path, f"{name}.nam", doc)
        code, report = run(["compare", str(path), "--builtin-signal"], capsys)
        assert code == 1, name
        failed = [c for c in report["models"][0]["checks"] if c["status"] == "fail"]
        assert failed, name
        reasons = {d.cause: str(d) for d in runtime_divergences(read_nam(path))}
        assert cause in reasons, (name, reasons)
        assert all(reasons[cause] in c["reason"]["text"] for c in failed), (name, failed)
        # inspect warns on the same feature, without running upstream
        assert main(["inspect", str(path)]) == 0
        assert reasons[cause] in capsys.readouterr().out


def test_compare_names_head_scale_config_vs_tail(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """config 0.02, tail 0.020004: upstream keeps the config value (within 1e-5), the
    runtime plays the tail, a relative 2e-4 apart: beyond float32 rounding."""
    needs_upstream()
    doc = a1_doc("nano")
    doc["weights"][-1] = 0.020004
    path = put(tmp_path, "m.nam", doc)
    code, report = run(["compare", str(path), "--builtin-signal", "--dtype", "float64"], capsys)
    failed = [c for c in report["models"][0]["checks"] if c["status"] == "fail"]
    assert code == 1 and failed
    assert all("config.head_scale: config.head_scale 0.02 differs from weights[-1] 0.020004"
               in c["reason"]["text"] for c in failed)
    assert abs(failed[0]["measured"] - 2e-4) < 1e-6


def test_compare_passes_matching_models_and_reports_loader_failures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    good = put(tmp_path, "a1.nam", a1_doc("lite"))
    legacy = put(tmp_path, "legacy.nam", legacy_a1_doc())
    code, report = run(["compare", "--upstream", str(good), str(legacy), "--builtin-signal"],
                       capsys)
    assert code == 1
    first, second = report["models"]
    assert first["status"] == "passed"
    [check] = second["checks"]
    assert check["name"] == "upstream_loads" and check["status"] == "fail"
    text = check["reason"]["text"]
    assert "KeyError" in text and "legacy 0.5 layer array" in text


def test_compare_without_upstream_is_one_line_exit_2(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nam", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "nam.models", None)
    path = put(tmp_path, "m.nam", builtin_doc())
    assert main(["compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'namcheck[upstream]'" in err


def test_inspect_does_not_warn_on_a1_presets(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for preset in ("standard", "lite", "feather", "nano"):
        path = put(tmp_path, f"{preset}.nam", a1_doc(preset))
        assert main(["inspect", str(path), "--json"]) == 0
        [info] = json.loads(capsys.readouterr().out)
        assert info["warnings"] == [], preset


@needs_fixtures
def test_compare_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    models = [UPSTREAM / "models" / f"{n}.nam" for n in
              ("a1_standard", "a1_lite", "a1_feather", "a1_nano", "a2_container")]
    code, report = run(["compare", "--upstream", *map(str, models), "--signal",
                        str(TEST_SIGNAL)], capsys)
    assert code == 0 and all(m["status"] == "passed" for m in report["models"])
    code, report = run(["compare", "--upstream", str(UPSTREAM / "models" / "linear.nam"),
                        str(NAMCORE / "wavenet_a1_standard.nam"), "--signal",
                        str(TEST_SIGNAL)], capsys)
    linear, legacy = report["models"]
    assert code == 1 and linear["status"] == legacy["status"] == "failed"
    assert "Linear tap order" in linear["checks"][0]["reason"]["text"]
    assert legacy["checks"][0]["name"] == "upstream_loads"


# --------------------------------------------------------------------------- compare --render


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    model = put(tmp_path, "m.nam", a1_doc("nano", seed=3))
    signal = generic_signal(tmp_path)
    out = tmp_path / "render.wav"
    assert main(["render", str(model), str(signal), str(out)]) == 0
    return model, signal, sf.read(str(out), dtype="float32")[0]


def test_compare_render_passes_a_faithful_render(rendered: tuple[Path, Path, np.ndarray],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model, signal, _ = rendered
    capsys.readouterr()
    code, report = run(["compare", str(model), "--render", str(model.parent / "render.wav"),
                        "--signal", str(signal)], capsys)
    assert code == 0, report
    names = [c["name"] for c in report["models"][0]["checks"]]
    assert names == ["render_length", "render_alignment", "output", "loudness"]


@pytest.mark.parametrize(("edit", "failing"), [
    (lambda y: np.concatenate([np.zeros(37, np.float32), y]), {"render_alignment",
                                                               "render_length"}),
    (lambda y: y[:-100], {"render_length"}),
    (lambda y: 1.01 * y, {"output", "loudness"}),
])
def test_compare_render_reports_shift_length_and_level(
        edit: Any, failing: set[str], rendered: tuple[Path, Path, np.ndarray],
        capsys: pytest.CaptureFixture[str]) -> None:
    model, signal, y = rendered
    bad = model.parent / "bad.wav"
    sf.write(str(bad), edit(y), 48000, subtype="FLOAT")
    capsys.readouterr()
    code, report = run(["compare", str(model), "--render", str(bad), "--signal", str(signal)],
                       capsys)
    assert code == 1
    got = {c["name"] for c in report["models"][0]["checks"] if c["status"] == "fail"}
    assert got == failing
    if "render_alignment" in failing:
        check = next(c for c in report["models"][0]["checks"]
                     if c["name"] == "render_alignment")
        assert check["measured"] == 37 and "37 samples late" in check["reason"]["text"]


# --------------------------------------------------------------------------- containers per slim


def two_level_container(tmp_path: Path) -> tuple[Path, Path]:
    """A container whose submodels differ in level (the small one 6 dB hotter); its
    metadata copies the top submodel's, as exporters write. Measured on a signal we treat
    as the standard input."""
    signal = generic_signal(tmp_path)
    small = builtin_doc()
    small["weights"][-1] *= 2.0
    small["config"]["head_scale"] *= 2.0
    big = builtin_doc()
    x = sf.read(str(signal))[0]
    from namcheck.signals.levels import loudness

    levels = [loudness(load(d), x) for d in (small, big)]
    small["metadata"], big["metadata"] = {"loudness": levels[0]}, {"loudness": levels[1]}
    doc = container_doc([(0.5, small), (1.0, big)])
    doc["metadata"] = {"loudness": levels[1]}
    return put(tmp_path, "c.nam", doc), signal


def test_audit_reports_the_level_hosts_set_per_slim(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path, signal = two_level_container(tmp_path)
    args = ["audit", str(path), "--signal", str(signal), "--standard-input", "--no-gain"]
    code, report = run(args, capsys)
    checks = {c["name"]: c for c in report["models"][0]["checks"]}
    low, high = checks["normalised_level_error[0<=slim<0.5]"], checks[
        "normalised_level_error[0.5<=slim<=1]"]
    # the small submodel's weights x2: 20*log10(2) = 6.0206 dB above the one loudness hosts
    # use; a runtime limitation (no edit of the file fixes it), its dB kept, not a failure
    assert low["status"] == "limitation" and abs(low["error"] - 6.0206) < 1e-3
    assert low["reason"]["code"] == "runtime_limitation"
    assert "plays 6.02 dB louder" in low["reason"]["text"] and high["status"] == "pass"
    assert report["models"][0]["counts"]["runtime_limits"] == 1
    assert report["models"][0]["counts"]["failed"] == 0
    assert report["summary"]["runtime_limits"] == 1
    assert report["models"][0]["status"] == "passed" and code == 0
    # the opt-in gate fails it, keeping its reason code
    code, report = run([*args, "--fail-on-runtime-limits"], capsys)
    low = next(c for c in report["models"][0]["checks"]
               if c["name"] == "normalised_level_error[0<=slim<0.5]")
    assert low["status"] == "fail" and low["reason"]["code"] == "runtime_limitation"
    assert report["summary"]["runtime_limits"] == 1 and code == 1
    assert report["options"]["fail_on_runtime_limits"] is True
    # the text report: a LIM row and the summary line counting runtime limitations
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "LIM   normalised_level_error[0<=slim<0.5]" in text
    assert "runtime limitations: 1 (findings no edit of the file can fix" in text
    # verify --slim uses the same check for the interval it plays
    code, report = run(["verify", str(path), "--signal", str(signal), "--standard-input",
                        "--no-gain", "--slim", "0.2"], capsys)
    names = [c["name"] for c in report["models"][0]["checks"] if c["status"] == "limitation"]
    assert names == ["normalised_level_error[0<=slim<0.5]"] and code == 0
    assert report["options"]["slim"] == 0.2
    code, _ = run(["verify", str(path), "--signal", str(signal), "--standard-input",
                   "--no-gain", "--slim", "0.2", "--fail-on-runtime-limits"], capsys)
    assert code == 1


def test_fail_above_db_gates_level_checks(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, signal = two_level_container(tmp_path)
    gate = ["--fail-on-runtime-limits"]
    code, report = run(["audit", str(path), "--signal", str(signal), "--standard-input",
                        "--no-gain", "--fail-above-db", "7", *gate], capsys)
    assert code == 0
    low = next(c for c in report["models"][0]["checks"]
               if c["name"] == "normalised_level_error[0<=slim<0.5]")
    assert low["status"] == "pass" and low["tolerance"] == 7.0
    assert "exceeds the rounding bound" in low["reason"]["text"]
    code, _ = run(["audit", str(path), "--signal", str(signal), "--standard-input",
                   "--no-gain", "--fail-above-db", "6", *gate], capsys)
    assert code == 1


@needs_fixtures
def test_a2_per_slim_level_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["audit", str(NAMCORE / "A2.nam"), "--signal", str(LOUDNESS_INPUT), "--no-gain"]
    code, report = run(args, capsys)
    checks = {c["name"]: c for c in report["models"][0]["checks"]}
    low = checks["normalised_level_error[0<=slim<0.5]"]
    high = checks["normalised_level_error[0.5<=slim<=1]"]
    # NeuralAmpModelerCore's own A2.nam: ~2.35 dB off, a runtime limitation, not a failure
    assert low["status"] == "limitation" and 2.3 < low["error"] < 2.4
    assert low["reason"]["code"] == "runtime_limitation"
    assert high["status"] == "pass" and high["error"] < 1e-5
    assert report["summary"]["runtime_limits"] == 1 and code == 0
    code, _ = run([*args, "--fail-on-runtime-limits"], capsys)
    assert code == 1


def test_fail_on_runtime_limits_is_a_plugin_option_too() -> None:
    """The gate is in the shared table (harness/options.py), so the pytest plugin gets
    --namcheck-fail-on-runtime-limits and reads it into the run's Options as the CLI does."""
    from namcheck.harness import options as O

    option = O.OPTIONS["fail_on_runtime_limits"]
    assert option.plugin and option in O.PLUGIN_OPTIONS
    assert option.flag == "--fail-on-runtime-limits"

    class Config:
        def getoption(self, name: str) -> Any:
            given = {"namcheck_fail_on_runtime_limits": True, "namcheck_dtype": "float32",
                     "namcheck_engine": "auto", "namcheck_no_gain": True}
            return given.get(name)

    assert O.run_options(O.Values.of_pytest(Config())).fail_on_runtime_limits is True


# --------------------------------------------------------------------------- causes


def test_linear_stored_loudness_from_pytorch_tap_order_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Linear whose stored loudness was measured with the taps reversed (as upstream's
    exporter plays it): the failure names that cause."""
    signal = generic_signal(tmp_path)
    doc = linear_doc(taps=24, seed=5)
    from namcheck.signals.levels import loudness

    flipped = linear_doc(taps=24, seed=5)
    flipped["weights"][:24] = flipped["weights"][:24][::-1]
    doc["metadata"] = {"loudness": loudness(load(flipped), sf.read(str(signal))[0])}
    path = put(tmp_path, "lin.nam", doc)
    code, report = run(["audit", str(path), "--signal", str(signal), "--standard-input",
                        "--no-gain"], capsys)
    check = next(c for c in report["models"][0]["checks"] if c["name"] == "metadata_loudness")
    assert code == 1 and check["status"] == "fail"
    assert "the stored value is the PyTorch reading" in check["reason"]["text"]
    assert "Linear tap order" in check["reason"]["text"]


def test_bench_upstream_never_tracebacks(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    needs_upstream()
    path = put(tmp_path, "legacy.nam", legacy_a1_doc())
    assert main(["bench", str(path), "--upstream", "--seconds", "0.05", "--repeats", "1",
                 "--block", "256"]) == 0
    out = capsys.readouterr().out
    assert "upstream nam" in out and "n/a: KeyError" in out


@pytest.mark.parametrize("make", [
    lambda: container_doc([(0.5, a1_doc("nano", seed=1)), (1.0, builtin_doc())]),
    lambda: builtin_doc()])
def test_inspect_upstream_loader_against_upstreams_loader(
        make: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """inspect's upstream_loader names a cause exactly where upstream's init_from_nam
    raises: a SlimmableContainer (no reader for it), not a plain A1 WaveNet."""
    path = tmp_path / "m.nam"
    write_nam(make(), path)
    fact = checked_upstream_loader_fact(path, capsys)
    if fact is not None:
        assert fact == ("fails: architecture: upstream's .nam loader (init_from_nam) has no "
                        "SlimmableContainer reader (KeyError 'SlimmableContainer')"), fact
