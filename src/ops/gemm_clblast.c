/* gemm_clblast.c — the CLBlast GEMM provider (every OpenCL device): CLBlastSgemm and
 * CLBlastSgemmStridedBatched, with the stored tuning applied before the first call. */
#include "config.h"

#include <clblast_c.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/gemm_provider.h"
#include "ops/gemm_tuning.h"
#include "ops/ops_state.h"
#include "runtime/log.h"
#include "runtime/profile.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The one source of the CLBlast version sakd reports (provenance, tuning files, bench rows):
 * the headers it was compiled against. */
const char *sakd_clblast_version(void)
{
    return STR(CLBLAST_VERSION_MAJOR) "." STR(CLBLAST_VERSION_MINOR) "." STR(CLBLAST_VERSION_PATCH);
}

const char *sakd_clblast_strerror(int status)
{
    switch ((CLBlastStatusCode)status) {
#define NAME(code)                                                                                 \
    case code: return #code;
        NAME(CLBlastSuccess)
        NAME(CLBlastOpenCLCompilerNotAvailable)
        NAME(CLBlastTempBufferAllocFailure)
        NAME(CLBlastOpenCLOutOfResources)
        NAME(CLBlastOpenCLOutOfHostMemory)
        NAME(CLBlastOpenCLBuildProgramFailure)
        NAME(CLBlastInvalidValue)
        NAME(CLBlastInvalidCommandQueue)
        NAME(CLBlastInvalidMemObject)
        NAME(CLBlastInvalidBinary)
        NAME(CLBlastInvalidBuildOptions)
        NAME(CLBlastInvalidProgram)
        NAME(CLBlastInvalidProgramExecutable)
        NAME(CLBlastInvalidKernelName)
        NAME(CLBlastInvalidKernelDefinition)
        NAME(CLBlastInvalidKernel)
        NAME(CLBlastInvalidArgIndex)
        NAME(CLBlastInvalidArgValue)
        NAME(CLBlastInvalidArgSize)
        NAME(CLBlastInvalidKernelArgs)
        NAME(CLBlastInvalidLocalNumDimensions)
        NAME(CLBlastInvalidLocalThreadsTotal)
        NAME(CLBlastInvalidLocalThreadsDim)
        NAME(CLBlastInvalidGlobalOffset)
        NAME(CLBlastInvalidEventWaitList)
        NAME(CLBlastInvalidEvent)
        NAME(CLBlastInvalidOperation)
        NAME(CLBlastInvalidBufferSize)
        NAME(CLBlastInvalidGlobalWorkSize)
        NAME(CLBlastNotImplemented)
        NAME(CLBlastInvalidMatrixA)
        NAME(CLBlastInvalidMatrixB)
        NAME(CLBlastInvalidMatrixC)
        NAME(CLBlastInvalidVectorX)
        NAME(CLBlastInvalidVectorY)
        NAME(CLBlastInvalidDimension)
        NAME(CLBlastInvalidLeadDimA)
        NAME(CLBlastInvalidLeadDimB)
        NAME(CLBlastInvalidLeadDimC)
        NAME(CLBlastInvalidIncrementX)
        NAME(CLBlastInvalidIncrementY)
        NAME(CLBlastInsufficientMemoryA)
        NAME(CLBlastInsufficientMemoryB)
        NAME(CLBlastInsufficientMemoryC)
        NAME(CLBlastInsufficientMemoryX)
        NAME(CLBlastInsufficientMemoryY)
        NAME(CLBlastInsufficientMemoryTemp)
        NAME(CLBlastInvalidBatchCount)
        NAME(CLBlastInvalidOverrideKernel)
        NAME(CLBlastMissingOverrideParameter)
        NAME(CLBlastInvalidLocalMemUsage)
        NAME(CLBlastNoHalfPrecision)
        NAME(CLBlastNoDoublePrecision)
        NAME(CLBlastInvalidVectorScalar)
        NAME(CLBlastInsufficientMemoryScalar)
        NAME(CLBlastDatabaseError)
        NAME(CLBlastUnknownError)
        NAME(CLBlastUnexpectedError)
#undef NAME
    }
    return "CLBlastUnknownStatus";
}

static CLBlastTranspose transpose(int t)
{
    return t ? CLBlastTransposeYes : CLBlastTransposeNo;
}

/* Applies the device's stored tuning once per context, before its first GEMM:
 * $SAKD_GEMM_TUNING names a file, "off" keeps CLBlast's defaults, unset looks in the cache. */
static void ensure_tuning(sakd_ctx *ctx, sakd_ops_state *os)
{
    if (os->gemm_tuning_checked)
        return;
    os->gemm_tuning_checked = 1;
    const char *env = getenv("SAKD_GEMM_TUNING");
    char path[4096];
    if (env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0))
        return;
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else if (sakd_gemm_tuning_path(ctx, path, sizeof path) != SAKD_OK || access(path, R_OK) != 0)
        return; /* not tuned: CLBlast's defaults */
    sakd_gemm_tuning t;
    sakd_status st = sakd_gemm_tuning_read(path, &t);
    if (st == SAKD_OK)
        st = sakd_gemm_tuning_apply(ctx, &t);
    if (st != SAKD_OK) {
        sakd_log(SAKD_LOG_WARN, "GEMM tuning not applied, using CLBlast's defaults: %s",
                 sakd_error_detail());
        return;
    }
    os->gemm_tuning_file = strdup(path);
    sakd_log(SAKD_LOG_INFO, "GEMM tuning applied from %s", path);
}

const char *sakd_gemm_tuning_source(const sakd_ctx *ctx)
{
    const sakd_ops_state *os = sakd_ops_state_peek(ctx);
    return os && os->gemm_tuning_file ? os->gemm_tuning_file : "";
}

/* Contexts alive that CLBlast ran on. CLBlast caches compiled programs (and so references to
 * their contexts) for the whole process and would release them from an exit handler, after
 * sakd released the contexts: a use after release on implementations that free a program's
 * context with it (oclgrind aborts there). So the cache is cleared when the last context that
 * used CLBlast goes, while it is still alive. */
static int clblast_contexts;

static void clblast_release(sakd_ctx *ctx)
{
    (void)ctx;
    if (--clblast_contexts == 0)
        CLBlastClearCache();
}

sakd_status sakd_clblast_attach(sakd_ctx *ctx)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (os->clblast_used)
        return SAKD_OK;
    SAKD_TRY(sakd_ctx_on_release(ctx, clblast_release));
    os->clblast_used = 1;
    clblast_contexts++;
    return SAKD_OK;
}

static sakd_status clblast_run(sakd_ctx *ctx, const sakd_gemm_call *g)
{
    SAKD_TRY(sakd_clblast_attach(ctx));
    ensure_tuning(ctx, sakd_ops_state_peek(ctx));
    SAKD_TRY(sakd_gemm_tuning_select(ctx, g->trans_a, g->trans_b, g->batch > 0));
    SAKD_TRY(sakd_profile_mark(ctx));
    cl_event *ev = sakd_profile_event(ctx, NULL, "gemm");
    CLBlastStatusCode s;
    if (g->batch == 0)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, transpose(g->trans_a), transpose(g->trans_b), g->m,
                         g->n, g->k, g->alpha, g->a.buf, g->a.offset, g->a.ld, g->b.buf,
                         g->b.offset, g->b.ld, g->beta, g->c.buf, g->c.offset, g->c.ld, &ctx->queue,
                         ev);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, transpose(g->trans_a),
                                       transpose(g->trans_b), g->m, g->n, g->k, g->alpha, g->a.buf,
                                       g->a.offset, g->a.ld, g->stride_a, g->b.buf, g->b.offset,
                                       g->b.ld, g->stride_b, g->beta, g->c.buf, g->c.offset,
                                       g->c.ld, g->stride_c, g->batch, &ctx->queue, ev);
    if (s != CLBlastSuccess)
        return sakd_error(SAKD_ERR_CLBLAST,
                          "%s(%s, %s, m=%zu, n=%zu, k=%zu, lda=%zu, ldb=%zu, ldc=%zu, batch=%zu) "
                          "failed with %s (%d) on %s",
                          g->batch ? "CLBlastSgemmStridedBatched" : "CLBlastSgemm",
                          g->trans_a ? "T" : "N", g->trans_b ? "T" : "N", g->m, g->n, g->k, g->a.ld,
                          g->b.ld, g->c.ld, g->batch, sakd_clblast_strerror(s), (int)s,
                          ctx->info.name);
    return SAKD_OK;
}

const struct sakd_gemm_provider sakd_gemm_provider_clblast = {"clblast", clblast_run};
