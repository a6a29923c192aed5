"""namcheck.signals: test signals, NAM's standard input, and level measures (dB, LUFS):
a level meter for plain audio (NumPy arrays, audio files) in signals/meter.py."""

from namcheck.signals.generate import default_signal, log_sweep, pink_noise, silence, sine
from namcheck.signals.levels import gain, gain_levels, loudness, output_rms, rms
from namcheck.signals.meter import SignalLevels, lufs, meter, meter_file
from namcheck.signals.standard_input import find_standard_input, is_standard_input
from namcheck.signals.wav import SignalError, read_mono, write_mono

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
