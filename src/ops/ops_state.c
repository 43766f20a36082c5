/* ops_state.c — the per-context state of src/ops (see ops_state.h). */
#include "ops/ops_state.h"

#include <stdlib.h>

static void release(sakd_ctx *ctx)
{
    sakd_ops_state *s = ctx->ops;
    if (!s)
        return;
    free(s->gemm_tuning_file);
    free(s->gemm_tuning);
    free(s->spike_keys);
    free(s->spike_density);
    free(s);
    ctx->ops = NULL;
}

sakd_status sakd_ops_state_get(sakd_ctx *ctx, sakd_ops_state **out)
{
    if (!ctx->ops) {
        sakd_ops_state *s = calloc(1, sizeof *s);
        if (!s)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory for the ops state of %s",
                              ctx->info.name);
        /* Registered before anything that keeps state in it (oneDNN's primitives, CLBlast's
         * cache), so that it is released after them: hooks run last registered first. */
        sakd_status st = sakd_ctx_on_release(ctx, release);
        if (st != SAKD_OK) {
            free(s);
            return st;
        }
        s->gemm_active_set = -1;
        ctx->ops = s;
    }
    *out = ctx->ops;
    return SAKD_OK;
}

sakd_ops_state *sakd_ops_state_peek(const sakd_ctx *ctx)
{
    return ctx->ops;
}
