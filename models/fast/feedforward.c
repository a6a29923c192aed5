/* namcheck fast Linear and ConvNet engines: second implementations of
 * models/feedforward.py for CPU, float32, checked against the float64 reference by
 * tests/test_fast_feedforward.py.
 *
 * Layout as in wavenet.c: each signal is channel-major (one contiguous row per channel);
 * every conv input keeps its own history (the last ctx samples) in a linear buffer that is
 * rewound (history moved to the front) when full, so a block of n samples costs n samples
 * of work. Blocks run in sub-blocks of at most NB samples, always in whole vectors of VW
 * samples: lanes past the block only read and write the slack past each buffer row (lane t
 * reads times <= t), never stored out. Every sample's arithmetic is the same whatever the
 * block boundaries, so streaming equals the offline forward bit for bit.
 *
 * Linear (NAM_FORMAT §6.1): y[t] = bias + sum_i h[i] x[t - i]; the taps are stored oldest
 * first (hr[k] = h[R-1-k]) and summed in that order, PV vectors of samples per pass.
 * ConvNet (§6.2): blocks of conv(K = 2, dilation d, groups) -> batchnorm -> activation, then
 * a 1x1 head. Batchnorm is folded by the Python side into the conv's weights and bias
 * (w' = scale w, b' = shift, in float64, rounded once).
 */
#include "vecmath.h"

#define NB 256           /* sub-block (samples) */
#define NBP (NB + VW)    /* scratch row stride */
#define MAX_ROWS 1024    /* conv input or output rows (checked in feedforward.py) */
#define PV 4             /* vectors of samples per pass */

typedef struct {
    float *data;         /* rows x len, row-major */
    int32_t rows, len, ctx, pos;
} FBuf;

/* Make room for n more samples at pos (moving the history to the front when full). */
static void reserve(FBuf *b, int n) {
    if (b->pos + n + VW <= b->len) return;
    for (int r = 0; r < b->rows; r++) {
        float *row = b->data + (int64_t)r * b->len;
        memmove(row, row + b->pos - b->ctx, sizeof(float) * b->ctx);
    }
    b->pos = b->ctx;
}

static inline float *at(const FBuf *b, int row) {
    return b->data + (int64_t)row * b->len + b->pos;
}

/* out[0..n) from whole vectors v[0..ceil(n/VW)) */
static inline void store_n(float *out, const float *v, int n) { memcpy(out, v, sizeof(float) * n); }

/* ---- Linear ------------------------------------------------------------------------- */
typedef struct {
    int32_t taps;
    float bias;
    const float *hr;     /* taps, oldest first: hr[k] multiplies x[t - (taps-1) + k] */
} LinearModel;

typedef struct {
    FBuf x;              /* one row, ctx = taps - 1 */
    float *y;            /* NBP scratch */
} LinearState;

__attribute__((noinline)) static void fir(const LinearModel *m, const float *x, float *y,
                                          int nv) {
    const int R = m->taps;
    const float *x0 = x - (R - 1);
    int t = 0;
    for (; t + PV * VW <= nv; t += PV * VW) {
        vf a[PV];
        for (int v = 0; v < PV; v++) a[v] = splat(m->bias);
        for (int k = 0; k < R; k++) {
            vf w = splat(m->hr[k]);
            for (int v = 0; v < PV; v++) a[v] = fmadd(w, ld(x0 + t + v * VW + k), a[v]);
        }
        for (int v = 0; v < PV; v++) st(y + t + v * VW, a[v]);
    }
    for (; t < nv; t += VW) {
        vf a = splat(m->bias);
        for (int k = 0; k < R; k++) a = fmadd(splat(m->hr[k]), ld(x0 + t + k), a);
        st(y + t, a);
    }
}

int namcheck_linear_process(const LinearModel *m, LinearState *s, const float *in, float *out,
                            int64_t n) {
    for (int64_t done = 0; done < n;) {
        int b = (int)(n - done < NB ? n - done : NB);
        int nv = (b + VW - 1) / VW * VW;
        reserve(&s->x, nv);
        float *x = at(&s->x, 0);
        memcpy(x, in + done, sizeof(float) * b);
        fir(m, x, s->y, nv);
        store_n(out + done, s->y, b);
        s->x.pos += b;
        done += b;
    }
    return 0;
}

/* ---- ConvNet ------------------------------------------------------------------------ */
typedef struct {
    int32_t cin, cout, groups, d;
    Act act;
    const float *w;      /* per group: [ceil(cog/8)][2 cig][8], tap j = k cig + i (k = 0: t - d) */
    const float *b;      /* cout (+ padding): conv bias, or the folded batchnorm shift */
} CBlock;

typedef struct {
    int32_t nblocks, in_ch, out_ch, channels;
    const CBlock *blocks;
    const float *whead;  /* [ceil(out_ch/8)][channels][8] */
    const float *bhead;  /* out_ch (+ padding) */
} ConvNetModel;

typedef struct {
    FBuf *in;            /* one per block: its input rows with ctx = d */
    float *v;            /* channels x NBP: the last block's output */
    float *y;            /* out_ch x NBP: the head's output */
} ConvNetState;

#define PR 4             /* rows per pass: PR x 2 accumulators */

/* out rows (nout, in tiles of 8) = act(W @ rows + bias), nv lanes; rows[j] + t are the
 * inputs of tap j at lane t. Each output row sums its taps in order j = 0, 1, .... */
__attribute__((noinline)) static void tiles(const float *W, const float *bias, int nout,
                                            int kin, const float *const *rows,
                                            const Act *act, int row0, float *const *out,
                                            int nv) {
    for (int tile = 0; tile * 8 < nout; tile++) {
        const float *Wt = W + (int64_t)tile * kin * 8;
        for (int r0 = 0; r0 < 8 && tile * 8 + r0 < nout; r0 += PR) {
            int base = tile * 8 + r0;
            for (int t = 0; t < nv; t += 2 * VW) {
                int two = t + VW < nv;  /* a second vector of samples in this pass */
                vf a0[PR], a1[PR];
                for (int o = 0; o < PR; o++) a0[o] = a1[o] = splat(bias[base + o]);
                for (int j = 0; j < kin; j++) {
                    const float *r = rows[j] + t;
                    vf x0 = ld(r), x1 = two ? ld(r + VW) : splat(0.0f);
                    const float *w = Wt + 8 * j + r0;
                    for (int o = 0; o < PR; o++) {
                        vf wo = splat(w[o]);
                        a0[o] = fmadd(wo, x0, a0[o]);
                        a1[o] = fmadd(wo, x1, a1[o]);
                    }
                }
                for (int o = 0; o < PR && base + o < nout; o++) {
                    int row = row0 + base + o;
                    st(out[base + o] + t, act ? activate(act, row, a0[o]) : a0[o]);
                    if (two) st(out[base + o] + t + VW, act ? activate(act, row, a1[o]) : a1[o]);
                }
            }
        }
    }
}

static void conv_block(const CBlock *B, FBuf *in, float *const *out, int nv) {
    const float *rows[2 * MAX_ROWS];
    int cig = B->cin / B->groups, cog = B->cout / B->groups;
    int64_t per_group = (int64_t)((cog + 7) / 8) * 8 * 2 * cig;
    for (int g = 0; g < B->groups; g++) {
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < cig; i++) rows[k * cig + i] = at(in, g * cig + i) - (1 - k) * B->d;
        tiles(B->w + g * per_group, B->b + g * cog, cog, 2 * cig, rows, &B->act, g * cog,
              out + g * cog, nv);
    }
}

int namcheck_convnet_process(const ConvNetModel *m, ConvNetState *s, const float *in,
                             float *out, int64_t n) {
    float *orows[MAX_ROWS];
    for (int64_t done = 0; done < n;) {
        int b = (int)(n - done < NB ? n - done : NB);
        int nv = (b + VW - 1) / VW * VW;
        FBuf *first = s->in;
        reserve(first, nv);
        for (int i = 0; i < m->in_ch; i++) memcpy(at(first, i), in + i * n + done, sizeof(float) * b);
        for (int l = 0; l < m->nblocks; l++) {
            const CBlock *B = m->blocks + l;
            FBuf *next = l + 1 < m->nblocks ? s->in + l + 1 : NULL;
            if (next) reserve(next, nv);
            for (int c = 0; c < B->cout; c++) orows[c] = next ? at(next, c) : s->v + c * NBP;
            conv_block(B, s->in + l, orows, nv);
            s->in[l].pos += b;
        }
        const float *vrows[MAX_ROWS];
        for (int c = 0; c < m->channels; c++) vrows[c] = s->v + c * NBP;
        for (int o = 0; o < m->out_ch; o++) orows[o] = s->y + o * NBP;
        tiles(m->whead, m->bhead, m->out_ch, m->channels, vrows, NULL, 0, orows, nv);
        for (int o = 0; o < m->out_ch; o++) store_n(out + o * n + done, s->y + o * NBP, b);
        done += b;
    }
    return 0;
}

/* One activation over n values (tests prove this copy's approximation bounds with it). */
void namcheck_ff_activation(const Act *a, int row, const float *x, float *y, int64_t n) {
    int64_t t = 0;
    for (; t + VW <= n; t += VW) st(y + t, activate(a, row, ld(x + t)));
    if (t < n) {
        float tmp[VW] = {0};
        memcpy(tmp, x + t, sizeof(float) * (n - t));
        st(tmp, activate(a, row, ld(tmp)));
        memcpy(y + t, tmp, sizeof(float) * (n - t));
    }
}

int namcheck_feedforward_abi(void) { return 1; }
int namcheck_feedforward_nb(void) { return NB; }
int namcheck_feedforward_vw(void) { return VW; }
