"""The report every command writes (verify, audit, compare, stamp): typed models, one
document shape, versioned. `namcheck schema` prints its JSON Schema.

Numbers are finite or null (strict JSON). Units are given per check. A check's `reason`
is a stable code (REASONS) plus text; a check's `scale` is the hook scale it is about.
"""

from __future__ import annotations

import datetime
import platform
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from namcheck.harness.version import package_version

# 1.1: ModelEntry.error_kind (bad input vs an internal fault). Additive: 1.0 readers that
# ignore unknown keys read 1.1 reports unchanged.
# 1.2: Level.loudness_lufs and lufs_minus_rms_db, ModelEntry.content_hash and calibration,
# Report.corpus (LUFS - RMS spread, duplicates). Additive, as 1.1 was.
# (1.2, additive: a check's status "limitation" with reason runtime_limitation, counted in
# Counts.runtime_limits and Summary.runtime_limits; readers that treat any status other than
# "fail" as no failure read it correctly.)
# 1.3: ModelEntry.edits (stamp's changes as values). Additive.
SCHEMA_VERSION = "1.3"

# Stable reason codes: what a check's verdict rests on.
REASONS: dict[str, str] = {
    "held": "the check ran and the claim held within its tolerance",
    "beyond_tolerance": "the measured value differs from the claim by more than the tolerance",
    "within_fail_above_db": "beyond the rounding bound but within the user's --fail-above-db",
    "not_applicable": "the check's premise does not hold",
    "no_stored_loudness": "the file stores no metadata.loudness",
    "no_stored_gain": "the file stores no metadata.gain",
    "not_standard_input": "the signal is not NAM's standard loudness input",
    "no_head_scale": "the architecture has no head_scale",
    "not_a_container": "the model is not a SlimmableContainer",
    "hook_refused": "the hook refused this model or scale and changed nothing",
    "non_finite_output": "the model's output has NaN or infinite samples",
    "silent_output": "the model's output is all zeros",
    "not_linear_in_head_scale": "the output does not scale with head_scale: no closed form",
    "head_scale_config_vs_tail": "config.head_scale and weights[-1] disagree",
    "gain_removed": "the hook removed metadata.gain",
    "container_metadata_mismatch": "container metadata differs from its top submodel's",
    "hook_not_atomic": "the hook raised after changing the model",
    "hook_accepted_invalid_scale": "the hook applied a scale <= 0, NaN or Inf",
    "hook_wrote_invalid_model": "the hook wrote a model the runtime would refuse",
    "upstream_cannot_load": "upstream's loader or forward fails on a file the runtime plays",
    "runtime_divergence": "the runtime and PyTorch play a feature of this file differently",
    "render_length_differs": "the render is longer or shorter than the input",
    "render_misaligned": "the render is shifted against the reference",
    "no_finite_value": "a measured, expected, error or tolerance value is NaN or infinite: "
                       "nothing was computed to pass on",
    "level_beyond_float32": "the output's level is beyond what NAM's float32 loudness can "
                            "represent",
    "float32_underflow": "a value the hook wrote, or the scaled output, is subnormal or 0 in "
                         "float32",
    "runtime_limitation": "measured beyond its tolerance, but no edit of the file can fix it: "
                          "the runtime's design does it (e.g. a container's one loudness "
                          "for every slim); fails only with --fail-on-runtime-limits",
    "float32_overflow": "a value the hook wrote, the scaled output or its level is beyond "
                        "float32's range",
    "no_usable_bound": "the model's forward has no error bound narrow enough to judge with "
                       "(an unstable or strongly amplifying LSTM): nothing is claimed",
    "would_change": "stamp --check: stamping would change the file's stored loudness or "
                    "gain (check metadata_current)",
}

CheckStatus = Literal["pass", "fail", "n/a", "limitation"]
ModelStatus = Literal["passed", "not_verified", "failed", "error"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Strict):
    """Why a check has its status: a stable code and a sentence."""

    code: str = Field(description="stable code, one of REASONS")
    text: str = Field(description="what a NAM developer reads")


class Check(_Strict):
    """One check of one model."""

    name: str = Field(description="the check's stable name (harness/checks.py: e.g. "
                      "output_level, metadata_loudness, metadata_gain, loudness_shift, "
                      "linearity, head_scale_scaled, container_metadata); '.submodel<i>' "
                      "ends a container submodel's check, '[lo<=slim<hi]' names the slim "
                      "range a normalised_level_error is about; the scale is a field of its "
                      "own, never part of the name")
    scale: float | None = Field(None, description="the hook's scale this check is about; "
                                "null for a check of the file as it is")
    status: CheckStatus = Field(description="'pass': the claim held within tolerance; "
                                "'fail': it did not (or nothing finite was computed); "
                                "'n/a': the check's premise does not hold (reason says why); "
                                "'limitation': beyond tolerance, but a runtime limitation no "
                                "edit of the file can fix (reason runtime_limitation; 'fail' "
                                "under --fail-on-runtime-limits)")
    reason: Reason = Field(description="why the check has its status: a REASONS code and "
                           "a sentence")
    measured: float | None = Field(
        None, description="what namcheck measured on the model's output (or read from the "
        "file or the hooked one), in `unit`: e.g. the output's loudness 20*log10(RMS) in "
        "dB, the gain heuristic, the loudness after - before a hook; null where nothing was "
        "measured (n/a, a check that failed before a number) or the number is not finite")
    expected: float | None = Field(
        None, description="what the claim says it should be, in `unit`: e.g. the stored "
        "metadata.loudness or metadata.gain, NAM's closed form 20*log10(scale) for a hook's "
        "loudness shift, 0 for a deviation; null where the check compares with no value "
        "or the number is not finite")
    error: float | None = Field(
        None, description="the discrepancy judged against `tolerance`, in `unit`: "
        "|measured - expected| (where expected is 0, the deviation itself); "
        "null where none was computed or it is not finite")
    tolerance: float | None = Field(
        None, description="the largest `error` that passes, in `unit`: the rounding bound "
        "of the forwards involved in the run's dtype and of NAM's float32 numbers "
        "(harness/checks.py, models/numerics.py); the user's --fail-above-db where it passed a "
        "dB check (reason within_fail_above_db); for output_level beyond float32 the "
        "largest loudness NAM's float32 sum of squares can represent; null where the "
        "check has none")
    unit: str = Field("", description="unit of measured/expected/error/tolerance: 'dB', "
                      "'gain (0..1)', 'relative', 'peak-relative' (relative to the output's "
                      "peak), 'samples'; '' where the check has no number")


class Level(_Strict):
    """What was measured on a model or submodel (whether or not metadata is stored)."""

    target: str = Field(description="'' for the model, 'submodel<i>' for a submodel")
    loudness_db: float | None = Field(None, description="20*log10(RMS) of the output, dB: "
                                      "NAM's metadata.loudness measure; null where the "
                                      "output is not finite or silent")
    gain: float | None = Field(None, description="upstream's gain heuristic, 0..1 "
                               "(signals/levels.py gain_from_levels: the RMS at 11 input "
                               "gains 0..1, 0 for a linear model, 1 for one whose level is "
                               "constant); null where not measured (--no-gain) or the "
                               "output is not finite")
    sample_rate: float = Field(description="the rate the model was measured at, Hz")
    stored_loudness_db: float | None = Field(
        None, description="metadata.loudness as stored in the file (the model's or the "
        "submodel's own), dB: NAM's exporter's 20*log10(RMS) of the output on its standard "
        "1 s input, which plugins level-match with; null where absent, null, not a number "
        "or not finite")
    stored_gain: float | None = Field(
        None, description="metadata.gain as stored in the file, 0..1 (NAM's exporter's gain "
        "heuristic, the same measure as `gain`); null where absent, null, not a number or "
        "not finite")
    loudness_lufs: float | None = Field(
        None, description="ITU-R BS.1770-4 integrated loudness of the same output, LUFS "
        "(pyloudnorm; 400 ms blocks, 75 % overlap: 7 blocks on a 1 s signal); null where "
        "the output is not finite or shorter than one block")
    lufs_minus_rms_db: float | None = Field(
        None, description="loudness_lufs - loudness_db, dB: how far BS.1770's weighting "
        "and gating move the level from NAM's plain RMS loudness")
    engine: str = Field("reference", description="the forward that measured it: 'fast' (the "
                        "C engine, models/fast/) or 'reference' (PyTorch)")


CalibrationStatus = Literal["missing", "wrong_type", "implausible", "plausible"]


class OutputGains(_Strict):
    """The output gain NeuralAmpModelerPlugin applies in each output mode, dB, with its
    Output knob at 0 dB (harness/calibration.py)."""

    raw: float = Field(description="the Raw output mode's gain, dB: always 0 (the plugin "
                       "applies no level matching)")
    normalized: float = Field(description="the Normalized mode's gain, dB: -18 - stored "
                              "metadata.loudness (the plugin's target loudness -18 dB); 0 "
                              "without one")
    calibrated: float = Field(description="the Calibrated mode's gain, dB: output_level_dbu "
                              "- interface_level_dbu; 0 without an output level")


class Calibration(_Strict):
    """The file's calibration levels audited, and what a host does with them."""

    input_level_dbu: float | None = Field(
        description="metadata.input_level_dbu as the number a host uses, dBu: the analog "
        "level of a 0 dBFS signal sent to the gear at capture (docs/calibration.md); null "
        "where missing, not a number or not finite")
    input_level_status: CalibrationStatus = Field(
        description="metadata.input_level_dbu's verdict: 'missing' (absent or null: the "
        "host does nothing), 'wrong_type' (not a number: the runtime does not use it), "
        "'implausible' (outside -20..+30 dBu or not finite, docs/calibration.md), "
        "'plausible'")
    output_level_dbu: float | None = Field(
        description="metadata.output_level_dbu as the number a host uses, dBu: the analog "
        "level that read 0 dBFS at the interface input recording the gear's output; null "
        "where missing, not a number or not finite")
    output_level_status: CalibrationStatus = Field(
        description="metadata.output_level_dbu's verdict, as input_level_status")
    stored_values: dict[str, Any] = Field(description="the values as stored, by key")
    interface_level_dbu: float = Field(description="the interface's input calibration "
                                       "level the gains assume (the plugin's default 12)")
    input_gain_db: float = Field(description="what 'Calibrate input' adds to the input, dB")
    output_gain_db: OutputGains = Field(description="the output gain the plugin applies "
                                        "in each output mode with this file, dB")


class SampleRates(_Strict):
    """How the model's rate and the signal's met, where they differ (harness/core.py
    rate_reading)."""

    model: float | None = Field(description="the model's rate as the runtime reads it, Hz; "
                                "null when unknown (no sample_rate, -1 or 0)")
    file_value: float | None = Field(description="sample_rate as written in the file; null "
                                     "when absent")
    signal: int = Field(description="the signal's rate, Hz")
    measured_as: Literal["signal_rate", "nam_exporter"] = Field(
        description="'signal_rate': a model of unknown rate played at the signal's; "
        "'nam_exporter': a model at another rate than a 48 kHz signal, fed its samples as "
        "they are, as NAM's exporter defines metadata.loudness and gain at any rate")
    note: str = Field(description="a sentence on how the model was measured at these "
                      "rates, as the text report prints it")


class Counts(_Strict):
    """How many checks a model had, by status."""

    checks: int = Field(description="how many checks the model had (the length of "
                        "`checks`); passed + failed + not_applicable + the limitations "
                        "not failed")
    passed: int = Field(description="checks with status 'pass'")
    failed: int = Field(description="checks with status 'fail'")
    not_applicable: int = Field(description="checks with status 'n/a'")
    runtime_limits: int = Field(0, description="runtime limitations (reason "
                                "runtime_limitation): status 'limitation', or 'fail' under "
                                "--fail-on-runtime-limits")


class Edit(_Strict):
    """One value stamp writes (or, with --dry-run or --check, would write)."""

    path: str = Field(description="the JSON path in the file, e.g. metadata.loudness or "
                      "config.submodels[0].model.metadata.gain")
    before: Any = Field(description="the value stored before: null where absent; any JSON "
                        "value, where the file stored a wrong type the runtime ignores")
    after: Any = Field(description="the value written: a number (loudness in dB, gain "
                       "unitless), or {} where a metadata that is not an object is replaced")


class ModelEntry(_Strict):
    """One model (or file) and everything found about it."""

    path: str = Field(description="the model file as the command was given it (audit: "
                      "as found in the folder; compare of two files: 'A vs B')")
    architecture: str | None = Field(description="the file's `architecture` (WaveNet, "
                                     "LSTM, ConvNet, Linear, SlimmableContainer, ...; "
                                     "compare of two files: 'A vs B'); null where the file "
                                     "was not read as a model")
    status: ModelStatus = Field(description="'passed' (claims checked and held), "
                                "'not_verified' (no claim could be checked, or a requested "
                                "one could not), 'failed' (a check failed), 'error' (the "
                                "model could not be checked: see error and error_kind)")
    error: str | None = Field(None, description="why the model could not be checked "
                              "(status 'error'); null otherwise")
    error_kind: Literal["bad_input", "internal"] | None = Field(
        None, description="why status is 'error': a bad input (the run exits 2) or a fault "
        "inside namcheck while running the model (exits 4); null otherwise")
    counts: Counts = Field(description="the model's checks counted by status")
    checks: list[Check] = Field(description="every check run on the model, in order")
    levels: list[Level] = Field(default_factory=list,
                                description="what was measured: audit, one for the model "
                                "(target '') and one per container submodel; verify, the "
                                "model or the submodel --slim selects; empty in compare and "
                                "stamp, and where nothing was measured")
    unverified: list[str] = Field(default_factory=list,
                                  description="claims that could not be checked")
    warnings: list[str] = Field(default_factory=list,
                                description="findings that are no verdict (JSON paths)")
    changes: list[str] = Field(default_factory=list,
                               description="stamp: what was written, before -> after")
    edits: list[Edit] = Field(default_factory=list,
                              description="stamp: the same changes as values, in order")
    calibration: Calibration | None = Field(None, description="audit: calibration levels "
                                            "and the gain a host applies in each mode")
    content_hash: str | None = Field(
        None, description="SHA-256 of what plays: architecture, config and weights as the "
        "runtime reads them, metadata and formatting excluded (models/identity.py, "
        "docs/model_identity.md); null where the file could not be read, in stamp's reports "
        "and for a compare of two files")
    sample_rates: SampleRates | None = Field(
        None, description="where the model's rate is unknown or differs from the "
        "signal's: how it was measured; null where they agree")
    engine: str | None = Field(None, description="the forward(s) that measured it: 'fast', "
                               "'reference', or 'reference engine: <why the fast engine did "
                               "not run>'; null where nothing ran")


class SignalInfo(_Strict):
    """The signal every model was measured on."""

    path: str | None = Field(description="null for the built-in generated signal")
    description: str = Field(description="the signal's path and what it is (NAM's "
                             "standard loudness input, treated as it, or not), or the "
                             "built-in signal's name")
    sha256: str = Field(description="of the samples as float64 little-endian bytes")
    sample_rate: int | None = Field(description="the WAV's rate, Hz; null for the built-in "
                                    "generated signal (models are played at their own "
                                    "rate)")
    samples: int = Field(description="how many (mono) samples the signal has")
    standard_input: bool = Field(description="stored loudness is compared on it")


class Context(_Strict):
    """Where and how the run happened."""

    namcheck: str = Field(description="namcheck's version")
    torch: str = Field(description="PyTorch's version (torch.__version__)")
    python: str = Field(description="Python's version")
    device: str = Field(description="the PyTorch device the reference forward ran on: "
                        "'cpu', 'cuda', 'cuda:<i>'")
    dtype: str = Field(description="the reference forward's dtype: 'float32' or 'float64' "
                       "(tolerances are derived from it)")
    threads: int = Field(description="PyTorch's intra-op threads at the start "
                         "(torch.get_num_threads())")
    engine: str = Field(description="the forward asked for (--engine): 'auto' (the fast C "
                        "engine where it covers the model, else the reference), "
                        "'reference' or 'fast'; which one measured each model is in "
                        "models[].engine and levels[].engine")
    started: str = Field(description="ISO 8601, UTC")


class Summary(_Strict):
    """How many models have each status."""

    passed: int = Field(description="models with status 'passed'")
    not_verified: int = Field(description="models with status 'not_verified'")
    failed: int = Field(description="models with status 'failed'")
    error: int = Field(description="models with status 'error'")
    runtime_limits: int = Field(0, description="runtime limitations over all models (reason "
                                "runtime_limitation); they fail a model only with "
                                "--fail-on-runtime-limits")


class Extreme(_Strict):
    """One model's value in a corpus spread."""

    path: str = Field(description="the model file, as in models[].path")
    target: str = Field(description="'' for the model, 'submodel<i>' for a submodel")
    value: float = Field(description="its value of the quantity, in the spread's unit")


class Spread(_Strict):
    """A quantity's spread over a corpus: how many, min/median/max and who holds the
    extremes."""

    count: int = Field(description="how many values (measured outputs: each model's, and "
                       "each container submodel's in place of the container's own)")
    min: Extreme = Field(description="the smallest value and whose it is")
    median: float = Field(description="the median of the values")
    max: Extreme = Field(description="the largest value and whose it is")
    unit: str = Field(description="the values' unit ('dB')")


class Duplicate(_Strict):
    """Files that play the same model (same content_hash) under several names or with
    different metadata."""

    content_hash: str = Field(description="the content_hash they share (models/identity.py)")
    paths: list[str] = Field(description="the files, as in models[].path")
    metadata_differs: bool = Field(description="their metadata objects are not all equal")


class CorpusSummary(_Strict):
    """What `audit` finds across the files of one run."""

    lufs_minus_rms_db: Spread | None = Field(
        None, description="BS.1770-4 integrated loudness minus NAM's RMS loudness of every "
        "model's (and container submodel's) output; null where nothing was measured")
    duplicates: list[Duplicate] = Field(
        default_factory=list, description="groups of files with the same content_hash "
        "(the same model: architecture, config and weights as the runtime reads them)")


class Report(_Strict):
    """The whole report of one command run."""

    schema_version: Literal["1.3"] = Field(
        SCHEMA_VERSION, description="this shape's version; a minor version only adds fields")
    command: Literal["verify", "audit", "compare", "stamp"] = Field(
        description="the command that wrote the report")
    context: Context = Field(description="versions, device, dtype, threads, engine, start")
    signal: SignalInfo = Field(description="the signal every model was measured on")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="command options: hook, scales, ...")
    status: ModelStatus = Field(description="the worst model status (error > failed > "
                                "not_verified > passed; 'not_verified' with no models); it "
                                "sets the exit code")
    summary: Summary = Field(description="how many models have each status")
    corpus: CorpusSummary | None = Field(None, description="audit: across the files")
    models: list[ModelEntry] = Field(description="one entry per model file, in the "
                                     "order the command took them")


def run_context(device: str, dtype: torch.dtype, engine: str = "reference") -> Context:
    """Versions, device, dtype, threads, engine and start time of this run."""
    return Context(namcheck=package_version(), torch=torch.__version__,
                   python=platform.python_version(), device=device,
                   dtype=str(dtype).removeprefix("torch."), threads=torch.get_num_threads(),
                   engine=engine,
                   started=datetime.datetime.now(datetime.timezone.utc).isoformat(
                       timespec="seconds"))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of Report (what `namcheck schema` prints)."""
    return Report.model_json_schema()
