/* Timing aids of the fast library (harness/bench.py):
 *
 * - namcheck_stream_blocks: a signal through an engine's own per-block process function in
 *   consecutive blocks, called from C as a plugin host calls its DSP (no Python between
 *   blocks), so `namcheck bench` can show what the kernel costs at a 1-sample buffer
 *   apart from Python's per-call cost (and _dsp: a WaveNet with its condition DSP).
 * - namcheck_fma_peak: this core's float32 multiply-add peak, measured: PEAK_CHAINS
 *   independent chains of vector FMAs (VW lanes, the kernels' own vector width), enough
 *   to keep every FMA pipe busy through the instruction's latency (2 pipes x 4 cycles on
 *   Zen 3 and Skylake-X need 8), with no memory traffic.
 */
#include "vecmath.h"

#define PEAK_CHAINS 12   /* 12 accumulators + 2 constants fit AVX2's 16 registers */

/* (model, state, in, out, n): lstm.c's and feedforward.c's process functions */
typedef int (*process_fn)(const void *m, void *s, const float *in, float *out, int64_t n);
/* (model, state, in, cond, out, n): wavenet.c's (cond NULL: no condition DSP) */
typedef int (*process_cond_fn)(const void *m, void *s, const float *in, const float *cond,
                               float *out, int64_t n);

/* x (n samples, one input row) through f in blocks of `block` samples (the last one
 * shorter), y the one output row: the same output as one call of n. */
int namcheck_stream_blocks(process_fn f, const void *m, void *s, const float *x, float *y,
                           int64_t n, int64_t block) {
    for (int64_t t = 0; t < n; t += block) {
        int64_t b = n - t < block ? n - t : block;
        int rc = f(m, s, x + t, y + t, b);
        if (rc) return rc;
    }
    return 0;
}

/* namcheck_stream_blocks for wavenet.c's process function (a model without condition DSP). */
int namcheck_stream_blocks_cond(process_cond_fn f, const void *m, void *s, const float *x,
                                float *y, int64_t n, int64_t block) {
    for (int64_t t = 0; t < n; t += block) {
        int64_t b = n - t < block ? n - t : block;
        int rc = f(m, s, x + t, NULL, y + t, b);
        if (rc) return rc;
    }
    return 0;
}

/* namcheck_stream_blocks for a WaveNet with a condition DSP, as the runtime runs them: per
 * block, the DSP's process function (wavenet.c's where dsp_cond, with a NULL condition;
 * else lstm.c's or feedforward.c's) writes the condition (its output rows, row stride the
 * block's length) into `cond` (room for its rows x block), then the WaveNet's reads it. */
int namcheck_stream_blocks_dsp(const void *dsp_f, int32_t dsp_cond, const void *dm, void *ds,
                               process_cond_fn f, const void *m, void *s, const float *x,
                               float *cond, float *y, int64_t n, int64_t block) {
    for (int64_t t = 0; t < n; t += block) {
        int64_t b = n - t < block ? n - t : block;
        int rc = dsp_cond ? ((process_cond_fn)dsp_f)(dm, ds, x + t, NULL, cond, b)
                          : ((process_fn)dsp_f)(dm, ds, x + t, cond, b);
        if (!rc) rc = f(m, s, x + t, cond, y + t, b);
        if (rc) return rc;
    }
    return 0;
}

/* iters rounds of PEAK_CHAINS vector FMAs (namcheck_fma_peak_flops() flops each round);
 * returns a sum of the results, so the work cannot be left out. The multiplier is just
 * below 1 and the addend small, so the values stay finite and normal. */
float namcheck_fma_peak(int64_t iters, float seed) {
    vf a[PEAK_CHAINS];
    vf b = splat(0.9999999f), c = splat(1e-7f);
    for (int i = 0; i < PEAK_CHAINS; i++) a[i] = splat(seed + (float)i);
    /* without -ffast-math the compiler may not merge the chains (that would reassociate) */
    for (int64_t k = 0; k < iters; k++)
        for (int i = 0; i < PEAK_CHAINS; i++) a[i] = fmadd(a[i], b, c);
    vf r = a[0];
    for (int i = 1; i < PEAK_CHAINS; i++) r += a[i];
    float out = 0.0f;
    for (int i = 0; i < VW; i++) out += r[i];
    return out;
}

/* flops per round of namcheck_fma_peak: chains x lanes x 2 (a multiply and an add) */
int64_t namcheck_fma_peak_flops(void) { return (int64_t)PEAK_CHAINS * VW * 2; }

int namcheck_driver_abi(void) { return 2; }
