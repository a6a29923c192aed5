"""`namcheck conform` against runtime stand-ins (tests/runtimes/standin.py): namcheck's own
reference behind the command template must pass every case, and each stand-in with one
planted fault must be flagged on the cases of that fault's feature, only there, with the
right cause. No C++ needed; the real runtime is exercised where NAMCHECK_CORE_RENDER
names NeuralAmpModelerCore's render.

The stand-ins run as real processes through the template (files, exit status, signals);
they share one server in this test process (one torch import, one fault-free forward per
case reused by faults that do not change it), so the whole suite stays affordable.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from namcheck.harness.cli import main
from namcheck.harness.conform.expected import Prepared, esr
from namcheck.harness.conform.run import CaseResult, prepared_cases, run_prepared
from namcheck.harness.conform.runner import RunResult, Template, TemplateError
from namcheck.harness.conform.schema import ConformReport, json_schema
from namcheck.harness.conform.suite import DEFAULT_SAMPLES, Case, build_cases, select
from namcheck.harness.conform.verdict import classify, judge

ROOT = Path(__file__).resolve().parent
STANDIN = ROOT / "runtimes" / "standin.py"
sys.path.insert(0, str(ROOT / "runtimes"))
import standin  # noqa: E402

CASES, FEATURES = build_cases()
# The format's own lists (NAM_FORMAT §3.1, §4), written out: the suite is checked against
# the format, not against namcheck's reader.
ACTIVATION_NAMES = ("Tanh", "Fasttanh", "Hardtanh", "ReLU", "LeakyReLU", "PReLU", "Sigmoid",
                    "SiLU", "Hardswish", "LeakyHardtanh", "Softsign")
FILM_SLOTS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film",
              "input_mixin_post_film", "activation_pre_film", "activation_post_film",
              "layer1x1_post_film", "head1x1_post_film")
BY_NAME = {c.name: c for c in CASES}
# Left out of the fault runs (the fault-free run has them): cases whose forward (a 24,000-
# sample LSTM prewarm, the 23-layer A2s, NAM's A1 standard, a 1 s input) costs seconds
# on a loaded CI core, and which no planted fault is about.
HEAVY = {"wavenet.a1/standard", "wavenet.a2/channels_3", "wavenet.a2/channels_4",
         "lstm/two_layers", "lstm.sample_rate/96000", "input/length_48001",
         "legacy/in_the_wild", "block/lstm_65"}
TIMEOUT = 120.0


def template(fault: str) -> Template:
    """The stand-in as a client of the test's server: `-I -S`, no site-packages to import
    (it forwards its arguments), so each case costs a bare interpreter start."""
    return Template.parse(f"{sys.executable} -I -S {STANDIN} --fault {fault} {{model}} "
                          "{input} {output}", "--slim {slim}", "--block {block}")


# --------------------------------------------------------------------------- the suite


def test_suite_covers_every_feature_of_the_format() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 200
    assert all(c.name.startswith(c.feature + "/") for c in CASES)
    assert set(FEATURES) == {c.feature for c in CASES}
    for name in ACTIVATION_NAMES:
        assert f"activation.{name}" in FEATURES, name
    for slot in FILM_SLOTS:
        variants = {c.name.split("/")[1] for c in CASES if c.feature == f"film.{slot}"}
        assert variants & {"shift", "blended_shift"} and variants & {"no_shift",
                                                                      "blended_no_shift"}, slot
    for feature in ("wavenet.a1", "wavenet.a2", "slimmable.selection", "slimmable.boundary",
                    "container.selection", "container.boundary", "lstm", "linear", "convnet",
                    "convnet.batchnorm", "gating.gated", "gating.blended", "gating.per_layer",
                    "gating.later_array", "gating.legacy", "groups.input", "bottleneck",
                    "head1x1", "layer1x1", "head_rechannel", "condition_dsp", "head_scale",
                    "legacy", "version", "sample_rate", "file", "nulls", "metadata", "input",
                    "block", "prewarm"):
        assert feature in FEATURES, feature
    # every container interval, exactly at each boundary, and at 1.0
    slims = {c.slim for c in CASES if c.feature.startswith("container.")}
    assert {0.1, 0.25, 0.3, 0.5, 0.7, 1.0} <= slims
    assert {c.signal for c in CASES} == {"composite", "silence_step", "noise", "loud_sweep"}
    assert DEFAULT_SAMPLES % 2 == 1 and any(c.samples % 64 not in (0, 1) for c in CASES)


def test_select_by_feature_group_and_name() -> None:
    film = select(CASES, ["film"])
    assert film and all(c.feature.startswith("film.") for c in film)
    one = select(CASES, [], ["linear/bias"])
    assert [c.name for c in one] == ["linear/bias"]
    both = select(CASES, ["linear"], ["file/bom"])
    assert {c.name for c in both} == {"linear/bias", "linear/no_bias", "linear/long_2048",
                                      "file/bom"}
    with pytest.raises(ValueError, match="--only nope"):
        select(CASES, ["nope"])
    with pytest.raises(ValueError, match="--case linear/nope"):
        select(CASES, [], ["linear/nope"])


# --------------------------------------------------------------------------- the template


def test_template_inserts_slim_and_block_before_the_model(tmp_path: Path) -> None:
    t = Template.parse("render {model} {input} {output}", "--slim {slim}",
                       "--buffer={block}", check_program=False)
    model, inp, out = tmp_path / "a b.nam", tmp_path / "in.wav", tmp_path / "o.wav"
    assert t.argv(model, inp, out) == ["render", str(model), str(inp), str(out)]
    assert t.argv(model, inp, out, slim=0.1, block=65) == [
        "render", "--slim", "0.1", "--buffer=65", str(model), str(inp), str(out)]
    assert t.argv(model, inp, out, slim=1 / 3)[2] == repr(1 / 3)  # parses back exactly
    placed = Template.parse("run -m {model} {args} -i {input} -o {output}", "-s {slim}",
                            check_program=False)
    assert placed.argv(model, inp, out, slim=0.5) == [
        "run", "-m", str(model), "-s", "0.5", "-i", str(inp), "-o", str(out)]
    assert placed.argv(model, inp, out) == ["run", "-m", str(model), "-i", str(inp), "-o",
                                            str(out)]
    assert t.skip_reason(None, None) is None
    assert "no --block-arg" in (Template.parse("r {model} {input} {output}", "--s {slim}",
                                               check_program=False).skip_reason(None, 64) or "")


@pytest.mark.parametrize(("runtime", "slim", "block", "message"), [
    ("render {model} {input}", None, None, "no {output}"),
    ("render {model} '{input} {output}", None, None, "--runtime"),
    ("render {model} {input} {output}", "--slim", None, "--slim-arg '--slim': no {slim}"),
    ("render {model} {input} {output}", None, "--block 64", "no {block}"),
    ("/nonexistent/render {model} {input} {output}", None, None, "no such executable"),
    ("", None, None, "--runtime"),
])
def test_template_errors_name_the_option(runtime: str, slim: str | None, block: str | None,
                                         message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        Template.parse(runtime, slim, block, check_program="nonexistent" in runtime)


# --------------------------------------------------------------------------- verdicts


def _prepared(tmp_path: Path, plays: bool = True, n: int = 256) -> Prepared:
    case = Case("x/y", "x", "a thing", None, samples=n)
    t = np.arange(n)
    e = np.sin(2 * np.pi * t / 37.0) * np.exp(-t / 300.0) + 0.1
    if not plays:
        return Prepared(case, tmp_path, 48000, plays=False, refusal="version: bad")
    return Prepared(case, tmp_path, 48000, plays=True, expected=e, bound_rel=1e-6,
                    bound=1e-6 * float(np.max(np.abs(e))), peak=float(np.max(np.abs(e))))


def _write(p: Prepared, y: np.ndarray, rate: int = 48000) -> None:
    sf.write(str(p.output_path), y.astype(np.float32), rate, subtype="FLOAT")


def _run(rc: int | None, tail: str = "", timed_out: bool = False) -> RunResult:
    return RunResult(["rt"], rc, timed_out, 0.1, tail)


def test_an_interrupted_suite_kills_the_runtime_it_is_running(tmp_path: Path) -> None:
    """A Ctrl-C while a runtime runs (in a session of its own, so the terminal's SIGINT
    never reaches it) kills it: run_prepared re-raises at once, not after the runtime's
    60 s, and the process is gone."""
    slow = tmp_path / "slow.py"
    slow.write_text("import os, sys, time\n"
                    "open(sys.argv[1] + '.pid', 'w').write(str(os.getpid()))\n"
                    "time.sleep(60)\n")
    template = Template.parse(f"{sys.executable} -I -S {slow} {{output}} {{model}} {{input}}")
    p = _prepared(tmp_path)
    pid_file = Path(str(p.output_path) + ".pid")

    def cases() -> Iterator[Prepared]:
        yield p
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the runtime never started"
            time.sleep(0.01)
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_prepared(cases(), template, jobs=2, timeout=120.0)
    assert time.monotonic() - start < 20
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_verdict_statuses(tmp_path: Path) -> None:
    p = _prepared(tmp_path)
    assert p.expected is not None
    _write(p, p.expected)
    assert judge(p, _run(0), 9).status == "pass"
    assert judge(p, _run(-signal.SIGSEGV), 9).status == "crash"
    assert "SIGSEGV" in (judge(p, _run(139), 9).cause or "")  # a shell's 128 + 11
    assert judge(p, _run(None, timed_out=True), 9).status == "crash"
    abort = judge(p, _run(-signal.SIGABRT, "terminate called after throwing an instance"), 9)
    assert abort.status == "refused" and "format allows" in (abort.cause or "")
    assert judge(p, _run(-signal.SIGABRT, "Assertion `x' failed."), 9).status == "crash"
    assert judge(p, _run(1, "cannot load"), 9).status == "refused"
    _write(p, p.expected[:-1])
    assert "wrong length" in judge(p, _run(0), 9).detail
    bad = p.expected.copy()
    bad[7] = np.nan
    _write(p, bad)
    crash = judge(p, _run(0), 9)
    assert crash.status == "crash" and "sample 7" in crash.detail
    _write(p, p.expected, rate=44100)
    assert judge(p, _run(0), 9).status == "crash"
    p.output_path.unlink()
    assert "no output file" in judge(p, _run(0), 9).detail
    refuses = _prepared(tmp_path, plays=False)
    assert judge(refuses, _run(1), 9).status == "pass"
    assert judge(refuses, _run(-signal.SIGABRT, "terminate called after throwing"),
                 9).status == "pass"
    accepted = judge(refuses, _run(0), 9)
    assert accepted.status == "refused" and "format refuses (version: bad)" in (
        accepted.cause or "")


def test_differs_reports_numbers_and_shape(tmp_path: Path) -> None:
    p = _prepared(tmp_path)
    e = p.expected
    assert e is not None and p.bound is not None
    _write(p, e * 10 ** (0.1 / 20))
    v = judge(p, _run(0), 9)
    assert v.status == "differs" and v.shape is not None and v.shape.kind == "level"
    assert v.shape.level_db == pytest.approx(0.1, abs=1e-4)
    out = e.astype(np.float32).astype(np.float64) * 10 ** (0.1 / 20)
    assert v.max_abs_error == pytest.approx(float(np.max(np.abs(out - e))), rel=1e-3)
    # NAM's ESR: mean squared error over mean squared target, no pre-emphasis
    assert v.esr == pytest.approx(float(np.mean((out - e) ** 2) / np.mean(e ** 2)), rel=1e-3)
    assert v.first_differing_sample == int(np.flatnonzero(np.abs(out - e) > p.bound)[0])
    assert esr(np.ones(4), np.zeros(4)) == math.inf and esr(np.zeros(4), np.zeros(4)) == 0.0


@pytest.mark.parametrize(("make", "kind"), [
    (lambda e: np.concatenate([[0.0, 0.0, 0.0], e[:-3]]), "delay"),
    (lambda e: np.concatenate([e[2:], [0.0, 0.0]]), "delay"),
    (lambda e: -e, "sign"),
    (lambda e: -0.5 * e, "level"),
    (lambda e: e * 0.9, "level"),
    (lambda e: np.where(np.arange(e.size) < 20, 0.0, e), "start"),
    (lambda e: np.where(np.arange(e.size) > e.size - 30, 0.0, e), "end"),
    (lambda e: np.clip(e, -0.7, 0.7), "throughout"),
])
def test_classify_names_the_shape(make: Any, kind: str) -> None:
    t = np.arange(4000)
    e = np.random.default_rng(0).standard_normal(4000) * 0.3 + np.sin(t / 50.0)
    shape = classify(e, make(e), 1e-6)
    assert shape.kind == kind
    if kind == "delay":
        assert shape.lag in (3, -2)
        assert ("3 samples late" if shape.lag == 3 else "2 samples early") in shape.text


# --------------------------------------------------------------------------- stand-ins


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("standin") / "s.sock"
    srv = standin.serve(str(path))
    old = os.environ.get(standin.SOCKET_ENV)
    os.environ[standin.SOCKET_ENV] = str(path)
    yield srv
    srv.shutdown()
    if old is None:
        del os.environ[standin.SOCKET_ENV]
    else:
        os.environ[standin.SOCKET_ENV] = old


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> list[Prepared]:
    """Every case on disk with its expectation (references in 2 worker processes)."""
    root = tmp_path_factory.mktemp("suite")
    order = {c.name: i for i, c in enumerate(CASES)}
    return sorted(prepared_cases(CASES, root, jobs=2), key=lambda p: order[p.case.name])


# The features next to each fault's own (where a false alarm would most likely be): a
# fault run is every case of these, every case the fault must flag (for a fault of every
# case: the inputs and blocks), and the first case of every other feature.
NEIGHBOURS = {
    "linear_taps_reversed": ("linear", "convnet"),
    "hardtanh_unbounded": ("activation",),
    "film_shift_dropped": ("film", "slimmable"),
    "prewarm_short": ("prewarm", "block", "input"),
    "slim_boundary": ("container", "slimmable"),
    "late_by_one": ("input", "block"),
    "level_0p1db": ("input", "block"),
    "refuse_crlf": ("file",),
    "crash_grouped": ("groups",),
}
FIRST_OF_EACH = {next(c.name for c in CASES if c.feature == f) for f in FEATURES}


def run_fault(prepared: list[Prepared], fault: str) -> list[CaseResult]:
    if fault == "none":
        chosen = prepared
    else:
        should, near = FAULTS[fault][0], NEIGHBOURS[fault]
        if should is _plays:  # a fault of every case: one case per feature shows it
            should = lambda p: False  # noqa: E731
        chosen = [p for p in prepared if p.case.name not in HEAVY and (
            should(p) or p.case.name in FIRST_OF_EACH
            or p.case.feature.split(".")[0] in near)]
    return run_prepared(chosen, template(fault), jobs=2, timeout=TIMEOUT)


def _docs(doc: Any) -> list[dict[str, Any]]:
    out = [doc] if isinstance(doc, dict) else []
    for d in list(out):
        cfg = d.get("config") or {}
        if isinstance(cfg.get("condition_dsp"), dict):
            out += _docs(cfg["condition_dsp"])
        for sub in cfg.get("submodels") or []:
            out += _docs(sub["model"])
    return out


def _film_shift_applied(doc: dict[str, Any]) -> bool:
    for d in _docs(doc):
        for array in (d.get("config") or {}).get("layers") or []:
            for slot in FILM_SLOTS:
                film = array.get(slot)
                if not (isinstance(film, dict) and film.get("active", True)
                        and film.get("shift", True)):
                    continue
                if slot == "layer1x1_post_film" and array.get("gating_mode") != "blended":
                    continue  # the runtime builds it but applies it in blended layers only
                return True
    return False


def _wrong_submodel(p: Prepared) -> bool:
    doc, v = p.case.doc, p.case.slim
    if v is None or not isinstance(doc, dict) or doc.get("architecture") != "SlimmableContainer":
        return False
    values = [s["max_value"] for s in doc["config"]["submodels"]]
    right = next((i for i, m in enumerate(values) if m > v), len(values) - 1)
    wrong = next((i for i, m in enumerate(values) if m >= v), right)
    return wrong != right


def _plays(p: Prepared) -> bool:
    return p.plays


# fault -> (which prepared cases it must flag, their status, a check of the cause)
FAULTS: dict[str, tuple[Any, str, Any]] = {
    "linear_taps_reversed": (
        lambda p: p.plays and any(d.get("architecture") == "Linear" for d in _docs(p.case.doc)),
        "differs", lambda r: "Linear" in r.verdict.cause and "newest sample" in r.verdict.cause),
    "hardtanh_unbounded": (
        lambda p: p.plays and '"Hardtanh"' in json.dumps(p.case.doc),
        "differs", lambda r: "Hardtanh: clamp to [-1, 1]" in r.verdict.cause),
    "film_shift_dropped": (
        lambda p: p.plays and _film_shift_applied(p.case.doc),
        "differs", lambda r: "FiLM" in r.verdict.cause and "shift" in r.verdict.cause),
    "prewarm_short": (
        lambda p: p.plays and p.receptive_field is not None and p.receptive_field >= 2
        and (p.receptive_field - 2) % (p.case.block or standin.DEFAULT_BLOCK) == 0,
        "differs", lambda r: r.verdict.shape.kind == "start" and "prewarm" in r.verdict.cause),
    "slim_boundary": (
        _wrong_submodel, "differs",
        lambda r: "SlimmableContainer exactly at a max_value" in r.verdict.cause),
    "late_by_one": (
        _plays, "differs",
        lambda r: r.case.samples < 64 or (r.verdict.shape.kind == "delay"
                                          and r.verdict.shape.lag == 1
                                          and "1 sample late" in r.verdict.cause)),
    "level_0p1db": (
        _plays, "differs",
        lambda r: r.case.samples < 64 or (r.verdict.shape.kind == "level" and abs(
            r.verdict.shape.level_db - 0.1) < 1e-3 and "+0.100 dB" in r.verdict.cause)),
    "refuse_crlf": (
        lambda p: p.plays and b"\r\n" in p.case.model_bytes(),
        "refused", lambda r: "refused a file the format allows" in r.verdict.cause),
    "crash_grouped": (
        lambda p: p.plays and any((a.get("groups_input") or 1) > 1 for d in _docs(p.case.doc)
                                  for a in (d.get("config") or {}).get("layers") or []),
        "crash", lambda r: "killed by SIGSEGV" in r.verdict.cause),
}


def test_reference_standin_passes_every_case(server: Any, prepared: list[Prepared]) -> None:
    results = run_fault(prepared, "none")
    assert len(results) == len(CASES)
    bad = [(r.case.name, r.verdict.status, r.verdict.detail) for r in results
           if r.verdict.status != "pass"]
    assert bad == []
    plays = [r for r in results if r.prepared.plays]
    assert len(plays) > 150 and all(r.verdict.max_abs_error is not None for r in plays)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_planted_fault_is_found_on_its_feature_only(server: Any, prepared: list[Prepared],
                                                    fault: str) -> None:
    should, status, cause_ok = FAULTS[fault]
    results = run_fault(prepared, fault)
    flagged = {r.case.name for r in results if r.verdict.status not in ("pass", "skipped")}
    expected = {r.case.name for r in results if should(r.prepared)}
    assert expected, f"{fault}: the suite has no case for this fault's feature"
    assert flagged == expected, (f"missed: {sorted(expected - flagged)}; false alarms: "
                                 f"{sorted(flagged - expected)}")
    for r in results:
        if r.case.name in expected:
            assert r.verdict.status == status, (r.case.name, r.verdict.detail)
            assert cause_ok(r), (r.case.name, r.verdict.cause)


def test_faults_hit_the_features_they_are_named_for(prepared: list[Prepared]) -> None:
    """The predicates above are not vacuous: each fault's own feature is in its set."""
    names = {fault: {p.case.name for p in prepared if FAULTS[fault][0](p)} for fault in FAULTS}
    assert {"linear/bias", "linear/no_bias", "linear/long_2048"} <= names["linear_taps_reversed"]
    assert {"activation.Hardtanh/string", "activation.Hardtanh/params_ignored"} == names[
        "hardtanh_unbounded"]
    assert {f"film.{s}/shift" for s in FILM_SLOTS if s != "layer1x1_post_film"} <= names[
        "film_shift_dropped"]
    assert "film.layer1x1_post_film/gated_not_applied" not in names["film_shift_dropped"]
    assert {"prewarm/rf_514", "prewarm/rf_66", "prewarm/rf_2", "prewarm/block_1"} <= names[
        "prewarm_short"]
    assert all(n.startswith("prewarm") for n in names["prewarm_short"])
    assert names["slim_boundary"] == {"container.boundary/slim_0.25",
                                      "container.boundary/slim_0.5"}
    assert names["refuse_crlf"] >= {"file/crlf"}
    assert names["crash_grouped"] == {"groups.input/groups_2", "groups.input/depthwise_4"}


# --------------------------------------------------------------------------- the command


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_conform_command_reports_and_writes_the_suite(
        server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = f"{sys.executable} {STANDIN} --fault late_by_one {{model}} {{input}} {{output}}"
    args = ["conform", "--runtime", runtime, "--slim-arg", "--slim {slim}", "--only",
            "container.boundary", "--case", "linear/bias", "--case", "file/html", "-o",
            str(tmp_path / "suite"), "--json", str(tmp_path / "r.json"), "--markdown",
            str(tmp_path / "r.md"), "--jobs", "2"]
    code, out, _ = _cli(args, capsys)
    assert code == 1
    assert "DIFFERS  linear/bias" in out and "1 sample late" in out
    assert "4 cases: 1 pass, 3 differs, 0 refused, 0 crash, 0 skipped" in out
    report = json.loads((tmp_path / "r.json").read_text())
    import jsonschema

    jsonschema.validate(report, json_schema())
    ConformReport.model_validate(report)
    assert report["status"] == "failed" and report["summary"]["differs"] == 3
    entry = next(c for c in report["cases"] if c["case"] == "linear/bias")
    for key in ("case", "feature", "status", "max_abs_error", "bound", "esr", "cause"):
        assert key in entry
    assert entry["shape"]["kind"] == "delay" and entry["shape"]["lag"] == 1
    assert [r["feature"] for r in report["matrix"]] == ["linear", "container.boundary",
                                                        "file"]
    md = (tmp_path / "r.md").read_text()
    assert "| `linear` | 1 |  | **1** |" in md and runtime.split()[0] in md
    # A case rerun by hand from its folder: the recorded command, then the files.
    folder = tmp_path / "suite" / "cases" / "linear" / "bias"
    info = json.loads((folder / "case.json").read_text())
    assert {"model.nam", "input.wav", "expected.wav", "output.wav", "case.json"} <= {
        f.name for f in folder.iterdir()}
    (folder / "output.wav").unlink()
    subprocess.run(info["command"], check=True, capture_output=True)
    expected, _ = sf.read(str(folder / "expected.wav"), dtype="float64")
    output, _ = sf.read(str(folder / "output.wav"), dtype="float64")
    assert np.max(np.abs(output[1:] - expected[:-1])) <= info["bound"]  # late by one


def test_conform_passes_and_skips_without_slim_argument(
        server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = f"{sys.executable} {STANDIN} {{model}} {{input}} {{output}}"
    code, out, _ = _cli(["conform", "--runtime", runtime, "--only", "container.boundary",
                         "--only", "prewarm", "--jobs", "2"], capsys)
    assert code == 0, out
    assert "8 cases: 4 pass, 0 differs, 0 refused, 0 crash, 4 skipped -> CONFORMS" in out
    assert "needs a slim value: the template has no --slim-arg" in out


def test_conform_runs_a_real_standalone_runtime_process(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    """No server: the stand-in imports namcheck itself and crashes for real."""
    monkeypatch.delenv(standin.SOCKET_ENV, raising=False)
    runtime = f"{sys.executable} {STANDIN} --fault crash_grouped {{model}} {{input}} {{output}}"
    code, out, _ = _cli(["conform", "--runtime", runtime, "--case", "groups.input/groups_2",
                         "--case", "wavenet.small/two_arrays", "--jobs", "2",
                         "--json", str(tmp_path / "r.json")], capsys)
    assert code == 1 and "CRASH    groups.input/groups_2" in out
    report = json.loads((tmp_path / "r.json").read_text())
    by_case = {c["case"]: c for c in report["cases"]}
    assert by_case["groups.input/groups_2"]["exit_status"] == -signal.SIGSEGV
    assert by_case["wavenet.small/two_arrays"]["status"] == "pass"


@pytest.mark.parametrize(("args", "message"), [
    (["conform"], "--runtime"),
    (["conform", "--runtime", "x {model} {input}"], "no {output}"),
    (["conform", "--runtime", "/no/such {model} {input} {output}"], "no such executable"),
    (["conform", "--runtime", "true {model} {input} {output}", "--only", "nope"],
     "--only nope"),
    (["conform", "--runtime", "true {model} {input} {output}", "--jobs", "0"], "--jobs 0"),
    (["conform", "--runtime", "true {model} {input} {output}", "--timeout", "0"],
     "--timeout 0"),
])
def test_conform_bad_input_is_one_line_exit_2(args: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(args, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_conform_list_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["conform", "--list", "--only", "film"], capsys)
    assert code == 0 and "film.conv_pre_film/no_shift" in out and "linear" not in out
    code, out, _ = _cli(["conform", "--schema"], capsys)
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "ConformReport"
    assert set(schema["$defs"]["CaseEntry"]["required"]) >= {"case", "feature", "status"}


# --------------------------------------------------------------------------- the real runtime

CORE_RENDER = os.environ.get("NAMCHECK_CORE_RENDER")


@pytest.mark.skipif(not CORE_RENDER, reason="NAMCHECK_CORE_RENDER: NeuralAmpModelerCore's "
                    "render is not named")
def test_core_render_conforms_on_the_model_features(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    """The runtime itself: every architecture, activation, gating, FiLM and slim feature
    plays within the bound (the file-edge features follow namcheck's reader, see the
    README)."""
    code, out, _ = _cli(["conform", "--runtime", f"{CORE_RENDER} {{model}} {{input}} "
                         "{output}", "--slim-arg", "--slim {slim}", "--only", "activation",
                         "--only", "film", "--only", "gating", "--only", "container",
                         "--only", "slimmable", "--only", "linear", "--only", "prewarm"],
                        capsys)
    assert code == 0, out


# --------------------------------------------------------------------------- expectations

# What NeuralAmpModelerCore does with each kind of file, as ../shared/cases/README.md (and
# NAM_FORMAT.md for metadata) states it, for the suite's cases of that kind.
RUNTIME_SAYS = {
    "file/bom": "plays", "file/crlf": "plays", "file/bom_crlf": "plays",
    "file/trailing_garbage": "plays", "file/two_objects": "plays",
    "file/truncated": "refuses", "file/html": "refuses",
    "sample_rate/absent": "plays", "sample_rate/minus_one": "plays",
    "sample_rate/zero": "plays", "sample_rate/48000.0": "plays",
    "sample_rate/44100": "plays", "sample_rate/96000": "plays",
    "sample_rate/null": "refuses", "sample_rate/string": "refuses",
    "nulls/condition_dsp": "plays", "nulls/slimmable": "plays", "nulls/metadata": "plays",
    **{f"nulls/{key}": "refuses" for key in (
        "sample_rate", "head_scale", "in_channels", "bottleneck", "groups_input", "layer1x1",
        "head1x1", "gating_mode", "conv_pre_film", "head_dilation")},
    "gating.legacy/gated_true_second": "plays", "gating.later_array/gated_string": "plays",
    # NAM_FORMAT §1: only loudness, input_level_dbu and output_level_dbu are read
    "metadata/gain_string": "plays", "metadata/loudness_string": "refuses",
    "metadata/input_level_string": "refuses", "metadata/output_level_bool": "refuses",
}
@pytest.mark.parametrize("name", sorted(RUNTIME_SAYS))
def test_suite_expectation_is_what_the_runtime_does(name: str, tmp_path: Path) -> None:
    from namcheck.harness.conform.expected import prepare

    p = prepare(BY_NAME[name], tmp_path)
    assert ("plays" if p.plays else "refuses") == RUNTIME_SAYS[name], p.refusal
