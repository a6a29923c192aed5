/* namcheck fast LSTM engine: a second implementation of models/recurrent.py for CPU,
 * float32, checked against the float64 reference by tests/test_fast_lstm.py.
 *
 * Per sample and layer (NAM_FORMAT §5): g = W [x; h] + b; c = s(f) c + s(i) tanh(g_g);
 * h = s(o) tanh(c); after the last layer y = W_head h + b_head.
 *
 * The recurrence is latency-bound (each sample needs the previous h), so one sample's gate
 * vector is computed across all 4 gates and hidden units at once: the Python side packs W
 * column by column, each column as chunks of VW hidden units (H rounded up to hp, zero-
 * padded), each chunk as its four gate vectors (i, f, g, o), so column j of the matvec is
 * 4 hp / VW multiply-adds of a broadcast input (x_j or h_j) and the cell update needs no
 * shuffles (the gates of a hidden unit sit in the same lane of their vectors). The i, f, o rows (and biases) are
 * stored halved: scaling by 2^-1 is exact, so their pre-activations come out exactly
 * halved and sigmoid(v) = 1/2 + tanh(v/2)/2 takes one tanh of all four blocks. The input
 * columns are summed first (they do not wait for h), then the hidden columns in two
 * interleaved partial sums, which halves the dependency chain through h.
 *
 * Padded lanes hold 0 in every weight and bias, so their h and c stay 0 (NaN if an input is
 * infinite: 0 * inf); only lanes < H are ever broadcast or read by the head.
 *
 * Every sample's arithmetic is the same whatever the block boundaries: streaming equals
 * the offline forward bit for bit.
 */
#include "vecmath.h"

#define NB 256           /* head sub-block (samples) */
#define NBP (NB + VW)    /* row stride of the head's input: whole vectors past any n <= NB */
#define MAX_HIDDEN 1024  /* checked in Python (lstm.py) */
#define MAX_INPUT 64
#define CH 4             /* gate vectors per accumulator pass (2 partial sums each) */

typedef struct {
    int32_t nin, hidden, hp, nlayers, out_ch;  /* hp: hidden rounded up to VW */
    int32_t generic;     /* 1: always the general path (tests compare it with the others) */
    const float *w;      /* per layer: (I_l + H) columns of [hp / VW][i, f, g, o][VW] */
    const float *b;      /* per layer: [hp / VW][i, f, g, o][VW] */
    const float *whead;  /* out_ch x hidden */
    const float *bhead;  /* out_ch */
} LSTMModel;

typedef struct {
    float *h, *c;        /* nlayers x hp each: the state */
    float *hs;           /* hidden x NBP: the last layer's h per sample, for the head */
} LSTMState;

/* The gates of one chunk from its 4 accumulators (two partial sums each): the new c and h. */
static inline void gates(const vf a0[4], const vf a1[4], vf *c, vf *h) {
    /* i, f, o rows are stored halved: v/2 exactly, sigmoid(v) = 1/2 + tanh(v/2)/2 */
    vf si = 0.5f + 0.5f * tanh_r(a0[0] + a1[0]);
    vf sf = 0.5f + 0.5f * tanh_r(a0[1] + a1[1]);
    vf tg = tanh_r(a0[2] + a1[2]);
    vf so = 0.5f + 0.5f * tanh_r(a0[3] + a1[3]);
    *c = fmadd(sf, *c, si * tg);
    *h = so * tanh_r(*c);
}

/* One layer, one sample: u (ni scalars) in, h and c (hp lanes) updated in place. Chunk k of
 * VW hidden units takes one pass over the columns with 4 accumulators (its i, f, g, o
 * vectors, adjacent in each column) and two partial sums over the hidden columns; the new
 * h is written only after every chunk has read the old one. Q > 0: the number of chunks
 * known at compile time (registers, unrolled), Q = 0: q at run time. */
#define CELL(NAME, Q)                                                                     \
static inline void NAME(const float *W, const float *B, int ni, int H, int q,            \
                        const float *u, float *h, float *c) {                            \
    if (Q) q = Q;                                                                        \
    vf hn[Q ? Q : MAX_HIDDEN / VW];                                                      \
    const int stride = 4 * VW * q; /* floats per column */                               \
    for (int k = 0; k < q; k++) {                                                        \
        vf a0[4], a1[4];                                                                 \
        for (int v = 0; v < 4; v++) {                                                    \
            a0[v] = ld(B + (4 * k + v) * VW);                                            \
            a1[v] = splat(0.0f);                                                         \
        }                                                                                \
        const float *col = W + 4 * k * VW;                                               \
        for (int j = 0; j < ni; j++, col += stride) {                                    \
            vf x = splat(u[j]);                                                          \
            for (int v = 0; v < 4; v++) a0[v] = fmadd(ld(col + v * VW), x, a0[v]);       \
        }                                                                                \
        int j = 0;                                                                       \
        for (; j + 2 <= H; j += 2, col += 2 * stride) {                                  \
            vf x0 = splat(h[j]), x1 = splat(h[j + 1]);                                   \
            for (int v = 0; v < 4; v++) {                                                \
                a0[v] = fmadd(ld(col + v * VW), x0, a0[v]);                              \
                a1[v] = fmadd(ld(col + stride + v * VW), x1, a1[v]);                     \
            }                                                                            \
        }                                                                                \
        if (j < H) {                                                                     \
            vf x0 = splat(h[j]);                                                         \
            for (int v = 0; v < 4; v++) a0[v] = fmadd(ld(col + v * VW), x0, a0[v]);      \
        }                                                                                \
        vf cn = ld(c + k * VW);                                                          \
        gates(a0, a1, &cn, &hn[k]);                                                      \
        st(c + k * VW, cn);                                                              \
    }                                                                                    \
    for (int k = 0; k < q; k++) st(h + k * VW, hn[k]);                                   \
}
CELL(cell1, 1)
CELL(cell2, 2)
CELL(cell_any, 0)

static inline void cell(const float *W, const float *B, int ni, int H, int q, const float *u,
                        float *h, float *c) {
    if (q == 1) cell1(W, B, ni, H, q, u, h, c);
    else if (q == 2) cell2(W, B, ni, H, q, u, h, c);
    else cell_any(W, B, ni, H, q, u, h, c);
}

/* H <= VW (one chunk) and NL layers, both known at compile time: h and c of every layer stay
 * in registers from sample to sample, and h_j reaches the next sample's matvec by a
 * register permute. The same arithmetic as cell() (same order of terms and partial sums):
 * the two paths agree bit for bit (tests/test_fast_lstm.py runs both). */
#define RUN1(NAME, NL)                                                                     \
__attribute__((noinline)) static void NAME(const LSTMModel *m, LSTMState *s, const float *in, \
                                           int64_t stride, int64_t t0, int n) {             \
    const int H = m->hidden, nin = m->nin, stride_c = 4 * VW;                              \
    vf hv[NL], cv[NL];                                                                     \
    for (int l = 0; l < NL; l++) {                                                         \
        hv[l] = ld(s->h + l * VW);                                                         \
        cv[l] = ld(s->c + l * VW);                                                         \
    }                                                                                      \
    for (int t = 0; t < n; t++) {                                                          \
        const float *W = m->w, *B = m->b;                                                  \
        for (int l = 0; l < NL; l++) {                                                     \
            vf a0[4], a1[4];                                                               \
            for (int v = 0; v < 4; v++) {                                                  \
                a0[v] = ld(B + v * VW);                                                    \
                a1[v] = splat(0.0f);                                                       \
            }                                                                              \
            const float *col = W;                                                          \
            int ni = l ? H : nin;                                                          \
            for (int j = 0; j < ni; j++, col += stride_c) {                                \
                vf x = l ? lane(hv[l - 1], j) : splat(in[j * stride + t0 + t]);            \
                for (int v = 0; v < 4; v++) a0[v] = fmadd(ld(col + v * VW), x, a0[v]);    \
            }                                                                              \
            int j = 0;                                                                     \
            for (; j + 2 <= H; j += 2, col += 2 * stride_c) {                              \
                vf x0 = lane(hv[l], j), x1 = lane(hv[l], j + 1);                           \
                for (int v = 0; v < 4; v++) {                                              \
                    a0[v] = fmadd(ld(col + v * VW), x0, a0[v]);                            \
                    a1[v] = fmadd(ld(col + stride_c + v * VW), x1, a1[v]);                 \
                }                                                                          \
            }                                                                              \
            if (j < H) {                                                                   \
                vf x0 = lane(hv[l], j);                                                    \
                for (int v = 0; v < 4; v++) a0[v] = fmadd(ld(col + v * VW), x0, a0[v]);    \
            }                                                                              \
            gates(a0, a1, &cv[l], &hv[l]);                                                 \
            W += (int64_t)(ni + H) * stride_c;                                             \
            B += stride_c;                                                                 \
        }                                                                                  \
        for (int j = 0; j < H; j++) s->hs[j * NBP + t] = hv[NL - 1][j];                    \
    }                                                                                      \
    for (int l = 0; l < NL; l++) {                                                         \
        st(s->h + l * VW, hv[l]);                                                          \
        st(s->c + l * VW, cv[l]);                                                          \
    }                                                                                      \
}
RUN1(run1_l1, 1)
RUN1(run1_l2, 2)
RUN1(run1_l3, 3)

/* One copy of each (noinline): the same instructions, hence the same rounding, for every
 * call, whatever the caller. */
__attribute__((noinline)) static void run_any(const LSTMModel *m, LSTMState *s,
                                             const float *in, int64_t stride, int64_t t0,
                                             int n) {
    const int H = m->hidden, hp = m->hp;
    for (int t = 0; t < n; t++) {
        float u[MAX_INPUT];
        for (int i = 0; i < m->nin; i++) u[i] = in[i * stride + t0 + t];
        const float *W = m->w, *B = m->b;
        const float *x = u;
        int ni = m->nin;
        for (int l = 0; l < m->nlayers; l++) {
            float *h = s->h + l * hp;
            cell(W, B, ni, H, hp / VW, x, h, s->c + l * hp);
            W += (int64_t)(ni + H) * 4 * hp;
            B += 4 * hp;
            x = h;
            ni = H;
        }
        const float *hl = s->h + (m->nlayers - 1) * hp;
        for (int j = 0; j < H; j++) s->hs[j * NBP + t] = hl[j];
    }
}

/* Samples t0 .. t0 + n - 1 of the input rows (row stride `stride`), n <= NB: the state
 * advanced, the last layer's h kept in hs for the head. */
static void run_samples(const LSTMModel *m, LSTMState *s, const float *in, int64_t stride,
                        int64_t t0, int n) {
    if (m->hp == VW && !m->generic) {
        switch (m->nlayers) {
        case 1: run1_l1(m, s, in, stride, t0, n); return;
        case 2: run1_l2(m, s, in, stride, t0, n); return;
        case 3: run1_l3(m, s, in, stride, t0, n); return;
        }
    }
    run_any(m, s, in, stride, t0, n);
}

/* y[o][t] = b_head[o] + sum_j W_head[o][j] hs[j][t], summed in order of j; always whole
 * vectors (a last partial one through a copy), so a sample's arithmetic never depends on
 * where it falls in a block. */
__attribute__((noinline)) static void head(const LSTMModel *m, const LSTMState *s, float *out,
                                           int64_t stride, int64_t t0, int n) {
    for (int o = 0; o < m->out_ch; o++) {
        const float *w = m->whead + o * m->hidden;
        float *y = out + o * stride + t0;
        for (int t = 0; t < n; t += VW) {
            vf acc = splat(m->bhead[o]);
            for (int j = 0; j < m->hidden; j++) acc = fmadd(splat(w[j]), ld(s->hs + j * NBP + t), acc);
            if (t + VW <= n) {
                st(y + t, acc);
            } else {
                float tmp[VW];
                st(tmp, acc);
                memcpy(y + t, tmp, sizeof(float) * (n - t));
            }
        }
    }
}

/* Process n samples: in is nin rows of n, out is out_ch rows of n (NULL: state only). */
int namcheck_lstm_process(const LSTMModel *m, LSTMState *s, const float *in, float *out,
                          int64_t n) {
    for (int64_t done = 0; done < n;) {
        int b = (int)(n - done < NB ? n - done : NB);
        run_samples(m, s, in, n, done, b);
        if (out) head(m, s, out, n, done, b);
        done += b;
    }
    return 0;
}

/* n zeros through the model (the runtime's prewarm), state only. */
int namcheck_lstm_zeros(const LSTMModel *m, LSTMState *s, int64_t n) {
    float zeros[MAX_INPUT * NB];
    memset(zeros, 0, sizeof(float) * m->nin * NB);
    for (int64_t done = 0; done < n;) {
        int b = (int)(n - done < NB ? n - done : NB);
        /* rows of stride NB: every row reads zeros */
        run_samples(m, s, zeros, NB, 0, b);
        done += b;
    }
    return 0;
}

int namcheck_lstm_abi(void) { return 1; }
int namcheck_lstm_vw(void) { return VW; }
int namcheck_lstm_nb(void) { return NB; }
