/* Vector helpers and activations shared by every fast kernel (wavenet.c, lstm.c,
 * feedforward.c, driver.c): the one definition of each. Every function is static inline
 * (always inlined): each source that includes this header gets its own copy, so the sources
 * link into one library without clashes.
 *
 * Every rounding of the approximated activations (tanh, sigmoid) is spelled out (fmadd for
 * each multiply-add), so each copy computes the same values whatever the compiler makes of
 * its context: TANH_ERROR_BOUND (models/fast/activations.py), proved over every float32 by
 * tests/test_fast_engine.py::test_tanh_bound_every_float32, holds for all of them, and
 * tests/test_fast_feedforward.py checks feedforward.c's copy against wavenet.c's.
 */
#ifndef NAMCHECK_VECMATH_H
#define NAMCHECK_VECMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#define VW 16            /* lanes per vector: one zmm register */
#else
#define VW 8             /* lanes per vector: one ymm register (or what GCC makes of it) */
#endif

#define VI static inline __attribute__((always_inline))

typedef float vf __attribute__((vector_size(4 * VW)));
typedef int32_t vi __attribute__((vector_size(4 * VW)));

/* unaligned loads and stores typed as float (not memcpy's char, which may alias anything:
 * pointer tables would then be reloaded after every store) */
typedef float vfu __attribute__((vector_size(4 * VW), aligned(4)));
VI vf ld(const float *p) { return *(const vfu *)p; }
VI void st(float *p, vf v) { *(vfu *)p = v; }
/* One broadcast. Not (vf){0} + s: that is an add the compiler must keep (-0 + 0 is +0); not
 * an element loop: GCC builds that lane by lane through the stack. */
#if defined(__AVX512F__)
#include <immintrin.h>
VI vf splat(float s) { return (vf)_mm512_set1_ps(s); }
#elif defined(__AVX__)
#include <immintrin.h>
VI vf splat(float s) { return (vf)_mm256_set1_ps(s); }
#else
VI vf splat(float s) {
    vf v;
    for (int i = 0; i < VW; i++) v[i] = s;
    return v;
}
#endif
/* lane j of v in every lane (a register permute, no round trip through memory) */
#if defined(__AVX512F__)
VI vf lane(vf v, int j) {
    return (vf)_mm512_permutexvar_ps(_mm512_set1_epi32(j), (__m512)v);
}
#elif defined(__AVX2__)
VI vf lane(vf v, int j) {
    return (vf)_mm256_permutevar8x32_ps((__m256)v, _mm256_set1_epi32(j));
}
#else
VI vf lane(vf v, int j) { return splat(v[j]); }
#endif

/* a where m else b */
VI vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
VI vf vabs(vf x) { return (vf)((vi)x & 0x7fffffff); }

#if defined(__AVX__)
#include <immintrin.h>
#endif

/* a * b + c rounded once, on every path: where the compiler is left to contract a * b + c
 * it may do so in one loop and not in another (GCC did, in a remainder loop), and a
 * sample's result would then depend on where it falls in a block. */
#if defined(__AVX512F__)
VI vf fmadd(vf a, vf b, vf c) {
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
}
#elif defined(__FMA__)
VI vf fmadd(vf a, vf b, vf c) {
    return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
}
#else
VI vf fmadd(vf a, vf b, vf c) {
    vf r;
    for (int i = 0; i < VW; i++) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
    return r;
}
#endif

/* min(max(x, lo), hi) keeping NaN (the hardware min/max return their second operand, x,
 * when either is NaN) */
#if defined(__AVX512F__)
VI vf clamp(vf x, float lo, float hi) {
    return (vf)_mm512_min_ps((__m512)splat(hi), _mm512_max_ps((__m512)splat(lo), (__m512)x));
}
#elif defined(__AVX__)
VI vf clamp(vf x, float lo, float hi) {
    return (vf)_mm256_min_ps((__m256)splat(hi), _mm256_max_ps((__m256)splat(lo), (__m256)x));
}
#else
VI vf clamp(vf x, float lo, float hi) {
    x = sel(x > hi, splat(hi), x);
    return sel(x < lo, splat(lo), x);
}
#endif

/* tanh(x) ~ x P(x^2) / Q(x^2) on |x| <= 9, odd; inputs clamped to +-9 (tanh(9) is 1 to
 * 3e-8). A [9/8] rational fitted by namcheck (Sanathanan-Koerner with Lawson weights on
 * [0, 9]): 1.85e-8 worst error in exact arithmetic; evaluated in float32 (Horner, one
 * rounding per multiply-add) the worst absolute error over every float32 input is
 * TANH_ERROR_BOUND (models/fast/activations.py), proved by
 * tests/test_fast_engine.py::test_tanh_bound_every_float32. */
VI vf tanh_r(vf x) {
    x = clamp(x, -9.0f, 9.0f);
    vf s = x * x;
    vf p = fmadd(splat(1.318450766797691e-08f), s, splat(2.0472036140108945e-05f));
    p = fmadd(p, s, splat(0.0034865944327220825f));
    p = fmadd(p, s, splat(0.13373208273026285f));
    p = fmadd(p, s, splat(0.9999999063677925f));
    vf q = fmadd(splat(7.702779858885516e-07f), s, splat(0.0003271405860299473f));
    q = fmadd(q, s, splat(0.025842026952140607f));
    q = fmadd(q, s, splat(0.4670650514111023f));
    q = fmadd(q, s, splat(1.0f));
    return x * p / q;
}

/* sigmoid(x) = 1/2 + tanh(x/2)/2: x/2 and the halving are exact, the sum rounds once. */
VI vf sigmoid_r(vf x) { return fmadd(splat(0.5f), tanh_r(0.5f * x), splat(0.5f)); }

/* The runtime's own rational approximation (NAM/activations.h fast_tanh). */
VI vf fasttanh(vf x) {
    vf ax = vabs(x), x2 = x * x;
    vf num = x * (2.45550750702956f + 2.45550750702956f * ax
                  + (0.893229853513558f + 0.821226666969744f * ax) * x2);
    return num / (2.44506634652299f + (2.44506634652299f + x2)
                  * vabs(x + 0.814642734961073f * x * ax));
}

/* Activation ids: ACT_IDS in models/fast/activations.py. */
enum { A_IDENTITY, A_TANH, A_FASTTANH, A_RELU, A_LEAKY, A_HARDTANH, A_LEAKYHARDTANH,
       A_SIGMOID, A_SOFTSIGN, A_HARDSWISH, A_PRELU, A_SILU };

/* An activation and its parameters: models/fast/activations.py's Act. */
typedef struct {
    int32_t id;
    float p[4];           /* LeakyReLU/PReLU: p0 slope; LeakyHardtanh: lo, hi, lo/hi slopes */
    const float *slopes;  /* PReLU per-row slopes (NULL: p0 for every row) */
} Act;

/* Activation a of row `row` (PReLU's slope) on one vector. */
VI vf activate(const Act *a, int row, vf x) {
    switch (a->id) {
    case A_TANH: return tanh_r(x);
    case A_FASTTANH: return fasttanh(x);
    case A_RELU: return sel(x < 0.0f, splat(0.0f), x);
    case A_LEAKY: return sel(x > 0.0f, x, a->p[0] * x);
    case A_PRELU: return sel(x > 0.0f, x, (a->slopes ? a->slopes[row] : a->p[0]) * x);
    case A_HARDTANH:
        x = sel(x > 1.0f, splat(1.0f), x);
        return sel(x < -1.0f, splat(-1.0f), x);
    case A_LEAKYHARDTANH: {
        vf below = (x - a->p[0]) * a->p[2] + a->p[0];
        vf above = (x - a->p[1]) * a->p[3] + a->p[1];
        return sel(x < a->p[0], below, sel(x > a->p[1], above, x));
    }
    case A_SIGMOID: return sigmoid_r(x);
    case A_SOFTSIGN: return x / (1.0f + vabs(x));
    case A_HARDSWISH: {
        vf r = x + 3.0f;
        r = sel(r < 0.0f, splat(0.0f), r);
        r = sel(r > 6.0f, splat(6.0f), r);
        return x * r / 6.0f;
    }
    case A_SILU: return x * sigmoid_r(x);
    default: return x;
    }
}

#endif
