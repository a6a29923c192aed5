/* namcheck fast WaveNet engine: a second implementation of models/wavenet.py for CPU,
 * float32, checked against the float64 reference by tests/test_fast_engine.py.
 *
 * Layout: every signal is channel-major (one contiguous row per channel), so the inner
 * loops run over VW consecutive samples at once (GCC vector extensions: one zmm register,
 * 16 lanes, where AVX-512 is there; one ymm, 8 lanes, otherwise). Every convolution (a
 * dilated conv, a 1x1, a FiLM's 1x1, a head) is a `Conv`: tiles of at most 8 output rows,
 * each reading `kin` taps (input rows x kernel taps of its group) through a table of row
 * pointers, with weights packed by the Python side as [tile][tap][8]. Grouped convs have
 * one tile (or more) per group, so no weight of another group is ever multiplied in. A
 * conv is computed in chunks of PV vectors of samples; in each chunk, for every tile,
 * passes of PR output rows keep PR x PV accumulators in registers (AVX2's 16 registers:
 * 4 x 3; AVX-512's 32: 8 x 2): per tap, PV loads of samples and PR x PV multiply-adds with
 * broadcast weights. Every layer's input keeps its own history (the last (K-1)*d samples) in a
 * linear buffer that is rewound (history moved to the front) when full, so a block of n
 * samples costs n samples of work whatever the dilation.
 *
 * An array whose rechannel reads one row (array 0 of every mono model) and whose first
 * layer's conv can take the product (groups 1, no FiLM) has that conv composed with the
 * rechannel: weights W_k R, made in float64 and rounded once by the Python side, so the conv
 * reads K taps of the input, not K C taps of the rechannel's output (Array.composed; its
 * first Layer.tin = 1).
 *
 * Blocks are processed in sub-blocks of at most NB samples; sample counts that are not a
 * multiple of VW compute whole vectors whose extra lanes only ever read and write the slack
 * past the end of each buffer row (causality: lane t reads times <= t), never stored out.
 * Every sample's arithmetic is the same whatever the block boundaries (a pass of fewer
 * vectors does the same operations per lane), so streaming equals the offline forward bit
 * for bit.
 */
#include "vecmath.h"

#if defined(__AVX512F__)
#define PR 8             /* output rows per pass; PR x PV = 16 accumulators of 32 registers */
#define PV 2             /* vectors of samples per pass */
#else
#define PR 4             /* 12 accumulators: AVX2 has 16 registers */
#define PV 3
#endif
/* conv_tile's remainder after whole chunks (< PV vectors) runs as one pass of 2 vectors
 * (where PV > 2), then one of 1: that covers 3 vectors at most */
_Static_assert(PV <= 4, "conv_tile's remainder passes cover fewer than PV - 1 vectors");
#ifndef NB
/* sub-block (samples): whole chunks. Each layer's setup is paid once per sub-block, but a
 * sub-block's signals must stay in L1 between a layer's steps (one core, interleaved, in one
 * process): with AVX2 (Zen 3), 768 ran A1 standard 3.5% and wavenet.nam 11% faster than 264,
 * 1536 no better; with AVX-512 (Cooper Lake, 32 KiB L1), 256 ran A1 standard 8%, A2 3% and
 * wavenet_a2_max 25% faster than 1024 (wavenet.nam, 2500x real time, 2% slower); 128, 192,
 * 320, 384 and 512 were slower than 256. */
#if defined(__AVX512F__)
#define NB (8 * PV * VW)
#else
#define NB (32 * PV * VW)
#endif
#endif
#define NBP (NB + VW)    /* scratch row stride */
#define AI static inline __attribute__((always_inline))

/* Rows row0..row0+n-1 of a pass: the switch is taken once per pass, not per row. */
AI void activate_rows(const Act *a, int row0, vf *acc, int n) {
    switch (a->id) {
    case A_TANH: for (int o = 0; o < n; o++) acc[o] = tanh_r(acc[o]); return;
    case A_IDENTITY: return;
    default: for (int o = 0; o < n; o++) acc[o] = activate(a, row0 + o, acc[o]); return;
    }
}

/* One activation over nv samples of `rows` rows, rows[r] -> out[r] (may be the same). */
static void activate_block(const Act *a, float *const *in, float *const *out, int rows, int nv) {
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < nv; t += VW) st(out[r] + t, activate(a, r, ld(in[r] + t)));
}

/* ---- model and state, mirrored by ctypes structures in wavenet.py ------------------- */
typedef struct {
    int32_t ntiles, kin;      /* tiles of <= 8 output rows; taps each tile reads */
    const float *w;           /* [ntiles][kin][8]; rows past a tile's count are zeros */
    const float *bias;        /* per output row, padded by 8 (NULL: no bias) */
    const int32_t *tile;      /* per tile: first output row, rows (<= 8), first tap */
} Conv;

enum { F_CONV_PRE, F_CONV_POST, F_MIXIN_PRE, F_MIXIN_POST, F_ACT_PRE, F_ACT_POST,
       F_LAYER1X1_POST, F_HEAD1X1_POST, NFILM };

typedef struct {
    Conv conv;                /* 1x1 of the condition: dim (scale) then dim (shift) rows */
    int32_t dim, shift;       /* conv.w NULL: the slot is inactive */
} Film;

typedef struct {
    int32_t cin, z, b, k, d, groups, dc, gating, h1, nfilm;
    int32_t tin;              /* rows the conv's taps read from the layer's input buffer:
                                 cin, or 1 where the array is `composed` (see run_block) */
    Act act, sec;
    Conv conv, mixer;
    Conv fused;               /* conv and mixer as one conv (groups 1): taps, then the
                                 condition rows; w NULL where the groups forbid it */
    Conv l1x1, h1x1;          /* w NULL: inactive */
    Film film[NFILM];         /* in the weight stream's slot order; only applied ones set */
} Layer;

typedef struct {
    int32_t nin, c, nlayers, h1, hout, hk, hd;
    int32_t composed;         /* the first layer's conv is composed with the rechannel */
    const Layer *layers;
    Conv rechannel, head;     /* head: head_rechannel over hk taps of h1 rows */
} Array;

typedef struct {
    Conv conv;
    int32_t cin, k;           /* dilation 1 */
} Post;

typedef struct {
    int32_t narrays, in_ch, out_ch, cond_ch, npost;
    float head_scale;
    const Array *arrays;
    const Post *post;         /* post-stack head convs, each after post_act */
    Act post_act;
} Model;

typedef struct {
    float *data;              /* rows x len, row-major */
    int32_t rows, len, ctx, pos;
} Buf;

/* scratch signals, each `widest` rows of stride NBP */
enum { S_XIN, S_XC, S_RES, S_Y, S_ZS, S_MS, S_MI, S_XRES, S_FS, S_T, S_HOUT, S_P0, S_P1,
       NSCRATCH };

typedef struct {
    Buf *layer_in;            /* one per layer, all arrays in order */
    Buf *head;                /* one per array: the head accumulator with head history */
    Buf *post;                /* one per post-stack head conv: its activated input */
    float **rows[NSCRATCH];   /* row pointers of each scratch signal */
    const float **ptrs;       /* 4 pointer tables of maxp entries each */
    int32_t maxp;
} State;

/* Make room for n more samples at pos (moving the history to the front when full). The
 * position keeps its remainder modulo VW, so blocks that start vector-aligned (rows are,
 * and the Python side starts each signal aligned) keep their stores and current-time
 * loads within cache lines. */
static void reserve(Buf *b, int n) {
    if (b->pos + n + VW <= b->len) return;
    int to = b->ctx + (b->pos - b->ctx) % VW;
    for (int r = 0; r < b->rows; r++) {
        float *row = b->data + (int64_t)r * b->len;
        memmove(row + to - b->ctx, row + b->pos - b->ctx, sizeof(float) * b->ctx);
    }
    b->pos = to;
}

AI float *at(const Buf *b, int row) { return b->data + (int64_t)row * b->len + b->pos; }

/* ---- the convolution core ----------------------------------------------------------- */

/* a[v][o] += W[j][r0 + o] * taps[j][t + v VW] for j < kin */
AI void mac(const float *W, int kin, const float *const *taps, int t, int r0, int pv,
            vf a[PV][PR]) {
    _Pragma("GCC unroll 4")
    for (int j = 0; j < kin; j++) {
        const float *r = taps[j] + t;
        vf x[PV];
        for (int v = 0; v < pv; v++) x[v] = ld(r + v * VW);
        const float *w = W + 8 * j + r0;
        for (int o = 0; o < PR; o++)
            for (int v = 0; v < pv; v++) a[v][o] += w[o] * x[v];
    }
}

/* The activation a conv applies, as a compile-time case of conv_pass: the accumulators
 * stay in registers through LeakyReLU; other activations take the general switch. (A
 * layer's tanh is not applied here but by tanh_rows.) */
enum { K_NONE, K_LEAKY, K_OTHER };

/* One pass: rows r0.. of a tile, pv vectors from sample t. acc = bias (+ add rows) + taps;
 * activated (kind); stored to out, and added to out2 rows if given. */
AI void conv_pass(const Conv *cv, int tile, int r0, const float *const *taps,
                  const float *const *add, const Act *act, int kind, float *const *out,
                  float *const *out2, int t, int pv, int full) {
    const int32_t *ti = cv->tile + 3 * tile;
    int row0 = ti[0] + r0, n = full ? PR : ti[1] - r0;
    /* loops of constant length with guards (o < n), never of length n: the accumulators
     * then stay in registers from the bias to the stores */
    vf a[PV][PR];
    for (int o = 0; o < PR; o++) {
        vf b = splat(cv->bias ? cv->bias[row0 + o] : 0.0f);
        for (int v = 0; v < pv; v++) a[v][o] = b;
    }
    if (add)
        for (int o = 0; o < PR; o++)
            if (o < n) {
                const float *p = add[row0 + o] + t;
                for (int v = 0; v < pv; v++) a[v][o] += ld(p + v * VW);
            }
    mac(cv->w + (int64_t)tile * cv->kin * 8, cv->kin, taps + ti[2], t, r0, pv, a);
    if (kind == K_LEAKY) {
        float slope = act->p[0];
        for (int v = 0; v < pv; v++)
            for (int o = 0; o < PR; o++) a[v][o] = sel(a[v][o] > 0.0f, a[v][o], slope * a[v][o]);
    } else if (kind == K_OTHER) {
        for (int v = 0; v < pv; v++) activate_rows(act, row0, a[v], PR);
    }
    for (int o = 0; o < PR; o++)
        if (o < n) {
            float *p = out[row0 + o] + t;
            float *h = out2 ? out2[row0 + o] + t : NULL;
            for (int v = 0; v < pv; v++) st(p + v * VW, a[v][o]);
            if (h)
                for (int v = 0; v < pv; v++) st(h + v * VW, ld(h + v * VW) + a[v][o]);
        }
}

/* Every pass of one tile over nv samples (a multiple of VW): whole chunks of PV vectors,
 * then the remainder in passes of fewer vectors. */
AI void conv_tile(const Conv *cv, int tile, const float *const *taps,
                  const float *const *add, const Act *act, int kind, float *const *out,
                  float *const *out2, int nv) {
    int rows = cv->tile[3 * tile + 1], t = 0;
    if (rows == 8)  /* a full tile: whole passes, no row guards */
        for (; t + PV * VW <= nv; t += PV * VW)
            for (int r0 = 0; r0 < 8; r0 += PR)
                conv_pass(cv, tile, r0, taps, add, act, kind, out, out2, t, PV, 1);
    for (; t + PV * VW <= nv; t += PV * VW)
        for (int r0 = 0; r0 < rows; r0 += PR)
            conv_pass(cv, tile, r0, taps, add, act, kind, out, out2, t, PV, 0);
#if PV > 2
    if (nv - t >= 2 * VW) {
        for (int r0 = 0; r0 < rows; r0 += PR)
            conv_pass(cv, tile, r0, taps, add, act, kind, out, out2, t, 2, 0);
        t += 2 * VW;
    }
#endif
    if (nv - t >= VW)
        for (int r0 = 0; r0 < rows; r0 += PR)
            conv_pass(cv, tile, r0, taps, add, act, kind, out, out2, t, 1, 0);
}

/* out rows = conv(taps) + bias (+ add rows), activated if act, over nv samples (a
 * multiple of VW); out2 rows, if given, also get the result added. Tile by tile: a tile's
 * output rows are few store streams, its weights stay in L1. */
static void conv_run(const Conv *cv, const float *const *taps, const float *const *add,
                     const Act *act, float *const *out, float *const *out2, int nv) {
    int id = act ? act->id : A_IDENTITY;
    for (int tile = 0; tile < cv->ntiles; tile++) {
        if (id == A_IDENTITY) conv_tile(cv, tile, taps, add, act, K_NONE, out, out2, nv);
        else if (id == A_LEAKY || (id == A_PRELU && !act->slopes))
            conv_tile(cv, tile, taps, add, act, K_LEAKY, out, out2, nv);
        else conv_tile(cv, tile, taps, add, act, K_OTHER, out, out2, nv);
    }
}

/* x[r] = x[r] * s[r] (+ s[dim + r]), s = the FiLM's conv of the condition */
static void film(const Film *F, const float *const *cond, float *const *x, State *s, int nv) {
    float *const *fs = s->rows[S_FS];
    conv_run(&F->conv, cond, NULL, NULL, fs, NULL, nv);
    for (int r = 0; r < F->dim; r++)
        for (int t = 0; t < nv; t += VW) {
            vf y = ld(x[r] + t) * ld(fs[r] + t);
            if (F->shift) y += ld(fs[F->dim + r] + t);
            st(x[r] + t, y);
        }
}

static void gate(const Layer *L, float *const *zs, float *const *y, int nv) {
    for (int o = 0; o < L->b; o++)
        for (int t = 0; t < nv; t += VW) {
            vf a = ld(zs[o] + t), g = ld(zs[L->b + o] + t);
            vf sg = activate(&L->sec, o, g);
            vf r = L->gating == 1 ? activate(&L->act, o, a) * sg
                                  : sg * activate(&L->act, o, a) + (1.0f - sg) * a;
            st(y[o] + t, r);
        }
}

/* y rows = tanh(y rows) in place, each also added to h's rows where h is given. A loop of
 * its own, not conv_pass's epilogue: there the 12 accumulators leave no registers for 12
 * tanh chains, and A1 standard ran 4% slower (paired A/B, bit-identical output). */
static void tanh_rows(float *const *y, float *const *h, int rows, int nv) {
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < nv; t += VW) {
            vf v = tanh_r(ld(y[r] + t));
            st(y[r] + t, v);
            if (h) st(h[r] + t, ld(h[r] + t) + v);
        }
}

static void add_rows(float *const *dst, float *const *src, int rows, int nv) {
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < nv; t += VW) st(dst[r] + t, ld(dst[r] + t) + ld(src[r] + t));
}

static void copy_rows(float *const *dst, float *const *src, int rows, int nv) {
    for (int r = 0; r < rows; r++) memcpy(dst[r], src[r], sizeof(float) * nv);
}

/* z rows (Z) = conv(u) + bias + mixer(m): one conv where the layer has `fused` (its taps
 * table then continues with the mixer's input rows), else the mixer first, added in. */
AI void conv_mixer(const Layer *L, const float **taps, const float *const *m, const Act *act,
                   float *const *out, float *const *out2, State *s, int nv) {
    if (L->fused.w) {
        for (int i = 0; i < L->dc; i++) taps[L->k * L->tin + i] = m[i];
        conv_run(&L->fused, taps, NULL, act, out, out2, nv);
    } else {
        float *const *MS = s->rows[S_MS];
        conv_run(&L->mixer, m, NULL, NULL, MS, NULL, nv);
        conv_run(&L->conv, taps, (const float *const *)MS, act, out, out2, nv);
    }
}

/* One layer: `in` holds its conv's input with history (L->tin rows); the residual input is
 * `xres` rows where given, else `in`'s; the residual output goes to `next` rows (NULL:
 * nothing reads it, so it is not computed), the head branch is added to `head`'s rows. */
static void run_layer(const Layer *L, Buf *in, float *const *xres, float *const *next,
                      Buf *head, const float *const *cond, State *s, int nv) {
    int K = L->k, G = L->groups, gi = L->tin / G;
    const float **taps = s->ptrs;
    float **xrows = (float **)s->ptrs + s->maxp;
    float **hrows = (float **)s->ptrs + 2 * s->maxp;
    for (int g = 0; g < G; g++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < gi; i++)
                taps[(g * K + k) * gi + i] = at(in, g * gi + i) - (K - 1 - k) * L->d;
    for (int c = 0; c < L->cin; c++) xrows[c] = xres ? xres[c] : at(in, c);
    for (int h = 0; h < L->h1; h++) hrows[h] = at(head, h);
    float *const *Y = s->rows[S_Y], *const *ZS = s->rows[S_ZS];
    const Film *F = L->film;
    if (!L->nfilm) {
        /* conv + mixer (+ activation and the head add when ungated) in one pass; a tanh
         * (and the head add with it) in a loop of its own */
        int fuse_head = !L->gating && !L->h1x1.w, tanh_after = !L->gating && L->act.id == A_TANH;
        conv_mixer(L, taps, cond, L->gating || tanh_after ? NULL : &L->act, L->gating ? ZS : Y,
                   fuse_head && !tanh_after ? hrows : NULL, s, nv);
        if (tanh_after) tanh_rows(Y, fuse_head ? hrows : NULL, L->b, nv);
        if (L->gating) gate(L, ZS, Y, nv);
        if (L->h1x1.w)
            conv_run(&L->h1x1, (const float *const *)Y, (const float *const *)hrows, NULL,
                     hrows, NULL, nv);
        else if (!fuse_head)
            add_rows(hrows, Y, L->h1, nv);
        if (!next) return;
        if (L->l1x1.w)
            conv_run(&L->l1x1, (const float *const *)Y, (const float *const *)xrows, NULL,
                     next, NULL, nv);
        else
            copy_rows(next, xrows, L->cin, nv);
        return;
    }
    /* With FiLM: each step on its own (NAM_FORMAT 3.4), every FiLM reading the condition */
    if (F[F_CONV_PRE].conv.w) {  /* the conv reads (and keeps as history) the modulated x */
        float *const *XR = s->rows[S_XRES];
        copy_rows(XR, xrows, L->cin, nv);
        film(&F[F_CONV_PRE], cond, xrows, s, nv);
        xrows = (float **)XR;
    }
    const float *const *min = cond;
    if (F[F_MIXIN_PRE].conv.w) {
        float *const *MI = s->rows[S_MI];
        copy_rows(MI, (float *const *)cond, L->dc, nv);
        film(&F[F_MIXIN_PRE], cond, MI, s, nv);
        min = (const float *const *)MI;
    }
    if (F[F_CONV_POST].conv.w || F[F_MIXIN_POST].conv.w) {
        float *const *MS = s->rows[S_MS];
        conv_run(&L->conv, taps, NULL, NULL, ZS, NULL, nv);
        if (F[F_CONV_POST].conv.w) film(&F[F_CONV_POST], cond, ZS, s, nv);
        conv_run(&L->mixer, min, NULL, NULL, MS, NULL, nv);
        if (F[F_MIXIN_POST].conv.w) film(&F[F_MIXIN_POST], cond, MS, s, nv);
        add_rows(ZS, MS, L->z, nv);
    } else {
        conv_mixer(L, taps, min, NULL, ZS, NULL, s, nv);
    }
    if (F[F_ACT_PRE].conv.w) film(&F[F_ACT_PRE], cond, ZS, s, nv);
    if (L->gating) gate(L, ZS, Y, nv);
    else activate_block(&L->act, ZS, Y, L->b, nv);
    if (F[F_ACT_POST].conv.w) film(&F[F_ACT_POST], cond, Y, s, nv);
    float *const *T = s->rows[S_T];
    if (L->h1x1.w) {
        if (F[F_HEAD1X1_POST].conv.w) {
            conv_run(&L->h1x1, (const float *const *)Y, NULL, NULL, T, NULL, nv);
            film(&F[F_HEAD1X1_POST], cond, T, s, nv);
            add_rows(hrows, T, L->h1, nv);
        } else {
            conv_run(&L->h1x1, (const float *const *)Y, (const float *const *)hrows, NULL,
                     hrows, NULL, nv);
        }
    } else {
        add_rows(hrows, Y, L->h1, nv);
    }
    if (!next) return;
    if (L->l1x1.w) {
        if (F[F_LAYER1X1_POST].conv.w) {  /* set by Python for blended layers only */
            conv_run(&L->l1x1, (const float *const *)Y, NULL, NULL, T, NULL, nv);
            film(&F[F_LAYER1X1_POST], cond, T, s, nv);
            for (int c = 0; c < L->cin; c++)
                for (int t = 0; t < nv; t += VW) st(next[c] + t, ld(xrows[c] + t) + ld(T[c] + t));
        } else {
            conv_run(&L->l1x1, (const float *const *)Y, (const float *const *)xrows, NULL,
                     next, NULL, nv);
        }
    } else {
        copy_rows(next, xrows, L->cin, nv);
    }
}

/* Taps of a conv of kernel k, dilation d over `rows` rows of a buffer (groups 1). */
static void buf_taps(const float **taps, const Buf *b, int rows, int k, int d) {
    for (int j = 0; j < k; j++)
        for (int r = 0; r < rows; r++) taps[j * rows + r] = at(b, r) - (k - 1 - j) * d;
}

/* One sub-block of n <= NB samples, already in S_XIN (and the condition in S_XC where the
 * model has a condition DSP); leaves the output rows in the returned scratch. */
static float *const *run_block(const Model *m, State *s, int n) {
    int nv = (n + VW - 1) / VW * VW;
    const float *const *cond = (const float *const *)(m->cond_ch ? s->rows[S_XC] : s->rows[S_XIN]);
    const float *const *inrows = (const float *const *)s->rows[S_XIN];
    float *const *hout = s->rows[S_HOUT];
    float **frows = (float **)s->ptrs + 3 * s->maxp;
    int li = 0;
    for (int a = 0; a < m->narrays; a++) {
        const Array *A = m->arrays + a;
        Buf *head = s->head + a;
        reserve(head, nv);
        for (int h = 0; h < A->h1; h++) {
            float *dst = at(head, h);
            if (a) memcpy(dst, hout[h], sizeof(float) * nv);  /* previous array's head */
            else memset(dst, 0, sizeof(float) * nv);
        }
        /* rechannel into the first layer's buffer; where the first layer's conv is composed
         * with a one-input rechannel (its weights W_k R, Python's _pack_model), that buffer
         * keeps the input itself, and the rechannel's output is only the residual's input */
        Buf *first = s->layer_in + li;
        reserve(first, nv);
        float *const *xres = NULL;
        if (A->composed) {
            memcpy(at(first, 0), inrows[0], sizeof(float) * nv);
            xres = s->rows[S_XRES];
            conv_run(&A->rechannel, inrows, NULL, NULL, xres, NULL, nv);
        } else {
            for (int c = 0; c < A->c; c++) frows[c] = at(first, c);
            conv_run(&A->rechannel, inrows, NULL, NULL, frows, NULL, nv);
        }
        for (int l = 0; l < A->nlayers; l++) {
            Buf *in = s->layer_in + li + l;
            /* the last array's residual output is never read */
            float *const *next = a + 1 < m->narrays ? s->rows[S_RES] : NULL;
            if (l + 1 < A->nlayers) {
                Buf *nb = in + 1;
                reserve(nb, nv);
                for (int c = 0; c < A->c; c++) frows[c] = at(nb, c);
                next = frows;
            }
            run_layer(A->layers + l, in, l ? NULL : xres, next, head, cond, s, nv);
            in->pos += n;
        }
        li += A->nlayers;
        /* head_rechannel over the accumulator and its history */
        buf_taps(s->ptrs, head, A->h1, A->hk, A->hd);
        conv_run(&A->head, s->ptrs, NULL, NULL, hout, NULL, nv);
        head->pos += n;
        inrows = (const float *const *)s->rows[S_RES];
    }
    if (!m->npost) return hout;
    /* post-stack head: out = conv_i(act(out)), out starting as head_scale * hout */
    float *const *prev = hout;
    float scale = m->head_scale;
    for (int i = 0; i < m->npost; i++) {
        const Post *P = m->post + i;
        Buf *pb = s->post + i;
        reserve(pb, nv);
        for (int c = 0; c < P->cin; c++) {
            float *dst = at(pb, c);
            for (int t = 0; t < nv; t += VW)
                st(dst + t, activate(&m->post_act, c, scale * ld(prev[c] + t)));
        }
        scale = 1.0f;
        buf_taps(s->ptrs, pb, P->cin, P->k, 1);
        float *const *out = s->rows[i % 2 ? S_P1 : S_P0];
        conv_run(&P->conv, s->ptrs, NULL, NULL, out, NULL, nv);
        pb->pos += n;
        prev = out;
    }
    return prev;
}

/* Process n samples: in is in_ch rows of n, cond (with a condition DSP, else NULL) cond_ch
 * rows of n, out is out_ch rows of n (row stride n). */
int namcheck_wavenet_process(const Model *m, State *s, const float *in, const float *cond,
                             float *out, int64_t n) {
    float scale = m->npost ? 1.0f : m->head_scale;
    for (int64_t done = 0; done < n;) {
        int b = (int)(n - done < NB ? n - done : NB);
        for (int i = 0; i < m->in_ch; i++)
            memcpy(s->rows[S_XIN][i], in + i * n + done, sizeof(float) * b);
        for (int i = 0; i < m->cond_ch; i++)
            memcpy(s->rows[S_XC][i], cond + i * n + done, sizeof(float) * b);
        float *const *y = run_block(m, s, b);
        for (int o = 0; o < m->out_ch; o++) {
            const float *h = y[o];
            float *dst = out + o * n + done;
            for (int t = 0; t < b; t++) dst[t] = scale * h[t];
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

int namcheck_wavenet_abi(void) { return 4; }
int namcheck_wavenet_nb(void) { return NB; }
int namcheck_wavenet_vw(void) { return VW; }
