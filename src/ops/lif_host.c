/* lif_host.c — the multi-step LIF neuron of DESIGN.md §2.1 (cl/lif.cl's formulas) on the host:
 * blocks of neurons whose state (v forward, the carried gradient backward) stays in a small array
 * over the T steps, neurons inner so the loops vectorize; neurons split over the host threads in
 * fixed ranges. gx may alias gs: each element is read before it is written. */
#include "ops/lif_host.h"

#include <float.h>
#include <math.h>

#include "ops/host.h"
#include "runtime/profile.h"
#include "runtime/timer.h"

#define HALF_PI 1.57079632679489662f

/* g(u), u = h − V_th, as lif_surrogate in cl/lif.cl. */
static inline float surrogate(sakd_surrogate kind, float u, float alpha)
{
    switch (kind) {
    case SAKD_SURROGATE_SIGMOID: {
        float e = expf(-fabsf(alpha * u));
        return alpha * e / ((1.0f + e) * (1.0f + e));
    }
    case SAKD_SURROGATE_ATAN: {
        float a = HALF_PI * alpha * u;
        return alpha / (2.0f * (1.0f + a * a));
    }
    default: return fmaxf(0.0f, 1.0f - fabsf(u));
    }
}

typedef struct lif_job {
    size_t n, T;
    sakd_lif_params p;
    const float *x, *gs;
    float *s, *h, *gx;
    unsigned char *rec;
    int nt;
} lif_job;

/* Neurons per block: a block's state stays in cache across its T steps. */
#define BLOCK 256

static void forward_part(void *arg, int t_)
{
    const lif_job *j = arg;
    size_t lo, hi;
    sakd_host_range(j->n, t_, j->nt, &lo, &hi);
    float decay = j->p.decay, vth = j->p.threshold;
    int soft = j->p.reset == SAKD_LIF_RESET_SOFT;
    float v[BLOCK];
    for (size_t b0 = lo; b0 < hi; b0 += BLOCK) {
        size_t nb = hi - b0 < BLOCK ? hi - b0 : BLOCK;
        for (size_t i = 0; i < nb; i++)
            v[i] = 0.0f;
        for (size_t t = 0; t < j->T; t++) {
            size_t o = t * j->n + b0;
            const float *x = j->x + o;
            float *s = j->s + o, *h = j->h + o;
            unsigned char *rec = j->rec + o;
            for (size_t i = 0; i < nb; i++) {
                float ht = decay * v[i] + x[i];
                float st = ht - vth >= 0.0f ? 1.0f : 0.0f;
                v[i] = soft ? ht - vth * st : ht * (1.0f - st);
                h[i] = ht;
                s[i] = st;
                rec[i] = (unsigned char)st;
            }
        }
    }
}

static void backward_part(void *arg, int t_)
{
    const lif_job *j = arg;
    size_t lo, hi;
    sakd_host_range(j->n, t_, j->nt, &lo, &hi);
    float decay = j->p.decay, vth = j->p.threshold, alpha = j->p.alpha;
    int soft = j->p.reset == SAKD_LIF_RESET_SOFT, detach = j->p.detach_reset;
    float gh[BLOCK], g[BLOCK];
    for (size_t b0 = lo; b0 < hi; b0 += BLOCK) {
        size_t nb = hi - b0 < BLOCK ? hi - b0 : BLOCK;
        for (size_t i = 0; i < nb; i++)
            gh[i] = 0.0f;
        for (size_t t = j->T; t-- > 0;) {
            size_t o = t * j->n + b0;
            const float *h = j->h + o, *gs = j->gs + o;
            const unsigned char *rec = j->rec + o;
            float *gx = j->gx + o;
            switch (j->p.surrogate) {
            case SAKD_SURROGATE_SIGMOID:
            case SAKD_SURROGATE_ATAN:
                for (size_t i = 0; i < nb; i++)
                    g[i] = surrogate(j->p.surrogate, h[i] - vth, alpha);
                break;
            default:
                for (size_t i = 0; i < nb; i++)
                    g[i] = fmaxf(0.0f, 1.0f - fabsf(h[i] - vth));
            }
            for (size_t i = 0; i < nb; i++) {
                float r = (float)rec[i];
                float dvdh = soft ? (detach ? 1.0f : 1.0f - vth * g[i])
                                  : (detach ? 1.0f - r : (1.0f - r) - h[i] * g[i]);
                float v = gs[i] * g[i] + (decay * gh[i]) * dvdh;
                v = fabsf(v) < FLT_MIN ? 0.0f : v;
                gh[i] = v;
                gx[i] = v;
            }
        }
    }
}

static int threads_for(size_t n)
{
    int nt = sakd_host_threads();
    /* Below a few thousand neurons a thread costs more than it saves. */
    size_t want = n / 4096 + 1;
    return want < (size_t)nt ? (int)want : nt;
}

sakd_status sakd_lif_host_forward(sakd_tensor *s, sakd_lif_cache *cache, const sakd_tensor *x,
                                  size_t T, const sakd_lif_params *p)
{
    sakd_ctx *ctx = x->ctx;
    size_t all = sakd_tensor_numel(x);
    lif_job j = {.n = all / T, .T = T, .p = *p};
    j.nt = threads_for(j.n);
    sakd_host_maps maps = {0};
    sakd_status st = sakd_host_map(ctx, &maps, x->name, x->buf, x->offset, all, (float **)&j.x);
    if (st == SAKD_OK)
        st = sakd_host_map(ctx, &maps, s->name, s->buf, s->offset, all, &j.s);
    if (st == SAKD_OK)
        st = sakd_host_map(ctx, &maps, cache->h.name, cache->h.buf, cache->h.offset, all, &j.h);
    if (st == SAKD_OK)
        st = sakd_host_map_bytes(ctx, &maps, "LIF spike record", cache->spikes,
                                 cache->spikes_offset, all, &j.rec);
    if (st == SAKD_OK) {
        double t0 = sakd_time_now();
        sakd_host_parallel(j.nt, forward_part, &j);
        sakd_profile_add(ctx, "lif_fwd (host)", (sakd_time_now() - t0) * 1e3);
    }
    return sakd_host_unmap(ctx, &maps, st);
}

sakd_status sakd_lif_host_backward(sakd_tensor *gx, const sakd_lif_cache *cache,
                                   const sakd_tensor *gs, size_t T, const sakd_lif_params *p)
{
    sakd_ctx *ctx = gs->ctx;
    size_t all = sakd_tensor_numel(gs);
    lif_job j = {.n = all / T, .T = T, .p = *p};
    j.nt = threads_for(j.n);
    sakd_host_maps maps = {0};
    sakd_status st =
        sakd_host_map(ctx, &maps, gs->name, gs->buf, gs->offset, all, (float **)&j.gs);
    if (st == SAKD_OK)
        st = sakd_host_map(ctx, &maps, gx->name, gx->buf, gx->offset, all, &j.gx);
    if (st == SAKD_OK)
        st = sakd_host_map(ctx, &maps, cache->h.name, cache->h.buf, cache->h.offset, all, &j.h);
    if (st == SAKD_OK)
        st = sakd_host_map_bytes(ctx, &maps, "LIF spike record", cache->spikes,
                                 cache->spikes_offset, all, &j.rec);
    if (st == SAKD_OK) {
        double t0 = sakd_time_now();
        sakd_host_parallel(j.nt, backward_part, &j);
        sakd_profile_add(ctx, "lif_bwd (host)", (sakd_time_now() - t0) * 1e3);
    }
    return sakd_host_unmap(ctx, &maps, st);
}
