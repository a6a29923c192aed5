"""namcheck.signals: test signals, NAM's standard input, and level measures (dB, LUFS):
a level meter for plain audio (NumPy arrays, audio files) in signals/metering.py. The
exports are imported on first use (models/lazy_exports.py), so `signals.wav` alone does
not import torch."""

from typing import TYPE_CHECKING

from namcheck.models.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from namcheck.signals.generate import default_signal, log_sweep, pink_noise, silence, sine
    from namcheck.signals.levels import gain, gain_levels, loudness, output_rms, rms
    from namcheck.signals.metering import SignalLevels, lufs, meter, meter_file
    from namcheck.signals.standard_input import find_standard_input, is_standard_input
    from namcheck.signals.wav import SignalError, read_mono, write_mono

_MODULES = {
    "namcheck.signals.generate": ["default_signal", "log_sweep", "pink_noise", "silence",
                                  "sine"],
    "namcheck.signals.levels": ["gain", "gain_levels", "loudness", "output_rms", "rms"],
    "namcheck.signals.metering": ["SignalLevels", "lufs", "meter", "meter_file"],
    "namcheck.signals.standard_input": ["find_standard_input", "is_standard_input"],
    "namcheck.signals.wav": ["SignalError", "read_mono", "write_mono"],
}
__getattr__, __dir__ = lazy_exports(
    __name__, {name: module for module, names in _MODULES.items() for name in names})

__all__ = [
    "SignalError",
    "SignalLevels",
    "default_signal",
    "find_standard_input",
    "gain",
    "gain_levels",
    "is_standard_input",
    "log_sweep",
    "loudness",
    "lufs",
    "meter",
    "meter_file",
    "output_rms",
    "pink_noise",
    "read_mono",
    "rms",
    "silence",
    "sine",
    "write_mono",
]
