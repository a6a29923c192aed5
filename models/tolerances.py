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

# float32's range (IEEE 754 binary32): the largest finite value and the smallest normal one.
# Below FLOAT32_TINY a value is subnormal (fewer than 24 significant bits; from 2**-150 it
# rounds to 0), above FLOAT32_MAX it is infinite. NeuralAmpModelerCore reads every weight,
# head_scale included, as a float32, and plays in float32.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38

# NAM's loudness is sqrt(mean(square(y))) in float32 (nam/models/base.py, `_metadata_loudness`)
# on its standard input of 48,000 samples, and torch sums the float32 squares in float32
# before dividing. So NAM can state a level only while every square and their sum over the
# standard input stay below FLOAT32_MAX: a mean square of at most FLOAT32_MAX / 48000, i.e.
# 10*log10(FLOAT32_MAX / 48000) = 338.5 dB, and a peak of at most sqrt(FLOAT32_MAX)
# (385.3 dB). Beyond that NAM's own loudness is inf: no stored level can describe the model.
NAM_LOUDNESS_SAMPLES = 48000
MAX_NAM_LOUDNESS_DB = 10.0 * math.log10(FLOAT32_MAX / NAM_LOUDNESS_SAMPLES)
MAX_NAM_LOUDNESS_PEAK = math.sqrt(FLOAT32_MAX)

# models/rounding_envelope.py (its docstring has the derivation):
# - independent draws of every rounding from which the envelope predicts each output
#   sample's error: 32 puts Student's t quantile within 1.3x of the Gaussian one at the
#   union's 1e-3 / (2 x 8000) (6.9 vs 5.3 sigma; 16 draws: 9.6) at about 34 convolutions
#   per conv;
ENVELOPE_DRAWS = 32
# - the accepted probability that a correct float32 forward exceeds the envelope's bound
#   on one comparison, under the rounding model;
ENVELOPE_FALSE_FAILURE = 1e-3
# - a library's activation (tanh, sigmoid, ...) is within this many ulps of the exact
#   value, drawn uniform in that range: glibc documents up to 2 ulps for tanhf and expf on
#   x86_64 but is mostly within 1, and a formula of several float32 operations (softsign,
#   SiLU, hardswish) rounds 2 or 3 times at about 1/2 ulp each.
LIBRARY_ULPS = 1.0
# - an approximated activation's error is sampled at this many float32 neighbours on each
#   side of the exact pre-activation: the input an implementation sees is off by its own
#   deviation, a few ulps; 8 per side gives the mean and variance of the error's ulp-scale
#   part from 16 values (models/fast's tanh: about 0.6 to 0.9 ulp rms around a smooth part
#   of similar size).
APPROX_NEIGHBOURS = 8

# The widest peak-relative error bound a check may judge with: float16's unit roundoff. A
# model whose float32 forward is known only to within more than that keeps fewer correct
# bits than half precision (an LSTM whose state amplifies each step's rounding 500-fold or
# more); a check tolerating it passed a render 10% off and a stored loudness 1 dB off in a
# new user's trial, so such checks are n/a instead (numerics.unjudgeable).
WIDEST_BOUND = 2.0**-11
