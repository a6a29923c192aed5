"""Calibration levels and the gain a host applies: `metadata.input_level_dbu` and
`output_level_dbu` audited (present, a number, plausible), and the output gain
NeuralAmpModelerPlugin sets in each output mode, so a user sees what the plugin will do
with a file.

The plugin's arithmetic (NeuralAmpModelerPlugin, NeuralAmpModeler/NeuralAmpModeler.cpp,
`NeuralAmpModeler::_SetOutputGain` and `NeuralAmpModeler::_SetInputGain`; followed, not
copied), with the Output and Input knobs at 0 dB:

- Raw: 0 dB.
- Normalized: -18 - loudness dB where the model has a loudness, else 0 dB.
- Calibrated: output_level_dbu - (the interface's input calibration level, dBu) where the
  model has an output level, else 0 dB.
- "Calibrate input" on: the input gets (interface level - input_level_dbu) dB where the
  model has an input level, else 0 dB.

The interface level is the plugin's setting; its default is 12 dBu
(`kDefaultInputCalibrationLevel`). Plausible range and its reasons: docs/calibration.md.
"""

from __future__ import annotations

import json
import math
from typing import Any

from namcheck.models.format import NamModel

NORMALIZED_TARGET_DB = -18.0  # the plugin's targetLoudness in Normalized mode
DEFAULT_INTERFACE_DBU = 12.0  # the plugin's default input calibration level
# dBu at 0 dBFS of an audio interface input (docs/calibration.md: from about -10 dBu for a
# consumer instrument input at full gain to +24..+28 dBu for professional line converters).
PLAUSIBLE_DBU = (-20.0, 30.0)
FIELDS = ("input_level_dbu", "output_level_dbu")


def field_status(value: Any) -> tuple[str, float | None]:
    """(verdict, the number a host uses) for one stored calibration value: 'missing' (absent
    or null: the host does nothing), 'wrong_type' (not a number: the runtime does not use
    it), 'implausible' (a number outside PLAUSIBLE_DBU, or not finite), 'plausible'."""
    if value is None:
        return "missing", None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "wrong_type", None
    number = float(value)
    low, high = PLAUSIBLE_DBU
    if not math.isfinite(number) or not low <= number <= high:
        return "implausible", number
    return "plausible", number


def output_gains_db(loudness: float | None, output_level_dbu: float | None,
                    interface_dbu: float = DEFAULT_INTERFACE_DBU) -> dict[str, float]:
    """The output gain (dB) the plugin applies in each output mode with its Output knob at
    0 dB: raw 0; normalized -18 - loudness (0 without one); calibrated output_level_dbu -
    interface_dbu (0 without one)."""
    return {"raw": 0.0,
            "normalized": NORMALIZED_TARGET_DB - loudness if loudness is not None else 0.0,
            "calibrated": (output_level_dbu - interface_dbu
                           if output_level_dbu is not None else 0.0)}


def input_gain_db(input_level_dbu: float | None,
                  interface_dbu: float = DEFAULT_INTERFACE_DBU) -> float:
    """The input gain (dB) the plugin adds with "Calibrate input" on and its Input knob at
    0 dB: interface_dbu - input_level_dbu (0 without an input level)."""
    return interface_dbu - input_level_dbu if input_level_dbu is not None else 0.0


def calibration(model: NamModel, interface_dbu: float = DEFAULT_INTERFACE_DBU
                ) -> dict[str, Any]:
    """The file's calibration audit (schema.Calibration): each field's value and verdict,
    and the gains the plugin applies with this file at `interface_dbu`."""
    values = {key: field_status(model.metadata.get(key)) for key in FIELDS}
    used = {key: number if status in ("plausible", "implausible") and number is not None
            and math.isfinite(number) else None for key, (status, number) in values.items()}
    raw = {key: model.metadata.get(key) for key in FIELDS}
    return {
        "input_level_dbu": used["input_level_dbu"],
        "input_level_status": values["input_level_dbu"][0],
        "output_level_dbu": used["output_level_dbu"],
        "output_level_status": values["output_level_dbu"][0],
        "stored_values": {k: v if isinstance(v, (int, float, str, bool)) or v is None
                          else repr(v) for k, v in raw.items()},
        "interface_level_dbu": interface_dbu,
        "input_gain_db": input_gain_db(used["input_level_dbu"], interface_dbu),
        "output_gain_db": output_gains_db(model.loudness, used["output_level_dbu"],
                                          interface_dbu),
    }


def calibration_warnings(cal: dict[str, Any]) -> list[str]:
    """A warning per stored calibration value a host cannot use as meant."""
    out = []
    low, high = PLAUSIBLE_DBU
    for key in FIELDS:
        status = cal[f"{key.removesuffix('_dbu')}_status"]
        stored = cal["stored_values"][key]
        if status == "wrong_type":
            out.append(f"metadata.{key}: {stored!r} is not a number, so hosts ignore it "
                       "(docs/calibration.md)")
        elif status == "implausible":
            out.append(f"metadata.{key}: {stored} dBu is outside the plausible "
                       f"{low:g}..{high:g} dBu of audio interface inputs "
                       "(docs/calibration.md)")
    return out


def calibration_line(cal: dict[str, Any]) -> str:
    """calibration()'s audit as one line of audit's text report: each stored level and
    its verdict, then the gains (dB) the plugin applies with this file at the interface
    level."""
    levels = []
    for key in FIELDS:
        status = cal[f"{key.removesuffix('_dbu')}_status"]
        stored = cal["stored_values"][key]
        levels.append(f"{key} {status}" if stored is None
                      else f"{key} {json.dumps(stored)} ({status})")
    out = cal["output_gain_db"]
    return (f"calibration: {', '.join(levels)}; plugin gain at a {cal['interface_level_dbu']:g}"
            f" dBu interface: input {cal['input_gain_db']:+.2f} dB (calibrate input), output "
            f"{out['normalized']:+.2f} dB normalized, {out['calibrated']:+.2f} dB calibrated, "
            f"{out['raw']:+.2f} dB raw")
