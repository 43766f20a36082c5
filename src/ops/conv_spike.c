/* conv_spike.c — spike-driven convolution on the host (conv_spike.h): active sets, and the
 * forward pass and weight gradient as sums of C_out-float rows over the active inputs and the
 * kernel taps that reach an output. The forward pass splits the samples over the threads (one
 * channels-last accumulator [Ho·Wo, M] each); the weight gradient splits the input channels
 * (each thread owns its rows of the gradient and adds the samples in order), so neither depends
 * on the thread count. */
#include "ops/conv_spike.h"

#include <stdlib.h>
#include <string.h>

#include "ops/host.h"
#include "runtime/cl.h"
#include "runtime/program.h"

void sakd_spike_set_free(sakd_spike_set *s)
{
    free(s->idx);
    free(s->row);
    free(s->col);
    free(s->start);
    free(s->chan);
    memset(s, 0, sizeof *s);
}

/* Doubles the capacity of the entry arrays. */
static sakd_status grow(sakd_spike_set *s)
{
    size_t cap = s->cap ? 2 * s->cap : 1024;
    uint32_t *idx = realloc(s->idx, cap * sizeof *idx);
    if (idx)
        s->idx = idx;
    uint16_t *row = idx ? realloc(s->row, cap * sizeof *row) : NULL;
    if (row)
        s->row = row;
    uint16_t *col = row ? realloc(s->col, cap * sizeof *col) : NULL;
    if (col)
        s->col = col;
    if (!col)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike set (%zu entries)", cap);
    s->cap = cap;
    return SAKD_OK;
}

sakd_status sakd_spike_set_build(sakd_spike_set *s, const float *x, size_t n, size_t c, size_t h,
                                 size_t w)
{
    size_t hw = h * w, per = c * hw;
    if (per > UINT32_MAX || h > UINT16_MAX || w > UINT16_MAX)
        return sakd_error(SAKD_ERR_ARG,
                          "spike set: [%zu, %zu, %zu] per sample exceeds the index types", c, h, w);
    size_t *start = realloc(s->start, (n + 1) * sizeof *start);
    if (start)
        s->start = start;
    size_t *chan = start ? realloc(s->chan, n * (c + 1) * sizeof *chan) : NULL;
    if (chan)
        s->chan = chan;
    if (!start || !chan)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike set");
    s->n = n;
    s->c = c;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        s->start[i] = k;
        const float *xs = x + i * per;
        for (size_t ch = 0; ch < c; ch++) {
            s->chan[i * (c + 1) + ch] = k;
            for (size_t e = ch * hw; e < (ch + 1) * hw; e++) {
                if (xs[e] == 0.0f)
                    continue;
                if (xs[e] != 1.0f)
                    return sakd_error(SAKD_ERR_ARG,
                                      "spike set: input [%zu, %zu, %zu, %zu] is %g, not a spike "
                                      "(0 or 1)",
                                      i, ch, (e - ch * hw) / w, (e - ch * hw) % w, (double)xs[e]);
                if (k == s->cap)
                    SAKD_TRY(grow(s));
                s->row[k] = (uint16_t)((e - ch * hw) / w);
                s->col[k] = (uint16_t)((e - ch * hw) % w);
                s->idx[k++] = (uint32_t)e;
            }
        }
        s->chan[i * (c + 1) + c] = k;
    }
    s->start[n] = k;
    s->active = k;
    return SAKD_OK;
}

/* The taps along one axis: for each input coordinate i in [0, in), the pairs (tap, out) with
 * out·stride = i + pad − tap, 0 <= out < n_out: tap[i·k + j], pos[i·k + j], count[i]. */
typedef struct taps {
    size_t *tap, *pos, *count;
} taps;

static void taps_free(taps *t)
{
    free(t->tap);
    free(t->pos);
    free(t->count);
}

static sakd_status taps_new(taps *t, size_t in, size_t k, size_t stride, size_t pad, size_t n_out)
{
    t->tap = malloc(in * k * sizeof *t->tap);
    t->pos = malloc(in * k * sizeof *t->pos);
    t->count = calloc(in, sizeof *t->count);
    if (!t->tap || !t->pos || !t->count) {
        taps_free(t);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike convolution's taps");
    }
    for (size_t i = 0; i < in; i++)
        for (size_t j = 0; j < k; j++) {
            if (i + pad < j || (i + pad - j) % stride)
                continue;
            size_t o = (i + pad - j) / stride;
            if (o >= n_out)
                continue;
            t->tap[i * k + t->count[i]] = j;
            t->pos[i * k + t->count[i]++] = o;
        }
    return SAKD_OK;
}

/* What both passes share: the shape, the active set and the taps of both axes. */
typedef struct spike_job {
    const sakd_spike_conv_shape *s;
    const sakd_spike_set *x;
    taps rows, cols;
    const float *wt;   /* forward: weights as [C, KH, KW, M] */
    const float *bias; /* forward, or NULL */
    float *out;        /* forward: [N, M, Ho, Wo] */
    float *acc;        /* forward: [threads, Ho·Wo·M] */
    const float *gy;   /* grad: grad_out [N, M, Ho, Wo] */
    float *gyt;        /* grad: grad_out as [N, Ho·Wo, M] */
    float *gwt;        /* grad: [C, KH, KW, M] */
    int nt;
} spike_job;

/* dst[0..m) += src[0..m): the one inner loop of both passes, eight floats at a time in GCC's
 * vector type (the compiler's -O2 cost model leaves the plain loop scalar: 3-5x slower). */
typedef float vec8 __attribute__((vector_size(32)));

static inline void add_row(float *restrict dst, const float *restrict src, size_t m)
{
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        vec8 a, b;
        memcpy(&a, dst + i, sizeof a);
        memcpy(&b, src + i, sizeof b);
        a += b;
        memcpy(dst + i, &a, sizeof a);
    }
    for (; i < m; i++)
        dst[i] += src[i];
}

static void forward_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t lo, hi, M = s->m, P = s->ho * s->wo;
    float *acc = j->acc + (size_t)t * P * M;
    sakd_host_range(s->n, t, j->nt, &lo, &hi);
    for (size_t n = lo; n < hi; n++) {
        memset(acc, 0, P * M * sizeof *acc);
        const size_t *ch = j->x->chan + n * (s->c + 1);
        for (size_t c = 0; c < s->c; c++) {
            const float *wc = j->wt + c * s->kh * s->kw * M;
            for (size_t k = ch[c]; k < ch[c + 1]; k++) {
                size_t h = j->x->row[k], w = j->x->col[k];
                for (size_t a = 0; a < j->rows.count[h]; a++) {
                    size_t kh = j->rows.tap[h * s->kh + a], ho = j->rows.pos[h * s->kh + a];
                    for (size_t b = 0; b < j->cols.count[w]; b++) {
                        size_t kw = j->cols.tap[w * s->kw + b], wo = j->cols.pos[w * s->kw + b];
                        add_row(acc + (ho * s->wo + wo) * M, wc + (kh * s->kw + kw) * M, M);
                    }
                }
            }
        }
        float *o = j->out + n * M * P;
        for (size_t m = 0; m < M; m++) {
            float b = j->bias ? j->bias[m] : 0.0f;
            for (size_t p = 0; p < P; p++)
                o[m * P + p] = acc[p * M + m] + b;
        }
    }
}

static void grad_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t lo, hi, M = s->m, P = s->ho * s->wo;
    sakd_host_range(s->c, t, j->nt, &lo, &hi);
    for (size_t c = lo; c < hi; c++) {
        float *g = j->gwt + c * s->kh * s->kw * M;
        memset(g, 0, s->kh * s->kw * M * sizeof *g);
        for (size_t n = 0; n < s->n; n++) {
            const size_t *ch = j->x->chan + n * (s->c + 1);
            const float *gy = j->gyt + n * P * M;
            for (size_t k = ch[c]; k < ch[c + 1]; k++) {
                size_t h = j->x->row[k], w = j->x->col[k];
                for (size_t a = 0; a < j->rows.count[h]; a++) {
                    size_t kh = j->rows.tap[h * s->kh + a], ho = j->rows.pos[h * s->kh + a];
                    for (size_t b = 0; b < j->cols.count[w]; b++) {
                        size_t kw = j->cols.tap[w * s->kw + b], wo = j->cols.pos[w * s->kw + b];
                        add_row(g + (kh * s->kw + kw) * M, gy + (ho * s->wo + wo) * M, M);
                    }
                }
            }
        }
    }
}

/* grad_out [N, M, P] → [N, P, M], split over the samples. */
static void transpose_part(void *arg, int t)
{
    const spike_job *j = arg;
    const sakd_spike_conv_shape *s = j->s;
    size_t lo, hi, M = s->m, P = s->ho * s->wo;
    sakd_host_range(s->n, t, j->nt, &lo, &hi);
    for (size_t n = lo; n < hi; n++)
        for (size_t m = 0; m < M; m++)
            for (size_t p = 0; p < P; p++)
                j->gyt[(n * P + p) * M + m] = j->gy[(n * M + m) * P + p];
}

static sakd_status job_new(spike_job *j, const sakd_spike_set *x, const sakd_spike_conv_shape *s,
                           int threads)
{
    memset(j, 0, sizeof *j);
    if (x->n != s->n || x->c != s->c || !s->stride_h || !s->stride_w || !s->m || !s->ho || !s->wo)
        return sakd_error(SAKD_ERR_ARG,
                          "spike convolution: the active set ([%zu, %zu, ...]) and the shape "
                          "([%zu, %zu, %zu, %zu] -> %zu channels, %zux%zu out, stride %zux%zu) "
                          "disagree",
                          x->n, x->c, s->n, s->c, s->h, s->w, s->m, s->ho, s->wo, s->stride_h,
                          s->stride_w);
    j->s = s;
    j->x = x;
    j->nt = threads > 0 ? threads : sakd_host_threads();
    SAKD_TRY(taps_new(&j->rows, s->h, s->kh, s->stride_h, s->pad_h, s->ho));
    sakd_status st = taps_new(&j->cols, s->w, s->kw, s->stride_w, s->pad_w, s->wo);
    if (st != SAKD_OK)
        taps_free(&j->rows);
    return st;
}

sakd_status sakd_spike_conv_forward(float *out, const sakd_spike_set *x, const float *weight,
                                    const float *bias, const sakd_spike_conv_shape *s, int threads)
{
    spike_job j;
    SAKD_TRY(job_new(&j, x, s, threads));
    size_t M = s->m, K = s->c * s->kh * s->kw, P = s->ho * s->wo;
    float *wt = malloc(K * M * sizeof *wt), *acc = malloc((size_t)j.nt * P * M * sizeof *acc);
    sakd_status st = SAKD_OK;
    if (!wt || !acc) {
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike convolution");
    } else {
        for (size_t m = 0; m < M; m++) /* OIHW → [C·KH·KW, M] */
            for (size_t k = 0; k < K; k++)
                wt[k * M + m] = weight[m * K + k];
        j.wt = wt;
        j.bias = bias;
        j.out = out;
        j.acc = acc;
        sakd_host_parallel(j.nt, forward_part, &j);
    }
    free(wt);
    free(acc);
    taps_free(&j.rows);
    taps_free(&j.cols);
    return st;
}

sakd_status sakd_spike_conv_grad_weight(float *grad_weight, const sakd_spike_set *x,
                                        const float *grad_out, const sakd_spike_conv_shape *s,
                                        int threads)
{
    spike_job j;
    SAKD_TRY(job_new(&j, x, s, threads));
    size_t M = s->m, K = s->c * s->kh * s->kw, P = s->ho * s->wo;
    float *gyt = malloc(s->n * P * M * sizeof *gyt), *gwt = malloc(K * M * sizeof *gwt);
    sakd_status st = SAKD_OK;
    if (!gyt || !gwt) {
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory for a spike convolution's gradient");
    } else {
        j.gyt = gyt;
        j.gy = grad_out;
        sakd_host_parallel(j.nt, transpose_part, &j);
        j.gwt = gwt;
        sakd_host_parallel(j.nt, grad_part, &j);
        for (size_t m = 0; m < M; m++) /* [C·KH·KW, M] → OIHW */
            for (size_t k = 0; k < K; k++)
                grad_weight[m * K + k] = gwt[k * M + m];
    }
    free(gyt);
    free(gwt);
    taps_free(&j.rows);
    taps_free(&j.cols);
    return st;
}

double sakd_spike_conv_ops(const sakd_spike_set *x, const sakd_spike_conv_shape *s)
{
    spike_job j;
    if (job_new(&j, x, s, 1) != SAKD_OK) {
        sakd_error_clear();
        return 0.0;
    }
    double ops = 0.0;
    for (size_t k = 0; k < x->active; k++)
        ops += (double)(j.rows.count[x->row[k]] * j.cols.count[x->col[k]]);
    taps_free(&j.rows);
    taps_free(&j.cols);
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

sakd_status sakd_spike_conv_forward_device(sakd_tensor *out, const sakd_tensor *in,
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
        SAKD_UINT((cl_uint)s.pad_h), SAKD_UINT((cl_uint)s.pad_w));
}

/* The active lists of `in` on the device: list [N·C·H·W] and count [N·C] (uint), and whether a
 * value other than 0 and 1 was seen. */
static sakd_status device_lists(const sakd_tensor *in, const sakd_spike_conv_shape *s, cl_mem list,
                                cl_mem count, cl_mem bad, int *wrong)
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
                            SAKD_UINT((cl_uint)s->h), SAKD_UINT((cl_uint)s->w)));
    SAKD_CL_CHECK(
        clEnqueueReadBuffer(ctx->queue, bad, CL_TRUE, 0, sizeof *wrong, wrong, 0, NULL, NULL));
    return SAKD_OK;
}

sakd_status sakd_spike_conv_grad_weight_device(sakd_tensor *grad_weight, const sakd_tensor *in,
                                               const sakd_tensor *grad_out,
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
        st = device_lists(in, &s, list, count, bad, &wrong);
    if (st == SAKD_OK && wrong)
        st = sakd_error(SAKD_ERR_ARG, "%s: input '%s' holds a value other than 0 and 1", op,
                        in->name);
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
            SAKD_UINT((cl_uint)s.pad_h), SAKD_UINT((cl_uint)s.pad_w));
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
