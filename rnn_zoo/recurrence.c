/* The LSTM layer's time loops on the CPU, one member after another (see rnn_zoo/native.py).
 *
 * Member-major, batch-major layouts, float32, gates in the order (i, f, o, g):
 *   x (n, t, b, i) with any strides but 1 for i; h0 and cells (n, b, h)
 *   inputs (n, t, b, k)  row j of step s: [h_{s-1}, x_s, 1], k = h + i + 1
 *   weights (n, g, k), weights_t (n, k, g) = its transpose
 *   gates (n, t, b, g); hiddens, to_cell, forget (n, t, b, h)
 * all contiguous but x. The arithmetic is that of the torch loops in rnn_zoo/recurrence.py.
 *
 * Why C: at zoo sizes (h = 32, b = 32) each torch op of a step works on a few kilobytes,
 * so its cost is dispatch and memory traffic. Here a member's weights stay in cache for all
 * its steps, a step's elementwise work is one pass, and every matmul is a register-blocked
 * sum of outer products whose operands are read in their stored order (no transposes).
 *
 * A member's numbers never depend on the other members: each member is its own loop, and
 * vector code treats every column alike wherever the data lies.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define LANES 16
typedef float vec __attribute__((vector_size(LANES * sizeof(float))));
typedef int ivec __attribute__((vector_size(LANES * sizeof(int))));

static inline vec load(const float *p) {
    vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store(float *p, vec v) { memcpy(p, &v, sizeof v); }

static inline vec splat(float x) { return (vec){0} + x; }

static inline vec blend(ivec mask, vec yes, vec no) { return (vec)((mask & (ivec)yes) | (~mask & (ivec)no)); }

static inline vec clamp(vec x, float low, float high) {
#if defined(__AVX512F__)
    return (vec)_mm512_min_ps(_mm512_max_ps((__m512)x, (__m512)splat(low)), (__m512)splat(high));
#else
    x = blend(x < low, splat(low), x);
    return blend(x > high, splat(high), x);
#endif
}

/* 1 / x: a 14-bit estimate and one Newton step where AVX-512 has one; a division elsewhere. */
static inline vec reciprocal(vec x) {
#if defined(__AVX512F__)
    vec r = (vec)_mm512_rcp14_ps((__m512)x);
    return r * (2.0f - x * r);
#else
    return 1.0f / x;
#endif
}

/* exp to about 2 ulp: 2^n p(r), x = n ln2 + r, |r| <= ln2 / 2 (Cephes' polynomial). */
static inline vec vexp(vec x) {
    x = clamp(x, -87.0f, 88.0f);
    vec n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    vec r = x - n * 0.693359375f - n * -2.12194440e-4f;
    vec p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    ivec bits = (__builtin_convertvector(n, ivec) + 127) << 23;
    return p * (vec)bits;
}

static inline vec vsigmoid(vec x) { return reciprocal(1.0f + vexp(-x)); }

/* tanh as x p(x^2) / q(x^2), a rational minimax fit on [-7.9, 7.9] (coefficients from Eigen's
 * float tanh), where float tanh is +-1 beyond; relative error a few ulp, down to 0. */
static inline vec vtanh(vec x) {
    x = clamp(x, -7.90531110763549805f, 7.90531110763549805f);
    vec z = x * x, p = splat(-2.76076847742355e-16f);
    p = p * z + 2.00018790482477e-13f;
    p = p * z + -8.60467152213735e-11f;
    p = p * z + 5.12229709037114e-08f;
    p = p * z + 1.48572235717979e-05f;
    p = p * z + 6.37261928875436e-04f;
    p = p * z + 4.89352455891786e-03f;
    vec q = splat(1.19825839466702e-06f);
    q = q * z + 1.18534705686654e-04f;
    q = q * z + 2.26843463243900e-03f;
    q = q * z + 4.89352518554385e-03f;
    return x * p * reciprocal(q);
}

/* Ask for count floats at p to be brought into cache: the backward reads what the forward
 * wrote long before, from memory, and waiting on it otherwise costs a fifth of its time. */
static inline void prefetch(const float *p, int count) {
    for (int at = 0; at < count; at += 64 / (int)sizeof(float))
        __builtin_prefetch(p + at);
}

/* The cell for LANES hidden units of one row; the gates are overwritten by what backprop
 * needs when to_cell is given (see _run in recurrence.py). */
static inline void cell_lanes(float *gate_i, float *gate_f, float *gate_o, float *gate_g, float *cell,
                              float *hidden, float *next, float *to_cell, float *forget) {
    vec i = vsigmoid(load(gate_i)), f = vsigmoid(load(gate_f));
    vec o = vsigmoid(load(gate_o)), g = vtanh(load(gate_g));
    vec c_prev = load(cell);
    vec i_g = i * g, f_c = f * c_prev;
    vec c = f_c + i_g, c_tanh = vtanh(c), h = o * c_tanh;
    store(cell, c);
    store(hidden, h);
    if (next)
        store(next, h);
    if (to_cell) {
        store(to_cell, o - h * c_tanh);
        store(gate_o, h - h * o);
        store(forget, f);
        store(gate_f, f_c - f_c * f);
        store(gate_g, i - i_g * g);
        store(gate_i, i_g - i_g * i);
    }
}

/* The cell for one row of h units; a partial last vector goes through a zero-padded copy. */
static void cell_row(int h, float *gate, float *cell, float *hidden, float *next, float *to_cell,
                     float *forget) {
    int e = 0;
    for (; e + LANES <= h; e += LANES)
        cell_lanes(gate + e, gate + h + e, gate + 2 * h + e, gate + 3 * h + e, cell + e, hidden + e,
                   next ? next + e : 0, to_cell ? to_cell + e : 0, to_cell ? forget + e : 0);
    int rest = h - e;
    if (rest == 0)
        return;
    float pad[9][LANES] = {{0}};
    float *parts[9] = {
        gate + e,   gate + h + e,        gate + 2 * h + e,          gate + 3 * h + e,        cell + e,
        hidden + e, next ? next + e : 0, to_cell ? to_cell + e : 0, to_cell ? forget + e : 0};
    for (int p = 0; p < 9; p++)
        if (parts[p])
            memcpy(pad[p], parts[p], rest * sizeof(float));
    cell_lanes(pad[0], pad[1], pad[2], pad[3], pad[4], pad[5], next ? pad[6] : 0, to_cell ? pad[7] : 0,
               to_cell ? pad[8] : 0);
    for (int p = 0; p < 9; p++)
        if (parts[p])
            memcpy(parts[p], pad[p], rest * sizeof(float));
}

/* c[r..r+rows) (+)= a[r..r+rows) @ b over one panel of 2 vectors of columns from col: the
 * block's rows x 2 vectors of c stay in registers for the whole sum, each step one broadcast
 * of a per row and two loads of b feeding 2 x rows fused multiply-adds. */
static inline __attribute__((always_inline)) void block(int rows, int r, int col, int kc, const float *a,
                                                        int lda, int a_t, const float *b, int ldb, float *c,
                                                        int ldc, int accumulate) {
    vec acc[8][2];
    for (int j = 0; j < rows; j++) {
        acc[j][0] = accumulate ? load(c + (r + j) * ldc + col) : splat(0.0f);
        acc[j][1] = accumulate ? load(c + (r + j) * ldc + col + LANES) : splat(0.0f);
    }
    for (int q = 0; q < kc; q++) {
        vec b0 = load(b + q * ldb + col), b1 = load(b + q * ldb + col + LANES);
        for (int j = 0; j < rows; j++) {
            float x = a_t ? a[q * lda + r + j] : a[(r + j) * lda + q];
            acc[j][0] += x * b0;
            acc[j][1] += x * b1;
        }
    }
    for (int j = 0; j < rows; j++) {
        store(c + (r + j) * ldc + col, acc[j][0]);
        store(c + (r + j) * ldc + col + LANES, acc[j][1]);
    }
}

/* c (m, nc) (+)= a (m, kc) @ b (kc, nc), row-major with the given row strides; with a_t, a is
 * read transposed (a[r][q] at a[q * lda + r]). Rows in blocks of 8, then 4, 2 and 1. */
static inline __attribute__((always_inline)) void matmul(int m, int nc, int kc, const float *a, int lda,
                                                         int a_t, const float *b, int ldb, float *c, int ldc,
                                                         int accumulate) {
    int col = 0;
    for (; col + 2 * LANES <= nc; col += 2 * LANES) {
        int r = 0;
        for (; r + 8 <= m; r += 8)
            block(8, r, col, kc, a, lda, a_t, b, ldb, c, ldc, accumulate);
        if (r + 4 <= m)
            block(4, r, col, kc, a, lda, a_t, b, ldb, c, ldc, accumulate), r += 4;
        if (r + 2 <= m)
            block(2, r, col, kc, a, lda, a_t, b, ldb, c, ldc, accumulate), r += 2;
        if (r < m)
            block(1, r, col, kc, a, lda, a_t, b, ldb, c, ldc, accumulate);
    }
    for (int r = 0; r < m; r++) /* columns left over: the same sums, one column at a time */
        for (int j = col; j < nc; j++) {
            float acc = accumulate ? c[r * ldc + j] : 0.0f;
            for (int q = 0; q < kc; q++)
                acc += (a_t ? a[q * lda + r] : a[r * lda + q]) * b[q * ldb + j];
            c[r * ldc + j] = acc;
        }
}

/* One call's sizes and tensors (see the layouts at the top); the members [first, last) are
 * one thread's share. */
struct layer {
    int t, n, h, i, b;
    const float *x;
    int64_t x_n, x_t, x_b;
    const float *h0, *weights, *weights_t, *local, *to_cell_in, *forget_in, *d_hiddens;
    float *inputs, *cells, *gates, *hiddens, *to_cell, *forget, *d_cells, *d_h0, *d_weights_t, *d_x;
};

struct share {
    const struct layer *layer;
    int first, last, status;
};

/* Forward over all steps of the share's members. Fills inputs (from x, h0 and the hidden
 * states), gates and hiddens; with to_cell (and forget) NULL nothing is kept for backprop and
 * gates is scratch. cells holds c_0 in and c_T out. */
static void *forward_share(void *arg) {
    struct share *share = arg;
    const struct layer *L = share->layer;
    int t = L->t, h = L->h, i = L->i, b = L->b, g = 4 * h, k = h + i + 1;
    for (int m = share->first; m < share->last; m++) {
        const float *w_t = L->weights_t + (size_t)m * k * g;
        for (int s = 0; s < t; s++) {
            size_t at = (size_t)m * t + s;
            float *gate = L->gates + at * b * g, *input = L->inputs + at * b * k;
            for (int j = 0; j < b; j++) {
                if (s == 0)
                    memcpy(input + j * k, L->h0 + ((size_t)m * b + j) * h, sizeof(float) * h);
                memcpy(input + j * k + h, L->x + m * L->x_n + s * L->x_t + j * L->x_b, sizeof(float) * i);
                input[j * k + h + i] = 1.0f;
            }
            matmul(b, g, k, input, k, 0, w_t, g, gate, g, 0); /* gates = [h, x, 1] @ w^T */
            for (int j = 0; j < b; j++) {
                size_t row = at * b + j;
                float *next = s + 1 < t ? L->inputs + (row + b) * k : 0;
                float *to_cell = L->to_cell ? L->to_cell + row * h : 0,
                      *forget = L->to_cell ? L->forget + row * h : 0;
                cell_row(h, gate + j * g, L->cells + ((size_t)m * b + j) * h, L->hiddens + row * h, next,
                         to_cell, forget);
            }
        }
    }
    return 0;
}

/* Step s's gate gradients (b, g) for the member at block `at` = m * t + s: i, f and g by
 * d cell, o by d hidden. d_c (b, h) holds d c_s before the decay of step s + 1 (its forget
 * gate; none at the last step) is applied, and d c_s after. Each row also asks for the
 * step before's rows, which the forward wrote long ago: they arrive while this one computes. */
static void gate_gradients(const struct layer *L, size_t at, int s, const float *d_hidden, float *d_c,
                           float *d_gate) {
    int t = L->t, h = L->h, b = L->b, g = 4 * h, k = h + L->i + 1, hb = h * b;
    const float *factor = L->local + at * b * g, *into = L->to_cell_in + at * hb;
    const float *keep = s + 1 < t ? L->forget_in + (at + 1) * hb : 0;
    for (int j = 0; j < b; j++) {
        if (s > 0) {
            size_t before = (at - 1) * b + j;
            prefetch(L->local + before * g, g);
            prefetch(L->to_cell_in + before * h, h);
            prefetch(L->forget_in + before * h, h);
            prefetch(L->d_hiddens + before * h, h);
            prefetch(L->inputs + before * k, k);
        }
        float *d_c_j = d_c + j * h, *d_gate_j = d_gate + j * g;
        const float *factor_j = factor + j * g, *d_h_j = d_hidden + j * h, *into_j = into + j * h;
        const float *keep_j = keep ? keep + j * h : 0;
        for (int e = 0; e < h; e++) {
            float d_c_e = (keep_j ? d_c_j[e] * keep_j[e] : d_c_j[e]) + d_h_j[e] * into_j[e];
            d_c_j[e] = d_c_e;
            d_gate_j[e] = factor_j[e] * d_c_e;
            d_gate_j[h + e] = factor_j[h + e] * d_c_e;
            d_gate_j[2 * h + e] = factor_j[2 * h + e] * d_h_j[e];
            d_gate_j[3 * h + e] = factor_j[3 * h + e] * d_c_e;
        }
    }
}

/* Backward through one step of member m: gate gradients, the weights' gradient, and the
 * gradients of the step's inputs: d h_{s-1} into d_hidden (plus what the layer above sends
 * for step s - 1), d x_s into d_x. d_in is scratch (b, rows). */
static void backward_step(const struct layer *L, int m, int s, float *d_c, float *d_hidden, float *d_gate,
                          float *d_in, float *d_w_t) {
    int t = L->t, h = L->h, i = L->i, b = L->b, g = 4 * h, k = h + i + 1, hb = h * b;
    int rows = L->d_x ? h + i : h;
    size_t at = (size_t)m * t + s;
    gate_gradients(L, at, s, d_hidden, d_c, d_gate);
    /* d w^T (k, g) (+)= [h, x, 1]^T (k, b) @ d gates (b, g) */
    matmul(k, g, b, L->inputs + at * b * k, k, 1, d_gate, g, d_w_t, g, s < t - 1);
    /* d [h_{s-1}, x_s] (b, rows) = d gates (b, g) @ w[:, :rows] (g, rows) */
    matmul(b, rows, g, d_gate, g, 0, L->weights + (size_t)m * g * k, k, d_in, rows, 0);
    const float *later = s > 0 ? L->d_hiddens + (at - 1) * hb : 0;
    for (int j = 0; j < b; j++) {
        float *d_h_j = d_hidden + j * h;
        const float *d_in_j = d_in + j * rows;
        if (later)
            for (int e = 0; e < h; e++)
                d_h_j[e] = d_in_j[e] + later[j * h + e];
        else
            memcpy(d_h_j, d_in_j, sizeof(float) * h);
        if (L->d_x)
            memcpy(L->d_x + (at * b + j) * i, d_in_j + h, sizeof(float) * i);
    }
}

/* Backward over all steps of the share's members, from the last step to the first.
 * d_cells (n, b, h) holds d c_T in and d c_0 out; d_h0 (n, b, h) out; d_weights_t (n, k, g)
 * out; d_x (n, t, b, i) out unless NULL. Sets status -1 without memory for scratch. */
static void *backward_share(void *arg) {
    struct share *share = arg;
    const struct layer *L = share->layer;
    int t = L->t, h = L->h, i = L->i, b = L->b, g = 4 * h, k = h + i + 1, hb = h * b;
    int rows = L->d_x ? h + i : h;
    float *scratch = malloc(sizeof(float) * ((size_t)b * g + (size_t)b * rows + (size_t)hb));
    if (!scratch) {
        share->status = -1;
        return 0;
    }
    float *d_gate = scratch, *d_in = d_gate + b * g, *d_hidden = d_in + b * rows;
    for (int m = share->first; m < share->last; m++) {
        float *d_c = L->d_cells + (size_t)m * hb, *d_w_t = L->d_weights_t + (size_t)m * k * g;
        memcpy(d_hidden, L->d_hiddens + ((size_t)m * t + t - 1) * hb, sizeof(float) * hb);
        for (int s = t - 1; s >= 0; s--)
            backward_step(L, m, s, d_c, d_hidden, d_gate, d_in, d_w_t);
        const float *keep = L->forget_in + (size_t)m * t * hb; /* step 0's decay */
        for (int e = 0; e < hb; e++)
            d_c[e] *= keep[e];
        memcpy(L->d_h0 + (size_t)m * hb, d_hidden, sizeof(float) * hb);
    }
    free(scratch);
    return 0;
}

/* Members split into `threads` contiguous shares, the first run by the calling thread. A
 * share whose thread cannot start runs in the calling thread too: the numbers are the same
 * either way, as no member's loop depends on another's. Returns 0, or the first share's
 * non-zero status. */
#define MAX_THREADS 256
static int run_shares(void *(*work)(void *), const struct layer *layer, int threads) {
    int count = threads < 1 ? 1 : threads > layer->n ? layer->n : threads;
    if (count > MAX_THREADS)
        count = MAX_THREADS;
    if (count < 1)
        return 0; /* no members */
    struct share shares[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int p = 0; p < count; p++)
        shares[p] = (struct share){layer, (int)((int64_t)layer->n * p / count),
                                   (int)((int64_t)layer->n * (p + 1) / count), 0};
    for (int p = 1; p < count; p++)
        started[p] = pthread_create(&ids[p], 0, work, &shares[p]) == 0;
    work(&shares[0]);
    for (int p = 1; p < count; p++) {
        if (started[p])
            pthread_join(ids[p], 0);
        else
            work(&shares[p]);
    }
    for (int p = 0; p < count; p++)
        if (shares[p].status)
            return shares[p].status;
    return 0;
}

/* c[p] = a[p] (m, kc) @ b[p] (kc, nc) for p < n, all contiguous: for the output layer's
 * backward, whose inner size (the outputs, 6 or 10) is too small for a BLAS to be quick. */
void batched_matmul(int n, int m, int nc, int kc, const float *a, const float *b, float *c) {
    for (int p = 0; p < n; p++)
        matmul(m, nc, kc, a + (size_t)p * m * kc, kc, 0, b + (size_t)p * kc * nc, nc, c + (size_t)p * m * nc,
               nc, 0);
}

/* The entry points (see rnn_zoo/native.py for their arguments). */
/* clang-format off */
int lstm_forward(int t, int n, int h, int i, int b, const float *x, int64_t x_n, int64_t x_t, int64_t x_b,
                 const float *h0, const float *weights_t, float *inputs, float *cells, float *gates,
                 float *hiddens, float *to_cell, float *forget, int threads) {
    struct layer layer = {.t = t, .n = n, .h = h, .i = i, .b = b, .x = x, .x_n = x_n, .x_t = x_t, .x_b = x_b,
                          .h0 = h0, .weights_t = weights_t, .inputs = inputs, .cells = cells, .gates = gates,
                          .hiddens = hiddens, .to_cell = to_cell, .forget = forget};
    return run_shares(forward_share, &layer, threads);
}

int lstm_backward(int t, int n, int h, int i, int b, const float *weights, float *inputs, const float *local,
                  const float *to_cell, const float *forget, const float *d_hiddens, float *d_cells,
                  float *d_h0, float *d_weights_t, float *d_x, int threads) {
    struct layer layer = {.t = t, .n = n, .h = h, .i = i, .b = b, .weights = weights, .inputs = inputs,
                          .local = local, .to_cell_in = to_cell, .forget_in = forget, .d_hiddens = d_hiddens,
                          .d_cells = d_cells, .d_h0 = d_h0, .d_weights_t = d_weights_t, .d_x = d_x};
    return run_shares(backward_share, &layer, threads);
}
/* clang-format on */
