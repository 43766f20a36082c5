/* gemm.c — sakd_gemm / sakd_gemm_batched: dimensions checked, calls recorded for the tuner and
 * the benchmarks, then handed to the context's GEMM provider (chosen here, once per context). */
#include "config.h"

#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/blas_host.h"
#include "ops/conv.h"
#include "ops/gemm_provider.h"
#include "ops/gemm_tuning.h"
#include "ops/ops_state.h"
#include "runtime/log.h"

static sakd_status check_dims(size_t m, size_t n, size_t k, float beta, int *skip)
{
    *skip = 0;
    if (m == 0 || n == 0) {
        *skip = 1;
        return SAKD_OK;
    }
    if (k == 0) {
        if (beta == 1.0f) {
            *skip = 1;
            return SAKD_OK;
        }
        return sakd_error(SAKD_ERR_ARG, "GEMM with k = 0 and beta != 1 (m = %zu, n = %zu)", m, n);
    }
    return SAKD_OK;
}

const char *sakd_gemm_provider_names(void)
{
    return "auto, clblast, host";
}

/* "auto" (the host BLAS where it can serve the device, else CLBlast), "clblast" or "host". */
sakd_status sakd_gemm_provider_set(sakd_ctx *ctx, const char *request)
{
    const char *from = "the request";
    if (!request || !*request) {
        request = getenv("SAKD_GEMM_PROVIDER");
        from = "SAKD_GEMM_PROVIDER";
    }
    if (!request || !*request)
        request = "auto";
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (strcmp(request, "clblast") == 0) {
        os->gemm_provider = &sakd_gemm_provider_clblast;
        snprintf(os->gemm_provider_why, sizeof os->gemm_provider_why, "requested");
        return SAKD_OK;
    }
    if (strcmp(request, "host") == 0) {
        sakd_status st = sakd_gemm_host_check(ctx);
        if (st != SAKD_OK)
            return sakd_error(st, "GEMM provider 'host' (from %s) cannot serve %s: %s", from,
                              ctx->info.name, sakd_error_detail());
        os->gemm_provider = &sakd_gemm_provider_host;
        snprintf(os->gemm_provider_why, sizeof os->gemm_provider_why, "requested");
        return SAKD_OK;
    }
    if (strcmp(request, "auto") != 0)
        return sakd_error(SAKD_ERR_ARG, "unknown GEMM provider '%s' (from %s); expected one of %s",
                          request, from, sakd_gemm_provider_names());
    if (sakd_gemm_host_check(ctx) == SAKD_OK) {
        os->gemm_provider = &sakd_gemm_provider_host;
        snprintf(os->gemm_provider_why, sizeof os->gemm_provider_why,
                 "auto: a CPU device sharing host memory");
    } else {
        os->gemm_provider = &sakd_gemm_provider_clblast;
        snprintf(os->gemm_provider_why, sizeof os->gemm_provider_why, "auto: %s",
                 sakd_error_detail());
    }
    sakd_error_clear();
    return SAKD_OK;
}

/* The provider of ctx, chosen by SAKD_GEMM_PROVIDER (else auto) on first use. */
static sakd_status provider(sakd_ctx *ctx, const struct sakd_gemm_provider **p)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (!os->gemm_provider)
        SAKD_TRY(sakd_gemm_provider_set(ctx, NULL));
    *p = os->gemm_provider;
    return SAKD_OK;
}

const char *sakd_gemm_provider_name(sakd_ctx *ctx)
{
    const struct sakd_gemm_provider *p;
    if (provider(ctx, &p) != SAKD_OK)
        return "none";
    return p->name;
}

void sakd_gemm_provider_describe(sakd_ctx *ctx, char *buf, size_t size)
{
    const struct sakd_gemm_provider *p;
    if (provider(ctx, &p) != SAKD_OK) {
        snprintf(buf, size, "none (%s)", sakd_error_detail());
        return;
    }
    const sakd_ops_state *os = sakd_ops_state_peek(ctx); /* there once a provider is */
    if (p == &sakd_gemm_provider_host) {
        char b[320];
        char c[256];
        sakd_host_blas_describe(b, sizeof b);
        sakd_conv_provider_describe(ctx, c, sizeof c);
        snprintf(buf, size, "host BLAS: %s [%s]; convolutions: %s", b, os->gemm_provider_why, c);
    } else {
        const char *t = sakd_gemm_tuning_source(ctx);
        snprintf(buf, size, "CLBlast %s (%s) [%s]", sakd_clblast_version(),
                 t[0] ? t : "default parameters", os->gemm_provider_why);
    }
}

/* Names the GEMM about to run as the context's last work (sakd_ctx_last_work). */
static void note_work(sakd_ctx *ctx, sakd_ops_state *os, const char *provider_name,
                      const sakd_gemm_call *g)
{
    snprintf(os->last_gemm, sizeof os->last_gemm, "%s GEMM (m=%zu, n=%zu, k=%zu, batch=%zu)",
             provider_name, g->m, g->n, g->k, g->batch ? g->batch : 1);
    ctx->last_op = os->last_gemm;
}

static sakd_status dispatch(sakd_ctx *ctx, const sakd_gemm_call *g)
{
    const struct sakd_gemm_provider *p;
    SAKD_TRY(provider(ctx, &p));
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    if (os->gemm_log) {
        sakd_gemm_shape s = {g->trans_a,  g->trans_b,  g->m,    g->n,     g->k,
                             g->a.ld,     g->b.ld,     g->c.ld, g->batch, g->stride_a,
                             g->stride_b, g->stride_c, 1};
        sakd_gemm_log_add(os->gemm_log, &s);
    }
    note_work(ctx, os, p == &sakd_gemm_provider_host ? "host BLAS" : "CLBlast", g);
    return p->run(ctx, g);
}

sakd_status sakd_gemm(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                      float alpha, sakd_mat a, sakd_mat b, float beta, sakd_mat c)
{
    int skip;
    SAKD_TRY(check_dims(m, n, k, beta, &skip));
    if (skip)
        return SAKD_OK;
    sakd_gemm_call g = {trans_a, trans_b, m, n, k, alpha, beta, a, b, c, 0, 0, 0, 0};
    return dispatch(ctx, &g);
}

sakd_status sakd_gemm_batched(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                              float alpha, sakd_mat a, size_t stride_a, sakd_mat b, size_t stride_b,
                              float beta, sakd_mat c, size_t stride_c, size_t batch)
{
    int skip;
    SAKD_TRY(check_dims(m, n, k, beta, &skip));
    if (skip || batch == 0)
        return SAKD_OK;
    sakd_gemm_call g = {trans_a, trans_b, m, n,        k,        alpha,    beta,
                        a,       b,       c, stride_a, stride_b, stride_c, batch};
    return dispatch(ctx, &g);
}
