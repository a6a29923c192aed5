/* namcheck fast WaveNet engine: a second implementation of models/wavenet.py for CPU,
 * float32, checked against the float64 reference by tests/test_fast_engine.py.
 *
 * Layout: every signal is channel-major (one contiguous row per channel), so the inner
 * loops run over VW consecutive samples at once (GCC vector extensions: one zmm register,
 * 16 lanes, where AVX-512 is there; one ymm, 8 lanes, otherwise). Each conv or 1x1 is
 * computed in passes of PR output rows x PV vectors of samples held in registers (8 x 2
 * zmm with AVX-512's 32 registers, 4 x 3 ymm with AVX2's 16): per input row and kernel tap,
 * PV loads of samples and PR x PV multiply-adds with broadcast weights. Weights are packed
 * by the Python side as [tile of 8 rows][input j][8]. Every layer's input keeps its own
 * history (the last (K-1)*d samples) in a linear buffer that is rewound (history moved to
 * the front) when full, so a block of n samples costs n samples of work whatever the
 * dilation.
 *
 * Blocks are processed in sub-blocks of at most NB samples; sample counts that are not a
 * multiple of VW compute whole vectors whose extra lanes only ever read and write the slack
 * past the end of each buffer row (causality: lane t reads times <= t), never stored out.
 * Every sample's arithmetic is the same whatever the block boundaries, so streaming equals
 * the offline forward bit for bit.
 */
#include <stdint.h>
#include <string.h>

#ifndef NB
#define NB 256           /* sub-block (samples); 64..512 measured within 5% of each other */
#endif
#if defined(__AVX512F__)
#define VW 16            /* lanes per vector: one zmm register */
#else
#define VW 8             /* lanes per vector: one ymm register (or what GCC makes of it) */
#endif
#define NBP (NB + VW)    /* scratch row stride */
#define MAX_TAPS 2048    /* input rows x kernel taps of one conv (checked in Python) */

typedef float vf __attribute__((vector_size(4 * VW)));
typedef int32_t vi __attribute__((vector_size(4 * VW)));

static inline vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf splat(float s) { return (vf){0} + s; }
/* a where m else b; NaN-preserving clamps pick x whenever the comparison is false */
static inline vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
static inline vf vabs(vf x) { return (vf)((vi)x & 0x7fffffff); }

#if defined(__AVX__)
#include <immintrin.h>
#endif

/* min(max(x, lo), hi) keeping NaN (the hardware min/max return their second operand, x,
 * when either is NaN) */
#if defined(__AVX512F__)
static inline vf clamp(vf x, float lo, float hi) {
    return (vf)_mm512_min_ps((__m512)splat(hi), _mm512_max_ps((__m512)splat(lo), (__m512)x));
}
#elif defined(__AVX__)
static inline vf clamp(vf x, float lo, float hi) {
    return (vf)_mm256_min_ps((__m256)splat(hi), _mm256_max_ps((__m256)splat(lo), (__m256)x));
}
#else
static inline vf clamp(vf x, float lo, float hi) {
    x = sel(x > hi, splat(hi), x);
    return sel(x < lo, splat(lo), x);
}
#endif

/* ---- activations (ids shared with models/fast/engine.py) ---------------------------- */
enum { A_IDENTITY, A_TANH, A_FASTTANH, A_RELU, A_LEAKY, A_HARDTANH, A_LEAKYHARDTANH,
       A_SIGMOID, A_SOFTSIGN, A_HARDSWISH, A_PRELU };

/* tanh(x) ~ x P(x^2) / Q(x^2) on |x| <= 9, odd; inputs clamped to +-9 (tanh(9) is 1 to
 * 3e-8). A [9/8] rational fitted by namcheck (Sanathanan-Koerner with Lawson weights on
 * [0, 9]): 1.85e-8 worst error in exact arithmetic; evaluated in float32 the worst
 * absolute error over every float32 input is TANH_ERROR_BOUND in engine.py, proved by
 * tests/test_fast_engine.py::test_tanh_bound_every_float32. */
static inline vf tanh_r(vf x) {
    x = clamp(x, -9.0f, 9.0f);
    vf s = x * x;
    vf p = (((1.318450766797691e-08f * s + 2.0472036140108945e-05f) * s
             + 0.0034865944327220825f) * s + 0.13373208273026285f) * s + 0.9999999063677925f;
    vf q = (((7.702779858885516e-07f * s + 0.0003271405860299473f) * s
             + 0.025842026952140607f) * s + 0.4670650514111023f) * s + 1.0f;
    return x * p / q;
}

/* The runtime's own rational approximation (NAM/activations.h fast_tanh), as reference. */
static inline vf fasttanh(vf x) {
    vf ax = vabs(x), x2 = x * x;
    vf num = x * (2.45550750702956f + 2.45550750702956f * ax
                  + (0.893229853513558f + 0.821226666969744f * ax) * x2);
    return num / (2.44506634652299f + (2.44506634652299f + x2)
                  * vabs(x + 0.814642734961073f * x * ax));
}

typedef struct {
    int32_t id;
    float p[4];           /* LeakyReLU: p0 slope; LeakyHardtanh: lo, hi, lo_slope, hi_slope */
    const float *slopes;  /* PReLU per-row slopes (NULL: p0 for every row) */
} Act;

static inline vf activate(const Act *a, int row, vf x) {
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
    case A_SIGMOID: return 0.5f + 0.5f * tanh_r(0.5f * x);
    case A_SOFTSIGN: return x / (1.0f + vabs(x));
    case A_HARDSWISH: {
        vf r = x + 3.0f;
        r = sel(r < 0.0f, splat(0.0f), r);
        r = sel(r > 6.0f, splat(6.0f), r);
        return x * r / 6.0f;
    }
    default: return x;
    }
}

/* Rows row0..row0+n-1 of a tile: the switch is taken once per tile, not per row. */
static inline void activate_rows(const Act *a, int row0, vf *acc, int n) {
    switch (a->id) {
    case A_TANH: for (int o = 0; o < n; o++) acc[o] = tanh_r(acc[o]); return;
    case A_IDENTITY: return;
    default: for (int o = 0; o < n; o++) acc[o] = activate(a, row0 + o, acc[o]); return;
    }
}

/* ---- model and state, mirrored by ctypes structures in engine.py -------------------- */
typedef struct {
    int32_t cin, z, b, k, d, dc, gating, has_l1, h1, has_h1;
    Act act, sec;
    const float *wc, *bc;   /* conv: [ceil(z/8)][k*cin][8], [z padded] (tap j = k*cin + i) */
    const float *wm;        /* mixer: [ceil(z/8)][dc][8] */
    const float *w1, *b1;   /* layer1x1: [ceil(cin/8)][b][8], bias */
    const float *wh, *bh;   /* head1x1: [ceil(h1/8)][b][8], bias */
} Layer;

typedef struct {
    int32_t nin, c, nlayers, h1, hout, hk, hd;
    const Layer *layers;
    const float *wr;        /* rechannel: [ceil(c/8)][nin][8], no bias */
    const float *whr, *bhr; /* head_rechannel: [ceil(hout/8)][hk*h1][8], bias (zeros if none) */
} Array;

typedef struct {
    int32_t narrays, in_ch, out_ch;
    float head_scale;
    const Array *arrays;
} Model;

typedef struct {
    float *data;            /* rows x len, row-major */
    int32_t rows, len, ctx, pos;
} Buf;

typedef struct {
    Buf *layer_in;          /* one per layer, all arrays in order */
    Buf *head;              /* one per array: the head accumulator with head_rechannel history */
    float *xin, *res, *y, *zs, *hout; /* scratch rows of stride NBP */
    const float *zero_row;  /* NBP zeros, for padded tile rows */
} State;

/* Make room for n more samples at pos (moving the history to the front when full). */
static void reserve(Buf *b, int n) {
    if (b->pos + n + VW <= b->len) return;
    for (int r = 0; r < b->rows; r++) {
        float *row = b->data + (int64_t)r * b->len;
        memmove(row, row + b->pos - b->ctx, sizeof(float) * b->ctx);
    }
    b->pos = b->ctx;
}

static inline float *at(const Buf *b, int row) { return b->data + (int64_t)row * b->len + b->pos; }

/* acc[o] += sum_j W[j][o] * rows[j][t..t+8) for one tile of 8 output rows */
static inline void tile_mac(const float *W, int kin, const float *const *rows, int t, vf acc[8]) {
    for (int j = 0; j < kin; j++) {
        vf xv = ld(rows[j] + t);
        const float *w = W + 8 * j;
        for (int o = 0; o < 8; o++) acc[o] += w[o] * xv;
    }
}

/* PV vectors of samples for PR rows of a tile (r0: the first of them): each weight is
 * loaded once for the PV vectors, each sample vector once for the PR rows. */
#if VW == 16
#define PR 8  /* rows per pass; PR x PV = 16 accumulators: AVX-512 has 32 registers */
#define PV 2  /* vectors of samples per pass */
#else
#define PR 4  /* 12 accumulators: AVX2 has 16 registers (A1 standard: +17% over 4 x 2) */
#define PV 3
#endif
static inline void pair_mac(const float *W, int kin, const float *const *rows, int t, int r0,
                            vf a[PV][PR]) {
    for (int j = 0; j < kin; j++) {
        const float *r = rows[j] + t;
        vf x[PV];
        for (int v = 0; v < PV; v++) x[v] = ld(r + v * VW);
        const float *w = W + 8 * j + r0;
        for (int o = 0; o < PR; o++)
            for (int v = 0; v < PV; v++) a[v][o] += w[o] * x[v];
    }
}

/* PV == 2 written out: GCC keeps these 16 accumulators in registers, where the general
 * loops below cost AVX-512 8% (A1 standard, measured interleaved). */
#if PV == 2
static inline void pair_mac2(const float *W, int kin, const float *const *rows, int t, int r0,
                            vf a0[PR], vf a1[PR]) {
    for (int j = 0; j < kin; j++) {
        const float *r = rows[j] + t;
        vf x0 = ld(r), x1 = ld(r + VW);
        const float *w = W + 8 * j + r0;
        for (int o = 0; o < PR; o++) {
            a0[o] += w[o] * x0;
            a1[o] += w[o] * x1;
        }
    }
}
#endif

/* acc[o] = bias + add rows, for rows row0 + r0 + o, o < n */
static inline void init_tile(const float *bias, const float *const *add, int row0, int nout,
                             int t, vf *acc, int r0, int n) {
    for (int o = 0; o < n; o++) {
        int row = row0 + r0 + o;
        acc[o] = splat(bias ? bias[row] : 0.0f);
        if (add && row < nout) acc[o] += ld(add[row] + t);
    }
}

/* out rows (nout) = W @ in rows + bias (+ add rows, which may be out itself), nv lanes */
static void matmul(const float *W, const float *bias, int nout, int kin, const float *const *rows,
                   const float *const *add, float *const *out, int nv) {
    for (int tile = 0; tile * 8 < nout; tile++) {
        const float *Wt = W + (int64_t)tile * kin * 8;
        int t = 0;
#if PV == 2
        for (; t + 2 * VW <= nv; t += 2 * VW) {
            for (int r0 = 0; r0 < 8 && tile * 8 + r0 < nout; r0 += PR) {
                vf a0[PR], a1[PR];
                init_tile(bias, add, tile * 8, nout, t, a0, r0, PR);
                init_tile(bias, add, tile * 8, nout, t + VW, a1, r0, PR);
                pair_mac2(Wt, kin, rows, t, r0, a0, a1);
                for (int o = 0; o < PR && tile * 8 + r0 + o < nout; o++) {
                    st(out[tile * 8 + r0 + o] + t, a0[o]);
                    st(out[tile * 8 + r0 + o] + t + VW, a1[o]);
                }
            }
        }
#else
        for (; t + PV * VW <= nv; t += PV * VW) {
            for (int r0 = 0; r0 < 8 && tile * 8 + r0 < nout; r0 += PR) {
                vf a[PV][PR];
                for (int v = 0; v < PV; v++)
                    init_tile(bias, add, tile * 8, nout, t + v * VW, a[v], r0, PR);
                pair_mac(Wt, kin, rows, t, r0, a);
                for (int o = 0; o < PR && tile * 8 + r0 + o < nout; o++)
                    for (int v = 0; v < PV; v++) st(out[tile * 8 + r0 + o] + t + v * VW, a[v][o]);
            }
        }
#endif
        for (; t < nv; t += VW) {
            vf acc[8];
            init_tile(bias, add, tile * 8, nout, t, acc, 0, 8);
            tile_mac(Wt, kin, rows, t, acc);
            for (int o = 0; o < 8 && tile * 8 + o < nout; o++) st(out[tile * 8 + o] + t, acc[o]);
        }
    }
}

static void run_layer(const Layer *L, Buf *in, Buf *next, float *next_scratch, Buf *head,
                      const float *const *cond, State *s, int nv) {
    const float *rows[MAX_TAPS];
    const float *crow[64];
    int K = L->k, C = L->cin, Z = L->z, B = L->b;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < C; i++) rows[k * C + i] = at(in, i) - (K - 1 - k) * L->d;
    for (int i = 0; i < L->dc; i++) crow[i] = cond[i];
    float *hrows[1024];
    for (int h = 0; h < L->h1; h++) hrows[h] = at(head, h);
    /* ungated without head1x1: the head takes y itself, added as each tile is stored */
    int fuse_head = !L->gating && !L->has_h1;
    /* conv + mixer (+ activation when ungated), tile by tile */
    float *dst = L->gating ? s->zs : s->y;
    for (int tile = 0; tile * 8 < Z; tile++) {
        const float *Wt = L->wc + (int64_t)tile * K * C * 8;
        const float *Wm = L->wm + (int64_t)tile * L->dc * 8;
        int t = 0;
#if PV == 2
        for (; t + 2 * VW <= nv; t += 2 * VW) {
            for (int r0 = 0; r0 < 8 && tile * 8 + r0 < Z; r0 += PR) {
                int row0 = tile * 8 + r0;
                vf a0[PR], a1[PR];
                for (int o = 0; o < PR; o++) a0[o] = a1[o] = splat(L->bc[row0 + o]);
                pair_mac2(Wm, L->dc, crow, t, r0, a0, a1);
                pair_mac2(Wt, K * C, rows, t, r0, a0, a1);
                if (!L->gating) {
                    activate_rows(&L->act, row0, a0, PR);
                    activate_rows(&L->act, row0, a1, PR);
                }
                for (int o = 0; o < PR && row0 + o < Z; o++) {
                    st(dst + (row0 + o) * NBP + t, a0[o]);
                    st(dst + (row0 + o) * NBP + t + VW, a1[o]);
                    if (fuse_head) {
                        float *h = hrows[row0 + o] + t;
                        st(h, ld(h) + a0[o]);
                        st(h + VW, ld(h + VW) + a1[o]);
                    }
                }
            }
        }
#else
        for (; t + PV * VW <= nv; t += PV * VW) {
            for (int r0 = 0; r0 < 8 && tile * 8 + r0 < Z; r0 += PR) {
                int row0 = tile * 8 + r0;
                vf a[PV][PR];
                for (int v = 0; v < PV; v++)
                    for (int o = 0; o < PR; o++) a[v][o] = splat(L->bc[row0 + o]);
                pair_mac(Wm, L->dc, crow, t, r0, a);
                pair_mac(Wt, K * C, rows, t, r0, a);
                if (!L->gating)
                    for (int v = 0; v < PV; v++) activate_rows(&L->act, row0, a[v], PR);
                for (int o = 0; o < PR && row0 + o < Z; o++) {
                    for (int v = 0; v < PV; v++) {
                        st(dst + (row0 + o) * NBP + t + v * VW, a[v][o]);
                        if (fuse_head) {
                            float *h = hrows[row0 + o] + t + v * VW;
                            st(h, ld(h) + a[v][o]);
                        }
                    }
                }
            }
        }
#endif
        for (; t < nv; t += VW) {
            vf acc[8];
            for (int o = 0; o < 8; o++) acc[o] = splat(L->bc[tile * 8 + o]);
            tile_mac(Wm, L->dc, crow, t, acc);
            tile_mac(Wt, K * C, rows, t, acc);
            if (!L->gating) activate_rows(&L->act, tile * 8, acc, 8);
            for (int o = 0; o < 8 && tile * 8 + o < Z; o++) {
                st(dst + (tile * 8 + o) * NBP + t, acc[o]);
                if (fuse_head) st(hrows[tile * 8 + o] + t, ld(hrows[tile * 8 + o] + t) + acc[o]);
            }
        }
    }
    if (L->gating) {
        for (int o = 0; o < B; o++) {
            for (int t = 0; t < nv; t += VW) {
                vf a = ld(s->zs + o * NBP + t), g = ld(s->zs + (B + o) * NBP + t);
                vf sg = activate(&L->sec, o, g);
                vf y = L->gating == 1 ? activate(&L->act, o, a) * sg
                                      : sg * activate(&L->act, o, a) + (1.0f - sg) * a;
                st(s->y + o * NBP + t, y);
            }
        }
    }
    const float *yrows[1024];
    for (int o = 0; o < B; o++) yrows[o] = s->y + o * NBP;
    if (L->has_h1) {
        matmul(L->wh, L->bh, L->h1, B, yrows, (const float *const *)hrows, hrows, nv);
    } else if (!fuse_head) {
        for (int h = 0; h < L->h1; h++)
            for (int t = 0; t < nv; t += VW) st(hrows[h] + t, ld(hrows[h] + t) + ld(yrows[h] + t));
    }
    /* residual: next = x (+ layer1x1(y) + b1) */
    float *orows[1024];
    for (int c = 0; c < C; c++) orows[c] = next ? at(next, c) : next_scratch + c * NBP;
    if (L->has_l1) {
        const float *xrows[1024];
        for (int c = 0; c < C; c++) xrows[c] = at(in, c);
        matmul(L->w1, L->b1, C, B, yrows, xrows, orows, nv);
    } else {
        for (int c = 0; c < C; c++) memcpy(orows[c], at(in, c), sizeof(float) * nv);
    }
}

static void run_block(const Model *m, State *s, int n) {
    int nv = (n + VW - 1) / VW * VW;
    const float *cond[64];
    for (int i = 0; i < m->in_ch; i++) cond[i] = s->xin + i * NBP;
    const float *inrows[1024];
    for (int i = 0; i < m->in_ch; i++) inrows[i] = s->xin + i * NBP;
    float *prev_head = NULL;  /* previous array's head_rechannel output rows (in s->hout) */
    int li = 0;
    for (int a = 0; a < m->narrays; a++) {
        const Array *A = m->arrays + a;
        Buf *head = s->head + a;
        reserve(head, nv);
        for (int h = 0; h < A->h1; h++) {
            float *dst = at(head, h);
            if (prev_head) memcpy(dst, prev_head + h * NBP, sizeof(float) * nv);
            else memset(dst, 0, sizeof(float) * nv);
        }
        /* rechannel into the first layer's buffer */
        Buf *first = s->layer_in + li;
        reserve(first, nv);
        float *frows[1024];
        for (int c = 0; c < A->c; c++) frows[c] = at(first, c);
        matmul(A->wr, NULL, A->c, A->nin, inrows, NULL, frows, nv);
        for (int l = 0; l < A->nlayers; l++) {
            Buf *in = s->layer_in + li + l;
            Buf *next = l + 1 < A->nlayers ? s->layer_in + li + l + 1 : NULL;
            if (next) reserve(next, nv);
            run_layer(A->layers + l, in, next, s->res, head, cond, s, nv);
            in->pos += n;
        }
        li += A->nlayers;
        /* head_rechannel over the accumulator and its history */
        const float *hr[MAX_TAPS];
        for (int k = 0; k < A->hk; k++)
            for (int h = 0; h < A->h1; h++) hr[k * A->h1 + h] = at(head, h) - (A->hk - 1 - k) * A->hd;
        float *orow[1024];
        for (int o = 0; o < A->hout; o++) orow[o] = s->hout + o * NBP;
        matmul(A->whr, A->bhr, A->hout, A->hk * A->h1, hr, NULL, orow, nv);
        head->pos += n;
        prev_head = s->hout;
        for (int c = 0; c < A->c; c++) inrows[c] = s->res + c * NBP;
    }
}

/* Process n samples: in is in_ch rows of n, out is out_ch rows of n (row stride n). */
int namcheck_wavenet_process(const Model *m, State *s, const float *in, float *out, int64_t n) {
    for (int64_t done = 0; done < n;) {
        int b = (int)(n - done < NB ? n - done : NB);
        for (int i = 0; i < m->in_ch; i++) memcpy(s->xin + i * NBP, in + i * n + done, sizeof(float) * b);
        run_block(m, s, b);
        for (int o = 0; o < m->out_ch; o++) {
            const float *h = s->hout + o * NBP;
            for (int t = 0; t < b; t++) out[o * n + done + t] = m->head_scale * h[t];
        }
        done += b;
    }
    return 0;
}

/* One activation over n values (tests prove the approximations' bounds with it). */
void namcheck_activation(const Act *a, int row, const float *x, float *y, int64_t n) {
    int64_t t = 0;
    for (; t + VW <= n; t += VW) st(y + t, activate(a, row, ld(x + t)));
    if (t < n) {
        float tmp[VW] = {0};
        memcpy(tmp, x + t, sizeof(float) * (n - t));
        st(tmp, activate(a, row, ld(tmp)));
        memcpy(y + t, tmp, sizeof(float) * (n - t));
    }
}

int namcheck_wavenet_abi(void) { return 2; }
int namcheck_wavenet_nb(void) { return NB; }
int namcheck_wavenet_vw(void) { return VW; }
