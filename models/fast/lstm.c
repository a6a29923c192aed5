/* namcheck fast LSTM engine: a second implementation of models/recurrent.py for CPU,
 * float32, checked against the float64 reference by tests/test_fast_lstm.py.
 *
 * Per sample and layer (NAM_FORMAT §5): g = W [x; h] + b; c = s(f) c + s(i) tanh(g_g);
 * h = s(o) tanh(c); after the last layer y = W_head h + b_head.
 *
 * The recurrence is latency-bound (each sample needs the previous h), so one sample's gate
 * vector is computed across all 4 gates and hidden units at once: the Python side packs W
 * column by column, each column as four gate blocks (i, f, g, o) of Hp lanes (H rounded up
 * to the vector width, zero-padded), so column j of the matvec is 4 Hp / VW multiply-adds
 * of a broadcast input (x_j or h_j) and the cell update needs no shuffles (the gates of a
 * hidden unit sit in the same lane of their blocks). The i, f, o rows (and biases) are
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
    const float *w;      /* per layer: (I_l + H) columns of 4 hp floats (i, f, g, o) */
    const float *b;      /* per layer: 4 hp */
    const float *whead;  /* out_ch x hidden */
    const float *bhead;  /* out_ch */
} LSTMModel;

typedef struct {
    float *h, *c;        /* nlayers x hp each: the state */
    float *hs;           /* hidden x NBP: the last layer's h per sample, for the head */
} LSTMState;

/* One layer, one sample: u (ni scalars) in, h and c (hp lanes) updated in place. */
static inline void cell(const float *W, const float *B, int ni, int H, int hp,
                        const float *u, float *h, float *c) {
    const int nv = 4 * hp / VW, q = hp / VW;
    vf g[4 * MAX_HIDDEN / VW];
    for (int v0 = 0; v0 < nv; v0 += CH) {
        int m = nv - v0 < CH ? nv - v0 : CH;
        vf a0[CH], a1[CH];
        for (int v = 0; v < m; v++) {
            a0[v] = ld(B + (v0 + v) * VW);
            a1[v] = splat(0.0f);
        }
        const float *col = W + v0 * VW;
        for (int j = 0; j < ni; j++, col += 4 * hp) {
            vf x = splat(u[j]);
            for (int v = 0; v < m; v++) a0[v] = fmadd(ld(col + v * VW), x, a0[v]);
        }
        int j = 0;
        for (; j + 2 <= H; j += 2, col += 8 * hp) {
            vf x0 = splat(h[j]), x1 = splat(h[j + 1]);
            for (int v = 0; v < m; v++) {
                a0[v] = fmadd(ld(col + v * VW), x0, a0[v]);
                a1[v] = fmadd(ld(col + 4 * hp + v * VW), x1, a1[v]);
            }
        }
        if (j < H) {
            vf x0 = splat(h[j]);
            for (int v = 0; v < m; v++) a0[v] = fmadd(ld(col + v * VW), x0, a0[v]);
        }
        for (int v = 0; v < m; v++) g[v0 + v] = a0[v] + a1[v];
    }
    for (int k = 0; k < q; k++) {
        vf si = 0.5f + 0.5f * tanh_r(g[k]);          /* rows stored halved: exact v/2 */
        vf sf = 0.5f + 0.5f * tanh_r(g[q + k]);
        vf tg = tanh_r(g[2 * q + k]);
        vf so = 0.5f + 0.5f * tanh_r(g[3 * q + k]);
        vf cn = sf * ld(c + k * VW) + si * tg;
        st(c + k * VW, cn);
        st(h + k * VW, so * tanh_r(cn));
    }
}

/* One copy of each (noinline): the same instructions, hence the same rounding, for every
 * call, whatever the caller. */
__attribute__((noinline)) static void run_samples(const LSTMModel *m, LSTMState *s, const float *in, int64_t stride,
                        int64_t t0, int n) {
    const int H = m->hidden, hp = m->hp;
    for (int t = 0; t < n; t++) {
        float u[MAX_INPUT];
        for (int i = 0; i < m->nin; i++) u[i] = in[i * stride + t0 + t];
        const float *W = m->w, *B = m->b;
        const float *x = u;
        int ni = m->nin;
        for (int l = 0; l < m->nlayers; l++) {
            float *h = s->h + l * hp;
            cell(W, B, ni, H, hp, x, h, s->c + l * hp);
            W += (int64_t)(ni + H) * 4 * hp;
            B += 4 * hp;
            x = h;
            ni = H;
        }
        const float *hl = s->h + (m->nlayers - 1) * hp;
        for (int j = 0; j < H; j++) s->hs[j * NBP + t] = hl[j];
    }
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

/* Kernel-only timing aid: x through the model in consecutive blocks of `block` samples,
 * one namcheck_lstm_process call each, as a C host calling the kernel would (out gets the
 * same output as one call; a single input and output row). */
int namcheck_lstm_blocks(const LSTMModel *m, LSTMState *s, const float *in, float *out,
                         int64_t n, int64_t block) {
    for (int64_t t = 0; t < n; t += block) {
        int64_t b = n - t < block ? n - t : block;
        namcheck_lstm_process(m, s, in + t, out + t, b);
    }
    return 0;
}

int namcheck_lstm_abi(void) { return 1; }
int namcheck_lstm_vw(void) { return VW; }
int namcheck_lstm_nb(void) { return NB; }
