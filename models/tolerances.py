"""Every tolerance constant, with the reason for its size (one home; the functions that
combine them with a model's depth and dtype are in models/numerics.py)."""

from __future__ import annotations

import math

# Each stage of a forward (one WaveNet layer, one ConvNet block, one LSTM step) rounds its
# result to within a few eps of the signal's scale: dot products of at most a few hundred
# terms summed by blocked BLAS kernels, whose error grows with the log of the length, well
# inside 8 (models/numerics.py: forward_tolerance).
EPS_PER_STAGE = 8

# The Python loader treats config.head_scale and weights[-1] as equal within this; the
# runtime always uses the tail. Any difference larger than float32 rounding of the stored
# value (a relative 2**-23) is reported, so an edited file never passes unnoticed; a hook
# that scaled both must match within it.
HEAD_SCALE_REL_TOL = 2.0**-23

# upstream's WaveNet.import_weights keeps config.head_scale unless weights[-1] differs by
# more than this (absolute): below it upstream plays the config value, the runtime the tail.
UPSTREAM_HEAD_SCALE_TOL = 1e-5

# A stored value is a float32 (exporters write float32 results): half an ulp, relative.
STORED_REL = 2.0**-24

# d(20 log10 r)/dr at r = 1: dB per unit of relative error of a level.
DB_PER_REL = 20.0 / math.log(10.0)
