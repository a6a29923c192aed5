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
SCHEMA_VERSION = "1.2"

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

    name: str
    scale: float | None = Field(None, description="the hook's scale this check is about")
    status: CheckStatus
    reason: Reason
    measured: float | None = None
    expected: float | None = None
    error: float | None = None
    tolerance: float | None = None
    unit: str = Field("", description="unit of measured/expected/error/tolerance")


class Level(_Strict):
    """What was measured on a model or submodel (whether or not metadata is stored)."""

    target: str = Field(description="'' for the model, 'submodel<i>' for a submodel")
    loudness_db: float | None = Field(None, description="20*log10(RMS) of the output, dB")
    gain: float | None = Field(None, description="upstream's gain heuristic, 0..1")
    sample_rate: float = Field(description="the rate the model was measured at, Hz")
    stored_loudness_db: float | None = None
    stored_gain: float | None = None
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

    raw: float
    normalized: float = Field(description="-18 - stored loudness; 0 without one")
    calibrated: float = Field(description="output_level_dbu - interface_level_dbu; 0 "
                              "without an output level")


class Calibration(_Strict):
    """The file's calibration levels audited, and what a host does with them."""

    input_level_dbu: float | None = Field(description="the number a host uses, dBu")
    input_level_status: CalibrationStatus
    output_level_dbu: float | None
    output_level_status: CalibrationStatus
    stored_values: dict[str, Any] = Field(description="the values as stored, by key")
    interface_level_dbu: float = Field(description="the interface's input calibration "
                                       "level the gains assume (the plugin's default 12)")
    input_gain_db: float = Field(description="what 'Calibrate input' adds to the input, dB")
    output_gain_db: OutputGains


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
    note: str


class Counts(_Strict):
    """How many checks a model had, by status."""

    checks: int
    passed: int
    failed: int
    not_applicable: int
    runtime_limits: int = Field(0, description="runtime limitations (reason "
                                "runtime_limitation): status 'limitation', or 'fail' under "
                                "--fail-on-runtime-limits")


class ModelEntry(_Strict):
    """One model (or file) and everything found about it."""

    path: str
    architecture: str | None
    status: ModelStatus
    error: str | None = None
    error_kind: Literal["bad_input", "internal"] | None = Field(
        None, description="why status is 'error': a bad input (the run exits 2) or a fault "
        "inside namcheck while running the model (exits 4); null otherwise")
    counts: Counts
    checks: list[Check]
    levels: list[Level] = Field(default_factory=list)
    unverified: list[str] = Field(default_factory=list,
                                  description="claims that could not be checked")
    warnings: list[str] = Field(default_factory=list,
                                description="findings that are no verdict (JSON paths)")
    changes: list[str] = Field(default_factory=list,
                               description="stamp: what was written, before -> after")
    calibration: Calibration | None = Field(None, description="audit: calibration levels "
                                            "and the gain a host applies in each mode")
    content_hash: str | None = Field(
        None, description="SHA-256 of what plays: architecture, config and weights as the "
        "runtime reads them, metadata and formatting excluded (models/identity.py, "
        "docs/model_identity.md); null where the file could not be read")
    sample_rates: SampleRates | None = Field(
        None, description="where the model's rate is unknown or differs from the "
        "signal's: how it was measured; null where they agree")
    engine: str | None = Field(None, description="the forward(s) that measured it: 'fast', "
                               "'reference', or 'reference engine: <why the fast engine did "
                               "not run>'; null where nothing ran")


class SignalInfo(_Strict):
    """The signal every model was measured on."""

    path: str | None = Field(description="null for the built-in generated signal")
    description: str
    sha256: str = Field(description="of the samples as float64 little-endian bytes")
    sample_rate: int | None
    samples: int
    standard_input: bool = Field(description="stored loudness is compared on it")


class Context(_Strict):
    """Where and how the run happened."""

    namcheck: str
    torch: str
    python: str
    device: str
    dtype: str
    threads: int
    engine: str
    started: str = Field(description="ISO 8601, UTC")


class Summary(_Strict):
    """How many models have each status."""

    passed: int
    not_verified: int
    failed: int
    error: int
    runtime_limits: int = Field(0, description="runtime limitations over all models (reason "
                                "runtime_limitation); they fail a model only with "
                                "--fail-on-runtime-limits")


class Extreme(_Strict):
    """One model's value in a corpus spread."""

    path: str
    target: str = Field(description="'' for the model, 'submodel<i>' for a submodel")
    value: float


class Spread(_Strict):
    """A quantity's spread over a corpus: how many, min/median/max and who holds the
    extremes."""

    count: int
    min: Extreme
    median: float
    max: Extreme
    unit: str


class Duplicate(_Strict):
    """Files that play the same model (same content_hash) under several names or with
    different metadata."""

    content_hash: str
    paths: list[str]
    metadata_differs: bool = Field(description="their metadata objects are not all equal")


class CorpusSummary(_Strict):
    """What `audit` finds across the files of one run."""

    lufs_minus_rms_db: Spread | None = Field(
        None, description="BS.1770-4 integrated loudness minus NAM's RMS loudness of every "
        "model's (and container submodel's) output; null where nothing was measured")
    duplicates: list[Duplicate] = Field(default_factory=list)


class Report(_Strict):
    """The whole report of one command run."""

    schema_version: Literal["1.2"] = SCHEMA_VERSION
    command: Literal["verify", "audit", "compare", "stamp"]
    context: Context
    signal: SignalInfo
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="command options: hook, scales, ...")
    status: ModelStatus
    summary: Summary
    corpus: CorpusSummary | None = Field(None, description="audit: across the files")
    models: list[ModelEntry]


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
