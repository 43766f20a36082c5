/* conv_spike.c — spike-driven convolution on the host (conv_spike.h) and on OpenCL devices
 * (cl/conv_spike.cl).
 *
 * Host forward: output-stationary. For each output pixel and block of up to 64 output channels,
 * the sums live in vector registers; every kernel tap reads its input pixel's channel bitmask,
 * and each channel that fired adds its weight row (the weights as [KH, KW, C, M], M padded to
 * 16) to them: one load and one add per 16 floats, no multiply, nothing written until the
 * pixel is done. Rows of outputs are split over the threads.
 * Host weight gradient: per sample (its output gradient, channels-last, stays in cache), per
 * input channel, tap and block of output channels, the gradients at the outputs that channel's
 * spikes reach are summed in registers and added to the weight gradient. Threads own input
 * channels and take the samples in order.
 * Every sum runs in a fixed order that depends neither on the thread count nor on the vector
 * width, so the results are bit-identical across runs, threads and CPUs; they equal the dense
 * convolution's up to float summation order. */
#include "ops/conv_spike.h"

#include <stdlib.h>
#include <string.h>

#include "ops/host.h"
#include "runtime/cl.h"
#include "runtime/program.h"

/* Several code paths per CPU (AVX-512, AVX2, baseline), picked at load time: the passes are
 * vector adds that the baseline x86-64 build would do 4 floats at a time. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones) && defined(__gnu_linux__)
#define SPIKE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef SPIKE_CLONES
#define SPIKE_CLONES
#endif

/* 16 floats; the compiler maps it on whatever vector registers the clone has (GCC's note that
 * passing it by value depends on AVX-512 concerns only these static, inlined helpers). */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16 __attribute__((vector_size(64)));
#define VEC 16
#define BLOCK 4 /* vectors of output channels summed at once (64 floats) */

static inline v16 load16(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store16(float *p, v16 v)
{
    memcpy(p, &v, sizeof v);
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* n floats on a cache line's boundary (rows of mp floats then never straddle two lines),
 * zeroed; NULL when out of memory. */
static float *lines(size_t n)
{
    size_t bytes = round_up(n ? n * sizeof(float) : 64, 64);
    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void sakd_spike_set_free(sakd_spike_set *s)
{
    free(s->mask);
    free(s->pos);
    free(s->chan);
    memset(s, 0, sizeof *s);
}

size_t sakd_spike_set_bytes(const sakd_spike_set *s)
{
    return s->cap_mask * sizeof *s->mask + s->cap_pos * sizeof *s->pos +
           s->cap_chan * sizeof *s->chan;
}

/* *p holds at least `want` elements of `size` bytes (capacity *cap), contents not kept. */
static int reserve(void **p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap && *p)
        return 1;
    size_t n = want > 2 * *cap ? want : 2 * *cap;
    void *q = malloc((n ? n : 1) * size);
    if (!q)
        return 0;
    free(*p);
    *p = q;
    *cap = n;
    return 1;
}

typedef struct build_job {
    sakd_spike_set *s;
    const float *x;
    float value;  /* the spikes' value */
    size_t *bad;  /* per thread: the first non-spike's flat index + 1, 0 none */
    int nt, pass; /* pass 0: masks and counts; 1: positions */
} build_job;

static void build_part(void *arg, int t)
{
    build_job *j = arg;
    sakd_spike_set *s = j->s;
    size_t lo, hi, hw = s->h * s->w, words = s->words;
    sakd_host_range(s->n, t, j->nt, &lo, &hi);
    for (size_t n = lo; n < hi; n++) {
        if (j->pass == 0)
            memset(s->mask + n * hw * words, 0, hw * words * sizeof *s->mask);
        for (size_t c = 0; c < s->c; c++) {
            const float *xc = j->x + (n * s->c + c) * hw;
            if (j->pass == 0) {
                uint64_t *mask = s->mask + n * hw * words + c / 64;
                unsigned shift = (unsigned)(c % 64);
                size_t count = 0, odd = 0;
                for (size_t e = 0; e < hw; e++) { /* no branch on the data: spikes are random */
                    uint64_t on = xc[e] != 0.0f;
                    odd |= (size_t)(on & (xc[e] != j->value));
                    mask[e * words] |= on << shift;
                    count += on;
                }
                if (odd && !j->bad[t])
                    for (size_t e = 0; e < hw && !j->bad[t]; e++)
                        if (xc[e] != 0.0f && xc[e] != j->value)
                            j->bad[t] = (n * s->c + c) * hw + e + 1;
                s->chan[n * s->c + c + 1] = count;
            } else {
                uint32_t *pos = s->pos + s->chan[n * s->c + c];
                size_t k = 0, last = s->chan[n * s->c + c + 1] - s->chan[n * s->c + c];
                /* Written always, kept when it fired; never past the channel's last spike,
                 * where the next channel's (maybe another thread's) begin. */
                for (size_t h = 0; h < s->h && k < last; h++)
                    for (size_t w = 0; w < s->w && k < last; w++) {
                        pos[k] = (uint32_t)(h << 16 | w);
                        k += xc[h * s->w + w] != 0.0f;
                    }
            }
        }
    }
}

sakd_status sakd_spike_set_build(sakd_spike_set *s, const float *x, float value, size_t n, size_t c,
                                 size_t h, size_t w, int threads)
{
    if (h > UINT16_MAX || w > UINT16_MAX || !c)
        return sakd_error(SAKD_ERR_ARG,
                          "spike set: [%zu, %zu, %zu] per sample exceeds the index types", c, h, w);
    size_t words = (c + 63) / 64, pixels = n * h * w;
    if (!reserve((void **)&s->mask, &s->cap_mask, pixels * words, sizeof *s->mask) ||
        !reserve((void **)&s->chan, &s->cap_chan, n * c + 1, sizeof *s->chan))
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike set ([%zu, %zu, %zu, %zu])", n,
                          c, h, w);
    *s = (sakd_spike_set){s->mask, s->pos, s->chan, n,           c,          h,
                          w,       words,  0,       s->cap_mask, s->cap_pos, s->cap_chan};
    int nt = threads > 0 ? threads : sakd_host_threads();
    size_t bad[64] = {0};
    if (nt > 64)
        nt = 64;
    build_job j = {s, x, value, bad, nt, 0};
    sakd_host_parallel(nt, build_part, &j);
    for (int t = 0; t < nt; t++)
        if (bad[t]) {
            size_t e = bad[t] - 1, hw = h * w;
            return sakd_error(
                SAKD_ERR_ARG, "spike set: input [%zu, %zu, %zu, %zu] is %g, not a spike (0 or %g)",
                e / (c * hw), e / hw % c, e % hw / w, e % w, (double)x[e], (double)value);
        }
    s->chan[0] = 0;
    for (size_t i = 1; i <= n * c; i++)
        s->chan[i] += s->chan[i - 1];
    s->active = s->chan[n * c];
    if (!reserve((void **)&s->pos, &s->cap_pos, s->active, sizeof *s->pos))
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike set (%zu spikes)", s->active);
    j.pass = 1;
    sakd_host_parallel(nt, build_part, &j);
    return SAKD_OK;
}

SPIKE_CLONES size_t sakd_spike_count(const float *x, size_t n, size_t stop_at)
{
    size_t fired = 0;
    for (size_t i = 0; i < n;) {
        /* Blocks of 4096: a 32-bit count the compiler vectorizes, and an early end. */
        size_t end = n - i > 4096 ? i + 4096 : n;
        uint32_t k = 0;
        for (size_t j = i; j < end; j++)
            k += x[j] != 0.0f;
        fired += k;
        i = end;
        if (fired >= stop_at)
            break;
    }
    return fired;
}

/* For each kernel tap j along an axis and input coordinate i: the output coordinate it reaches,
 * (i + pad − j)/stride when that is whole and in [0, n_out), else −1: map[j·in + i]. */
static int32_t *axis_map(size_t in, size_t k, size_t stride, size_t pad, size_t n_out)
{
    size_t count = k * in > 0 ? k * in : 1;
    int32_t *map = malloc(count * sizeof *map);
    if (!map)
        return NULL;
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < in; i++) {
            size_t o = (i + pad - j) / stride;
            map[j * in + i] =
                i + pad >= j && (i + pad - j) % stride == 0 && o < n_out ? (int32_t)o : -1;
        }
    return map;
}

/* What both passes share. */
typedef struct spike_job {
    const sakd_spike_conv_shape *s;
    const sakd_spike_set *x;
    size_t mp; /* M rounded up to VEC */
    int nt;
    float *wt;         /* forward: weights [KH, KW, C, mp]; gradient: its sums, the same layout */
    const float *bias; /* forward: [M] or NULL */
    float *bias_p;     /* forward: bias padded to mp */
    float *out;        /* forward: [N, M, Ho, Wo] */
    float *rows;       /* forward: per thread, one output row channels-last [Wo, mp] */
    const float *gy;   /* gradient: [N, M, Ho, Wo] */
    float *gyt;        /* gradient: [N, Ho·Wo, mp] */
    int32_t *rmap, *cmap; /* gradient: axis_map of rows and columns */
} spike_job;

/* The sums of NV vectors of output channels at one output pixel: the bias, then every tap's
 * active channels' weight rows. */
#define GATHER(NV)                                                                                 \
    static void gather##NV(const spike_job *j, size_t n, size_t ho, size_t wo, size_t m0,          \
                           float *dst)                                                             \
    {                                                                                              \
        const sakd_spike_conv_shape *s = j->s;                                                     \
        const sakd_spike_set *x = j->x;                                                            \
        v16 acc[NV], alt[NV]; /* two sets of sums, alternate spikes: shorter dependency chains */  \
        for (int v = 0; v < NV; v++) {                                                             \
            acc[v] = load16(j->bias_p + m0 + (size_t)v * VEC);                                     \
            alt[v] = (v16){0};                                                                     \
        }                                                                                          \
        for (size_t kh = 0; kh < s->kh; kh++) {                                                    \
            size_t h = ho * s->stride_h + kh;                                                      \
            if (h < s->pad_h || h - s->pad_h >= s->h)                                              \
                continue;                                                                          \
            h -= s->pad_h;                                                                         \
            for (size_t kw = 0; kw < s->kw; kw++) {                                                \
                size_t w = wo * s->stride_w + kw;                                                  \
                if (w < s->pad_w || w - s->pad_w >= s->w)                                          \
                    continue;                                                                      \
                w -= s->pad_w;                                                                     \
                const uint64_t *mask = x->mask + ((n * s->h + h) * s->w + w) * x->words;           \
                const float *tap = j->wt + (kh * s->kw + kw) * s->c * j->mp + m0;                  \
                for (size_t q = 0; q < x->words; q++) {                                            \
                    const float *base = tap + q * 64 * j->mp;                                      \
                    for (uint64_t bits = mask[q]; bits;) {                                         \
                        const float *r0 = base + (size_t)__builtin_ctzll(bits) * j->mp;            \
                        bits &= bits - 1;                                                          \
                        for (int v = 0; v < NV; v++)                                               \
                            acc[v] += load16(r0 + (size_t)v * VEC);                                \
                        if (!bits)                                                                 \
                            break;                                                                 \
                        const float *r1 = base + (size_t)__builtin_ctzll(bits) * j->mp;            \
                        bits &= bits - 1;                                                          \
                        for (int v = 0; v < NV; v++)                                               \
                            alt[v] += load16(r1 + (size_t)v * VEC);                                \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int v = 0; v < NV; v++)                                                               \
            store16(dst + (size_t)v * VEC, acc[v] + alt[v]);                                       \
    }

SPIKE_CLONES GATHER(1) SPIKE_CLONES GATHER(2) SPIKE_CLONES GATHER(3) SPIKE_CLONES GATHER(4)

    /* The vectors of output channels from m0 summed at once: up to BLOCK. */
    static size_t vectors_at(size_t mp, size_t m0)
{
    return (mp - m0) / VEC < BLOCK ? (mp - m0) / VEC : BLOCK;
}

/* gatherNV for the nv vectors from m0. */
static void gather(const spike_job *j, size_t nv, size_t n, size_t ho, size_t wo, size_t m0,
                   float *dst)
{
    switch (nv) {
    case 1: gather1(j, n, ho, wo, m0, dst); break;
    case 2: gather2(j, n, ho, wo, m0, dst); break;
    case 3: gather3(j, n, ho, wo, m0, dst); break;
    default: gather4(j, n, ho, wo, m0, dst); break;
    }
}

static void forward_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t lo, hi, P = s->ho * s->wo, mp = j->mp;
    float *row = j->rows + (size_t)t * s->wo * mp;
    sakd_host_range(s->n * s->ho, t, j->nt, &lo, &hi);
    for (size_t r = lo; r < hi; r++) {
        size_t n = r / s->ho, ho = r % s->ho;
        for (size_t m0 = 0; m0 < mp; m0 += BLOCK * VEC) {
            size_t nv = vectors_at(mp, m0);
            for (size_t wo = 0; wo < s->wo; wo++)
                gather(j, nv, n, ho, wo, m0, row + wo * mp + m0);
        }
        float *o = j->out + n * s->m * P + ho * s->wo;
        for (size_t m = 0; m < s->m; m++)
            for (size_t wo = 0; wo < s->wo; wo++)
                o[m * P + wo] = row[wo * mp + m];
    }
}

/* 1x1 maps (a linear layer), out [N, M]: block of output channels by block, every sample in
 * turn, so that the block's weight columns ([C, 64] of the transposed weights) stay in the cache
 * while the samples' active channels are summed; thread t takes every nt-th block. */
static void forward_1x1_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t mp = j->mp, step = BLOCK * VEC;
    float *row = j->rows + (size_t)t * mp;
    for (size_t m0 = (size_t)t * step; m0 < mp; m0 += (size_t)j->nt * step) {
        size_t nv = vectors_at(mp, m0);
        size_t len = m0 + nv * VEC <= s->m ? nv * VEC : s->m - m0;
        for (size_t n = 0; n < s->n; n++) {
            gather(j, nv, n, 0, 0, m0, row);
            memcpy(j->out + n * s->m + m0, row, len * sizeof *row);
        }
    }
}

/* The weight gradient of input channel c, tap (kh, kw), NV vectors of output channels from m0,
 * from sample n: the output gradient summed over the positions its spikes reach, added to dst. */
#define SCATTER(NV)                                                                                \
    static void sum##NV(const spike_job *j, size_t n, size_t c, size_t kh, size_t kw, size_t m0,   \
                        float *dst)                                                                \
    {                                                                                              \
        const sakd_spike_conv_shape *s = j->s;                                                     \
        const uint32_t *pos = j->x->pos + j->x->chan[n * s->c + c];                                \
        const uint32_t *end = j->x->pos + j->x->chan[n * s->c + c + 1];                            \
        const int32_t *rm = j->rmap + kh * s->h, *cm = j->cmap + kw * s->w;                        \
        const float *gy = j->gyt + n * s->ho * s->wo * j->mp + m0;                                 \
        v16 acc[NV], alt[NV];                                                                      \
        for (int v = 0; v < NV; v++)                                                               \
            acc[v] = alt[v] = (v16){0};                                                            \
        for (; pos + 1 < end; pos += 2) {                                                          \
            int32_t h0 = rm[pos[0] >> 16], w0 = cm[pos[0] & 0xffff];                               \
            int32_t h1 = rm[pos[1] >> 16], w1 = cm[pos[1] & 0xffff];                               \
            if ((h0 | w0) >= 0) {                                                                  \
                const float *g = gy + ((size_t)h0 * s->wo + (size_t)w0) * j->mp;                   \
                for (int v = 0; v < NV; v++)                                                       \
                    acc[v] += load16(g + (size_t)v * VEC);                                         \
            }                                                                                      \
            if ((h1 | w1) >= 0) {                                                                  \
                const float *g = gy + ((size_t)h1 * s->wo + (size_t)w1) * j->mp;                   \
                for (int v = 0; v < NV; v++)                                                       \
                    alt[v] += load16(g + (size_t)v * VEC);                                         \
            }                                                                                      \
        }                                                                                          \
        if (pos < end) {                                                                           \
            int32_t h0 = rm[pos[0] >> 16], w0 = cm[pos[0] & 0xffff];                               \
            if ((h0 | w0) >= 0) {                                                                  \
                const float *g = gy + ((size_t)h0 * s->wo + (size_t)w0) * j->mp;                   \
                for (int v = 0; v < NV; v++)                                                       \
                    acc[v] += load16(g + (size_t)v * VEC);                                         \
            }                                                                                      \
        }                                                                                          \
        for (int v = 0; v < NV; v++)                                                               \
            store16(dst + (size_t)v * VEC, load16(dst + (size_t)v * VEC) + (acc[v] + alt[v]));     \
    }

SPIKE_CLONES SCATTER(1) SPIKE_CLONES SCATTER(2) SPIKE_CLONES SCATTER(3) SPIKE_CLONES SCATTER(4)

    /* Sample n's spikes of channel c, every tap, added to the channel's sums (nothing when
     * the channel did not fire in that sample). */
    static void sum_channel(const spike_job *j, size_t n, size_t c)
{
    const sakd_spike_conv_shape *s = j->s;
    size_t mp = j->mp;
    if (j->x->chan[n * s->c + c] == j->x->chan[n * s->c + c + 1])
        return;
    for (size_t kh = 0; kh < s->kh; kh++)
        for (size_t kw = 0; kw < s->kw; kw++) {
            float *dst = j->wt + ((kh * s->kw + kw) * s->c + c) * mp;
            for (size_t m0 = 0; m0 < mp; m0 += BLOCK * VEC) {
                switch (vectors_at(mp, m0)) {
                case 1: sum1(j, n, c, kh, kw, m0, dst + m0); break;
                case 2: sum2(j, n, c, kh, kw, m0, dst + m0); break;
                case 3: sum3(j, n, c, kh, kw, m0, dst + m0); break;
                default: sum4(j, n, c, kh, kw, m0, dst + m0); break;
                }
            }
        }
}

static void grad_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t lo, hi, mp = j->mp;
    sakd_host_range(s->c, t, j->nt, &lo, &hi);
    for (size_t c = lo; c < hi; c++)
        for (size_t k = 0; k < s->kh * s->kw; k++)
            memset(j->wt + (k * s->c + c) * mp, 0, mp * sizeof *j->wt);
    if (s->h * s->w * s->kh * s->kw == 1) {
        /* 1x1 maps (a linear layer): channel by channel, its sum row staying in the cache
         * while the samples where it fired add their output gradients. */
        for (size_t c = lo; c < hi; c++)
            for (size_t n = 0; n < s->n; n++)
                sum_channel(j, n, c);
    } else {
        /* Sample by sample: its output gradient stays in the cache for every channel. */
        for (size_t n = 0; n < s->n; n++)
            for (size_t c = lo; c < hi; c++)
                sum_channel(j, n, c);
    }
}

/* grad_out [N, M, P] → [N, P, mp] (the padding zero), split over the samples. */
static void transpose_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t lo, hi, M = s->m, P = s->ho * s->wo, mp = j->mp;
    sakd_host_range(s->n, t, j->nt, &lo, &hi);
    for (size_t n = lo; n < hi; n++) {
        float *dst = j->gyt + n * P * mp;
        const float *src = j->gy + n * M * P;
        for (size_t p = 0; p < P && mp > M; p++)
            memset(dst + p * mp + M, 0, (mp - M) * sizeof *dst);
        for (size_t m = 0; m < M; m++)
            for (size_t p = 0; p < P; p++)
                dst[p * mp + m] = src[m * P + p];
    }
}

/* dst[c·ldd + r·esd] = src[r·lds + c·ess] for r < rows, c < cols, in 32x32 tiles (the
 * strided side stays within a few pages), `planes` times (plane q: src + q·ps, dst + q·pd);
 * thread t of nt takes every nt-th tile row of every plane. */
typedef struct transpose_job {
    float *dst;
    const float *src;
    size_t rows, cols, lds, ess, ldd, esd, planes, ps, pd;
    int nt;
} transpose_job;

static void tiles_part(void *arg, int t)
{
    const transpose_job *j = arg;
    const size_t TILE = 32, tr = (j->rows + TILE - 1) / TILE;
    for (size_t i = (size_t)t; i < j->planes * tr; i += (size_t)j->nt) {
        size_t q = i / tr, r0 = i % tr * TILE, r1 = r0 + TILE < j->rows ? r0 + TILE : j->rows;
        const float *src = j->src + q * j->ps;
        float *dst = j->dst + q * j->pd;
        for (size_t c0 = 0; c0 < j->cols; c0 += TILE) {
            size_t c1 = c0 + TILE < j->cols ? c0 + TILE : j->cols;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++)
                    dst[c * j->ldd + r * j->esd] = src[r * j->lds + c * j->ess];
        }
    }
}

static void transpose_tiles(transpose_job *j)
{
    sakd_host_parallel(j->nt, tiles_part, j);
}

static sakd_status job_new(spike_job *j, const sakd_spike_set *x, const sakd_spike_conv_shape *s,
                           int threads)
{
    memset(j, 0, sizeof *j);
    if (x->n != s->n || x->c != s->c || x->h != s->h || x->w != s->w || !s->stride_h ||
        !s->stride_w || !s->m || !s->ho || !s->wo ||
        s->ho != sakd_conv2d_out_size(s->h, s->kh, s->stride_h, s->pad_h) ||
        s->wo != sakd_conv2d_out_size(s->w, s->kw, s->stride_w, s->pad_w))
        return sakd_error(SAKD_ERR_ARG,
                          "spike convolution: the active set ([%zu, %zu, %zu, %zu]) and the "
                          "shape ([%zu, %zu, %zu, %zu] -> %zu channels, %zux%zu out, stride "
                          "%zux%zu) disagree",
                          x->n, x->c, x->h, x->w, s->n, s->c, s->h, s->w, s->m, s->ho, s->wo,
                          s->stride_h, s->stride_w);
    j->s = s;
    j->x = x;
    j->mp = round_up(s->m, VEC);
    j->nt = threads > 0 ? threads : sakd_host_threads();
    return SAKD_OK;
}

sakd_status sakd_spike_conv_forward(float *out, const sakd_spike_set *x, const float *weight,
                                    const float *bias, const sakd_spike_conv_shape *s, int threads)
{
    spike_job j;
    SAKD_TRY(job_new(&j, x, s, threads));
    size_t M = s->m, C = s->c, KK = s->kh * s->kw, mp = j.mp;
    j.wt = lines(KK * C * mp);
    j.bias_p = lines(mp);
    j.rows = lines((size_t)j.nt * s->wo * mp);
    sakd_status st = SAKD_OK;
    if (!j.wt || !j.bias_p || !j.rows) {
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike convolution");
    } else {
        /* OIHW → [KH·KW, C, mp]: per tap k, wt[k][c][m] = weight[m][c][k] */
        transpose_job tj = {j.wt, weight, M, C, C * KK, KK, mp, 1, KK, 1, C * mp, j.nt};
        transpose_tiles(&tj);
        if (bias)
            memcpy(j.bias_p, bias, M * sizeof *bias);
        j.out = out;
        int maps_1x1 = s->h * s->w * KK == 1;
        sakd_host_parallel(j.nt, maps_1x1 ? forward_1x1_part : forward_part, &j);
    }
    free(j.wt);
    free(j.bias_p);
    free(j.rows);
    return st;
}

sakd_status sakd_spike_conv_grad_weight(float *grad_weight, float *grad_bias,
                                        const sakd_spike_set *x, const float *grad_out,
                                        const sakd_spike_conv_shape *s, int threads)
{
    spike_job j;
    SAKD_TRY(job_new(&j, x, s, threads));
    size_t M = s->m, C = s->c, KK = s->kh * s->kw, P = s->ho * s->wo, mp = j.mp;
    j.gyt = lines(s->n * P * mp);
    j.wt = lines(KK * C * mp);
    j.rmap = axis_map(s->h, s->kh, s->stride_h, s->pad_h, s->ho);
    j.cmap = axis_map(s->w, s->kw, s->stride_w, s->pad_w, s->wo);
    sakd_status st = SAKD_OK;
    if (!j.gyt || !j.wt || !j.rmap || !j.cmap) {
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike convolution's gradient");
    } else {
        j.gy = grad_out;
        sakd_host_parallel(j.nt, transpose_part, &j);
        sakd_host_parallel(j.nt, grad_part, &j);
        /* [KH·KW, C, mp] → OIHW: per tap k, grad_weight[m][c][k] = wt[k][c][m] */
        transpose_job tj = {grad_weight, j.wt, C, M, mp, 1, C * KK, KK, KK, C * mp, 1, j.nt};
        transpose_tiles(&tj);
        if (grad_bias)
            for (size_t m = 0; m < M; m++) {
                float acc = 0.0f;
                for (size_t n = 0; n < s->n; n++)
                    for (size_t p = 0; p < P; p++)
                        acc += grad_out[(n * M + m) * P + p];
                grad_bias[m] = acc;
            }
    }
    free(j.gyt);
    free(j.wt);
    free(j.rmap);
    free(j.cmap);
    return st;
}

double sakd_spike_conv_ops(const sakd_spike_set *x, const sakd_spike_conv_shape *s)
{
    spike_job j;
    if (job_new(&j, x, s, 1) != SAKD_OK) {
        sakd_error_clear();
        return 0.0;
    }
    int32_t *rm = axis_map(s->h, s->kh, s->stride_h, s->pad_h, s->ho);
    int32_t *cm = axis_map(s->w, s->kw, s->stride_w, s->pad_w, s->wo);
    double ops = 0.0;
    if (rm && cm) {
        /* Per row and column, the taps that reach an output. */
        for (size_t k = 0; k < x->active; k++) {
            size_t h = x->pos[k] >> 16, w = x->pos[k] & 0xffff, a = 0, b = 0;
            for (size_t kh = 0; kh < s->kh; kh++)
                a += rm[kh * s->h + h] >= 0;
            for (size_t kw = 0; kw < s->kw; kw++)
                b += cm[kw * s->w + w] >= 0;
            ops += (double)(a * b);
        }
    }
    free(rm);
    free(cm);
    return ops * (double)s->m;
}

/* ---- the device path (cl/conv_spike.cl) ------------------------------------------------------ */

/* The shape of a device call: in [N, C, H, W], weight or grad_weight [M, C, KH, KW], out or
 * grad_out [N, M, Ho, Wo], all checked. */
static sakd_status device_shape(const char *op, const sakd_tensor *in, const sakd_tensor *weight,
                                const sakd_tensor *out, const sakd_conv2d_params *p,
                                sakd_spike_conv_shape *s)
{
    SAKD_TRY(sakd_tensor_require(op, "input", in));
    SAKD_TRY(sakd_tensor_require(op, "weight", weight));
    SAKD_TRY(sakd_tensor_require(op, "output", out));
    if (in->ndim != 4 || weight->ndim != 4 || out->ndim != 4 || weight->shape[1] != in->shape[1] ||
        !p->stride_h || !p->stride_w || in->shape[2] > UINT16_MAX || in->shape[3] > UINT16_MAX)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: input '%s', weight '%s' and output '%s' are not a convolution's "
                          "[N, C, H, W], [M, C, KH, KW] and [N, M, Ho, Wo] (H, W <= 65535)",
                          op, in->name, weight->name, out->name);
    *s = (sakd_spike_conv_shape){in->shape[0],
                                 in->shape[1],
                                 in->shape[2],
                                 in->shape[3],
                                 weight->shape[0],
                                 weight->shape[2],
                                 weight->shape[3],
                                 p->stride_h,
                                 p->stride_w,
                                 p->pad_h,
                                 p->pad_w,
                                 0,
                                 0};
    s->ho = sakd_conv2d_out_size(s->h, s->kh, s->stride_h, s->pad_h);
    s->wo = sakd_conv2d_out_size(s->w, s->kw, s->stride_w, s->pad_w);
    size_t want[4] = {s->n, s->m, s->ho, s->wo};
    return sakd_tensor_require_shape(op, "output", out, 4, want);
}

sakd_status sakd_spike_conv_forward_device(sakd_tensor *out, const sakd_tensor *in, float value,
                                           const sakd_tensor *weight, const sakd_tensor *bias,
                                           const sakd_conv2d_params *p)
{
    const char *op = "spike_conv_forward";
    sakd_spike_conv_shape s;
    SAKD_TRY(device_shape(op, in, weight, out, p, &s));
    if (bias)
        SAKD_TRY(sakd_tensor_require_shape(op, "bias", bias, 1, &s.m));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(in->ctx, "conv_spike", NULL, "spike_conv_fwd", &k));
    const sakd_tensor *b = bias ? bias : weight; /* any buffer: not read without a bias */
    cl_ulong yo = out->offset, xo = in->offset, wo = weight->offset, bo = b->offset;
    return SAKD_LAUNCH_1D(
        in->ctx, k, s.n * s.m * s.ho * s.wo, SAKD_ARG(out->buf), SAKD_ARG(yo), SAKD_ARG(in->buf),
        SAKD_ARG(xo), SAKD_ARG(weight->buf), SAKD_ARG(wo), SAKD_ARG(b->buf), SAKD_ARG(bo),
        SAKD_INT(bias != NULL), SAKD_UINT((cl_uint)s.n), SAKD_UINT((cl_uint)s.c),
        SAKD_UINT((cl_uint)s.h), SAKD_UINT((cl_uint)s.w), SAKD_UINT((cl_uint)s.m),
        SAKD_UINT((cl_uint)s.kh), SAKD_UINT((cl_uint)s.kw), SAKD_UINT((cl_uint)s.ho),
        SAKD_UINT((cl_uint)s.wo), SAKD_UINT((cl_uint)s.stride_h), SAKD_UINT((cl_uint)s.stride_w),
        SAKD_UINT((cl_uint)s.pad_h), SAKD_UINT((cl_uint)s.pad_w), SAKD_FLOAT(value));
}

sakd_status sakd_spike_count_device(const sakd_tensor *in, size_t *fired)
{
    SAKD_TRY(sakd_tensor_require("spike_count", "input", in));
    sakd_ctx *ctx = in->ctx;
    const size_t chunk = 1024;
    size_t n = sakd_tensor_numel(in), parts = (n + chunk - 1) / chunk;
    *fired = 0;
    if (!n)
        return SAKD_OK;
    cl_uint *host = malloc(parts * sizeof *host);
    cl_mem partial = NULL;
    sakd_status st = host ? sakd_buffer_new(ctx, "spike count", parts * sizeof *host, &partial)
                          : sakd_error(SAKD_ERR_NOMEM, "out of memory counting '%s'", in->name);
    cl_kernel k;
    if (st == SAKD_OK)
        st = sakd_kernel_get(ctx, "conv_spike", NULL, "spike_count", &k);
    cl_ulong xo = in->offset;
    if (st == SAKD_OK)
        st = SAKD_LAUNCH_1D(ctx, k, parts, SAKD_ARG(partial), SAKD_ARG(in->buf), SAKD_ARG(xo),
                            SAKD_ULONG(n), SAKD_UINT((cl_uint)chunk));
    if (st == SAKD_OK) {
        cl_int err = clEnqueueReadBuffer(ctx->queue, partial, CL_TRUE, 0, parts * sizeof *host,
                                         host, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            st = sakd_error(SAKD_ERR_OPENCL, "spike_count: reading the counts of '%s': %s",
                            in->name, sakd_cl_strerror(err));
    }
    for (size_t i = 0; st == SAKD_OK && i < parts; i++)
        *fired += host[i];
    if (partial)
        sakd_buffer_free(ctx, partial, parts * sizeof *host);
    free(host);
    return st;
}

/* The active lists of `in` on the device: list [N·C·H·W] and count [N·C] (uint), and whether a
 * value other than 0 and 1 was seen. */
static sakd_status device_lists(const sakd_tensor *in, float value, const sakd_spike_conv_shape *s,
                                cl_mem list, cl_mem count, cl_mem bad, int *wrong)
{
    sakd_ctx *ctx = in->ctx;
    cl_int zero = 0;
    SAKD_CL_CHECK(
        clEnqueueWriteBuffer(ctx->queue, bad, CL_TRUE, 0, sizeof zero, &zero, 0, NULL, NULL));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "conv_spike", NULL, "spike_list", &k));
    cl_ulong xo = in->offset;
    SAKD_TRY(SAKD_LAUNCH_1D(ctx, k, s->n * s->c, SAKD_ARG(list), SAKD_ARG(count), SAKD_ARG(bad),
                            SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ULONG(s->n * s->c),
                            SAKD_UINT((cl_uint)s->h), SAKD_UINT((cl_uint)s->w), SAKD_FLOAT(value)));
    SAKD_CL_CHECK(
        clEnqueueReadBuffer(ctx->queue, bad, CL_TRUE, 0, sizeof *wrong, wrong, 0, NULL, NULL));
    return SAKD_OK;
}

sakd_status sakd_spike_conv_grad_weight_device(sakd_tensor *grad_weight, const sakd_tensor *in,
                                               float value, const sakd_tensor *grad_out,
                                               const sakd_conv2d_params *p)
{
    const char *op = "spike_conv_grad_weight";
    sakd_spike_conv_shape s;
    SAKD_TRY(device_shape(op, in, grad_weight, grad_out, p, &s));
    sakd_ctx *ctx = in->ctx;
    size_t lb = s.n * s.c * s.h * s.w * sizeof(cl_uint), cb = s.n * s.c * sizeof(cl_uint);
    cl_mem list = NULL, count = NULL, bad = NULL;
    int wrong = 0;
    sakd_status st = sakd_buffer_new(ctx, "spike lists", lb, &list);
    if (st == SAKD_OK)
        st = sakd_buffer_new(ctx, "spike counts", cb, &count);
    if (st == SAKD_OK)
        st = sakd_buffer_new(ctx, "spike check", sizeof(cl_int), &bad);
    if (st == SAKD_OK)
        st = device_lists(in, value, &s, list, count, bad, &wrong);
    if (st == SAKD_OK && wrong)
        st = sakd_error(SAKD_ERR_ARG, "%s: input '%s' holds a value other than 0 and %g", op,
                        in->name, (double)value);
    cl_kernel k;
    if (st == SAKD_OK)
        st = sakd_kernel_get(ctx, "conv_spike", NULL, "spike_conv_wgrad", &k);
    cl_ulong go = grad_weight->offset, yo = grad_out->offset;
    if (st == SAKD_OK)
        st = SAKD_LAUNCH_1D(
            ctx, k, s.m * s.c * s.kh * s.kw, SAKD_ARG(grad_weight->buf), SAKD_ARG(go),
            SAKD_ARG(list), SAKD_ARG(count), SAKD_ARG(grad_out->buf), SAKD_ARG(yo),
            SAKD_UINT((cl_uint)s.n), SAKD_UINT((cl_uint)s.c), SAKD_UINT((cl_uint)s.h),
            SAKD_UINT((cl_uint)s.w), SAKD_UINT((cl_uint)s.m), SAKD_UINT((cl_uint)s.kh),
            SAKD_UINT((cl_uint)s.kw), SAKD_UINT((cl_uint)s.ho), SAKD_UINT((cl_uint)s.wo),
            SAKD_UINT((cl_uint)s.stride_h), SAKD_UINT((cl_uint)s.stride_w),
            SAKD_UINT((cl_uint)s.pad_h), SAKD_UINT((cl_uint)s.pad_w), SAKD_FLOAT(value));
    if (st == SAKD_OK)
        st = sakd_ctx_finish(ctx); /* the lists are released below */
    if (list)
        sakd_buffer_free(ctx, list, lb);
    if (count)
        sakd_buffer_free(ctx, count, cb);
    if (bad)
        sakd_buffer_free(ctx, bad, sizeof(cl_int));
    return st;
}
