/* layout.c — the host provider's conversions between plain and channel-blocked activations:
 * samples split over the host threads, each sample's C·H·W values moved group by group (a group
 * of B channels' rows interleaved, or taken apart). */
#include "ops/layout.h"

#include <string.h>

#include "ops/host.h"
#include "runtime/profile.h"
#include "runtime/timer.h"

typedef struct convert_job {
    float *dst;
    const float *src;
    size_t n, c, p;
    int from, to; /* layouts: 0, 8 or 16 */
    int nt;
} convert_job;

/* Element (channel ch, position q) of one sample in layout `l`. */
static size_t at(int l, size_t p, size_t ch, size_t q)
{
    if (!l)
        return ch * p + q;
    size_t b = (size_t)l;
    return ((ch / b) * p + q) * b + ch % b;
}

void sakd_layout_sample_to_plain(float *dst, const float *src, int l, size_t c, size_t p)
{
    if (!l) {
        memcpy(dst, src, c * p * sizeof *dst);
        return;
    }
    size_t b = (size_t)l;
    for (size_t g = 0; g < c / b; g++)
        for (size_t k = 0; k < b; k++) {
            const float *in = src + g * p * b + k;
            float *row = dst + (g * b + k) * p;
            for (size_t q = 0; q < p; q++)
                row[q] = in[q * b];
        }
}

void sakd_layout_sample_from_plain(float *dst, const float *src, int l, size_t c, size_t p)
{
    if (!l) {
        memcpy(dst, src, c * p * sizeof *dst);
        return;
    }
    size_t b = (size_t)l;
    for (size_t g = 0; g < c / b; g++)
        for (size_t k = 0; k < b; k++) {
            const float *row = src + (g * b + k) * p;
            float *out = dst + g * p * b + k;
            for (size_t q = 0; q < p; q++)
                out[q * b] = row[q];
        }
}

static void convert_part(void *arg, int t)
{
    const convert_job *j = arg;
    size_t lo, hi, per = j->c * j->p;
    sakd_host_range(j->n, t, j->nt, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        const float *s = j->src + i * per;
        float *d = j->dst + i * per;
        if (j->from == j->to)
            memcpy(d, s, per * sizeof *d);
        else if (!j->from)
            sakd_layout_sample_from_plain(d, s, j->to, j->c, j->p);
        else if (!j->to)
            sakd_layout_sample_to_plain(d, s, j->from, j->c, j->p);
        else /* one block to another */
            for (size_t ch = 0; ch < j->c; ch++)
                for (size_t q = 0; q < j->p; q++)
                    d[at(j->to, j->p, ch, q)] = s[at(j->from, j->p, ch, q)];
    }
}

static sakd_status check_layout(const sakd_tensor *t)
{
    int l = t->layout;
    if (l && (l != 8 && l != 16))
        return sakd_error(SAKD_ERR_ARG,
                          "layout_convert: tensor '%s' has layout %d, expected 0, 8 "
                          "or 16",
                          t->name, l);
    if (l && (t->ndim != 4 || t->shape[1] % (size_t)l))
        return sakd_error(SAKD_ERR_ARG,
                          "layout_convert: tensor '%s' is channel-blocked by %d but is not "
                          "[N, C, H, W] with C a multiple of %d",
                          t->name, l, l);
    return SAKD_OK;
}

sakd_status sakd_layout_convert(sakd_tensor *dst, const sakd_tensor *src)
{
    const char *op = "layout_convert";
    SAKD_TRY(sakd_tensor_require(op, "source", src));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "destination", dst, "source", src));
    SAKD_TRY(check_layout(src));
    SAKD_TRY(check_layout(dst));
    if (src->layout == dst->layout)
        return sakd_tensor_copy(dst, src);
    sakd_ctx *ctx = src->ctx;
    if (!sakd_host_active(ctx))
        return sakd_error(SAKD_ERR_ARG,
                          "%s: '%s' to '%s': channel-blocked layouts exist on the host provider "
                          "only",
                          op, src->name, dst->name);
    convert_job j = {.n = src->shape[0],
                     .c = src->shape[1],
                     .p = src->shape[2] * src->shape[3],
                     .from = src->layout,
                     .to = dst->layout};
    int nt = sakd_host_threads();
    j.nt = (size_t)nt < j.n ? nt : (int)j.n;
    sakd_host_maps maps = {0};
    float *s, *d;
    sakd_status st = sakd_host_map_tensor(ctx, &maps, src, &s, SAKD_OK);
    st = sakd_host_map_tensor(ctx, &maps, dst, &d, st);
    if (st == SAKD_OK) {
        j.src = s;
        j.dst = d;
        double t0 = sakd_time_now();
        sakd_host_parallel(j.nt, convert_part, &j);
        sakd_profile_add(ctx, "layout_convert (host)", (sakd_time_now() - t0) * 1e3);
    }
    return sakd_host_unmap(ctx, &maps, st);
}
