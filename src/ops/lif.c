/* lif.c — host launchers for cl/lif.cl: parameters, the forward cache, shape checks. */
#include "ops/lif.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/program.h"

sakd_lif_params sakd_lif_params_default(void)
{
    return (sakd_lif_params){.decay = 0.5f,
                             .threshold = 1.0f,
                             .reset = SAKD_LIF_RESET_HARD,
                             .detach_reset = 0,
                             .surrogate = SAKD_SURROGATE_TRIANGLE,
                             .alpha = sakd_surrogate_default_alpha(SAKD_SURROGATE_TRIANGLE)};
}

float sakd_surrogate_default_alpha(sakd_surrogate surrogate)
{
    switch (surrogate) {
    case SAKD_SURROGATE_SIGMOID: return 4.0f;
    case SAKD_SURROGATE_ATAN: return 2.0f;
    default: return 1.0f;
    }
}

sakd_status sakd_lif_cache_new(sakd_lif_cache *cache, sakd_ctx *ctx, const char *name, int ndim,
                               const size_t *shape)
{
    memset(cache, 0, sizeof *cache);
    char what[96];
    snprintf(what, sizeof what, "%s.h", name ? name : "lif");
    SAKD_TRY(sakd_tensor_new(&cache->h, ctx, what, ndim, shape));
    cache->ctx = ctx;
    cache->n = sakd_tensor_numel(&cache->h);
    snprintf(what, sizeof what, "%s.spikes", name ? name : "lif");
    sakd_status st = sakd_buffer_new(ctx, what, cache->n, &cache->spikes);
    if (st != SAKD_OK) {
        sakd_tensor_free(&cache->h);
        return st;
    }
    cache->owner = 1;
    return SAKD_OK;
}

void sakd_lif_cache_free(sakd_lif_cache *cache)
{
    if (cache->owner && cache->spikes)
        sakd_buffer_free(cache->ctx, cache->spikes, cache->n);
    sakd_tensor_free(&cache->h);
    memset(cache, 0, sizeof *cache);
}

sakd_status sakd_lif_cache_download_spikes(const sakd_lif_cache *cache, uint8_t *host)
{
    cl_int err = clEnqueueReadBuffer(cache->ctx->queue, cache->spikes, CL_TRUE,
                                     cache->spikes_offset, cache->n, host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return sakd_ctx_device_error(cache->ctx, err, "downloading spikes");
    return SAKD_OK;
}

/* Validates the parameters, T against x's leading dimension, and the cache's size. */
static sakd_status check_common(const char *op, const char *x_role, const sakd_tensor *x,
                                const sakd_lif_cache *c, size_t T, const sakd_lif_params *p)
{
    if (!p)
        return sakd_error(SAKD_ERR_ARG, "%s: no parameters", op);
    if (p->surrogate < SAKD_SURROGATE_TRIANGLE || p->surrogate > SAKD_SURROGATE_ATAN)
        return sakd_error(SAKD_ERR_ARG, "%s: unknown surrogate %d", op, (int)p->surrogate);
    if (p->reset != SAKD_LIF_RESET_HARD && p->reset != SAKD_LIF_RESET_SOFT)
        return sakd_error(SAKD_ERR_ARG, "%s: unknown reset %d", op, (int)p->reset);
    if (!isfinite(p->decay) || !isfinite(p->threshold) || !isfinite(p->alpha))
        return sakd_error(SAKD_ERR_ARG, "%s: decay, threshold and alpha must be finite", op);
    if (T == 0 || T > 0xffffffffu || x->shape[0] % T != 0)
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has %zu rows, not a multiple of T = %zu", op,
                          x_role, x->name, x->shape[0], T);
    SAKD_TRY(sakd_tensor_require_same_numel(op, "cache", c ? &c->h : NULL, x_role, x));
    if (!c->spikes)
        return sakd_error(SAKD_ERR_ARG, "%s: cache '%s' is missing its spike record (no buffer)",
                          op, c->h.name);
    if (c->n != sakd_tensor_numel(x))
        return sakd_error(SAKD_ERR_ARG,
                          "%s: cache '%s' has a spike record of %zu elements, expected %zu (those "
                          "of %s '%s')",
                          op, c->h.name, c->n, sakd_tensor_numel(x), x_role, x->name);
    return SAKD_OK;
}

void sakd_lif_program_options(const sakd_lif_params *p, size_t T, char *buf, size_t size)
{
    snprintf(buf, size, "-DSURROGATE=%d -DRESET_SOFT=%d -DDETACH_RESET=%d -DLIF_T=%zu",
             (int)p->surrogate, p->reset == SAKD_LIF_RESET_SOFT, p->detach_reset ? 1 : 0,
             T <= SAKD_LIF_UNROLL_MAX ? T : 0);
}

/* The program unrolled for T; from offline binaries (SAKD_CL_BINARY_DIR), which hold the
 * unrolled programs of a few T only (ops/variants.c), the program for any T where the unrolled
 * one is missing. */
static sakd_status lif_kernel(sakd_ctx *ctx, const sakd_lif_params *p, size_t T, const char *name,
                              cl_kernel *k)
{
    char opts[96];
    sakd_lif_program_options(p, T, opts, sizeof opts);
    sakd_status st = sakd_kernel_get(ctx, "lif", opts, name, k);
    if (st != SAKD_ERR_NOT_FOUND || T > SAKD_LIF_UNROLL_MAX || !getenv("SAKD_CL_BINARY_DIR"))
        return st;
    sakd_lif_program_options(p, 0, opts, sizeof opts);
    return sakd_kernel_get(ctx, "lif", opts, name, k);
}

sakd_status sakd_lif_forward(sakd_tensor *s, sakd_lif_cache *cache, const sakd_tensor *x, size_t T,
                             const sakd_lif_params *params)
{
    SAKD_TRY(sakd_tensor_require_same_shape("lif_forward", "spikes", s, "input", x));
    SAKD_TRY(check_common("lif_forward", "input", x, cache, T, params));
    cl_kernel k;
    SAKD_TRY(lif_kernel(x->ctx, params, T, "lif_fwd", &k));
    cl_ulong so = s->offset, ho = cache->h.offset, ro = cache->spikes_offset, xo = x->offset;
    cl_ulong n = sakd_tensor_numel(x) / T;
    cl_uint t = (cl_uint)T;
    cl_float decay = params->decay, vth = params->threshold;
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)n, SAKD_ARG(s->buf), SAKD_ARG(so),
                          SAKD_ARG(cache->h.buf), SAKD_ARG(ho), SAKD_ARG(cache->spikes),
                          SAKD_ARG(ro), SAKD_ARG(x->buf), SAKD_ARG(xo), SAKD_ARG(n), SAKD_ARG(t),
                          SAKD_ARG(decay), SAKD_ARG(vth));
}

sakd_status sakd_lif_backward(sakd_tensor *gx, const sakd_lif_cache *cache, const sakd_tensor *gs,
                              size_t T, const sakd_lif_params *params)
{
    SAKD_TRY(sakd_tensor_require_same_shape("lif_backward", "grad_in", gx, "grad_out", gs));
    SAKD_TRY(check_common("lif_backward", "grad_out", gs, cache, T, params));
    cl_kernel k;
    SAKD_TRY(lif_kernel(gs->ctx, params, T, "lif_bwd", &k));
    cl_ulong go = gx->offset, ho = cache->h.offset, ro = cache->spikes_offset, so = gs->offset;
    cl_ulong n = sakd_tensor_numel(gs) / T;
    cl_uint t = (cl_uint)T;
    cl_float decay = params->decay, vth = params->threshold, alpha = params->alpha;
    return SAKD_LAUNCH_1D(gs->ctx, k, (size_t)n, SAKD_ARG(gx->buf), SAKD_ARG(go),
                          SAKD_ARG(cache->h.buf), SAKD_ARG(ho), SAKD_ARG(cache->spikes),
                          SAKD_ARG(ro), SAKD_ARG(gs->buf), SAKD_ARG(so), SAKD_ARG(n), SAKD_ARG(t),
                          SAKD_ARG(decay), SAKD_ARG(vth), SAKD_ARG(alpha));
}
