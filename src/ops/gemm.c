/* gemm.c — thin wrapper over CLBlastSgemm and CLBlastSgemmStridedBatched: stored tuning applied
 * before the first call, calls recorded for the tuner and profiled on request. */
#include "config.h"

#include "ops/gemm.h"

#include <clblast_c.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/gemm_tune.h"
#include "runtime/log.h"
#include "runtime/profile.h"

const char *sakd_clblast_version(void)
{
    return SAKD_CLBLAST_VERSION;
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

/* Applies the device's stored tuning once per context, before its first GEMM:
 * $SAKD_GEMM_TUNING names a file, "off" keeps CLBlast's defaults, unset looks in the cache. */
static void ensure_tuning(sakd_ctx *ctx)
{
    if (ctx->gemm_tuning_checked)
        return;
    ctx->gemm_tuning_checked = 1;
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
    ctx->gemm_tuning_file = strdup(path);
    sakd_log(SAKD_LOG_INFO, "GEMM tuning applied from %s", path);
}

const char *sakd_gemm_tuning_source(const sakd_ctx *ctx)
{
    return ctx->gemm_tuning_file ? ctx->gemm_tuning_file : "";
}

/* Names the GEMM about to be queued as the context's last work (sakd_ctx_last_work). */
static void note_work(sakd_ctx *ctx, const char *routine, size_t m, size_t n, size_t k,
                      size_t batch)
{
    snprintf(ctx->last_gemm, sizeof ctx->last_gemm, "CLBlast %s (m=%zu, n=%zu, k=%zu, batch=%zu)",
             routine, m, n, k, batch);
    ctx->last_op = ctx->last_gemm;
}

static void record(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                   sakd_mat a, size_t stride_a, sakd_mat b, size_t stride_b, sakd_mat c,
                   size_t stride_c, size_t batch)
{
    sakd_gemm_shape s = {trans_a, trans_b, m,        n,        k,        a.ld, b.ld,
                         c.ld,    batch,   stride_a, stride_b, stride_c, 1};
    sakd_gemm_log_add(ctx->gemm_log, &s);
}

sakd_status sakd_gemm(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                      float alpha, sakd_mat a, sakd_mat b, float beta, sakd_mat c)
{
    int skip;
    SAKD_TRY(check_dims(m, n, k, beta, &skip));
    if (skip)
        return SAKD_OK;
    ensure_tuning(ctx);
    SAKD_TRY(sakd_gemm_tuning_select(ctx, trans_a, trans_b, 0));
    if (ctx->gemm_log)
        record(ctx, trans_a, trans_b, m, n, k, a, 0, b, 0, c, 0, 0);
    SAKD_TRY(sakd_profile_mark(ctx));
    note_work(ctx, "SGEMM", m, n, k, 1);
    CLBlastStatusCode s =
        CLBlastSgemm(CLBlastLayoutRowMajor, transpose(trans_a), transpose(trans_b), m, n, k, alpha,
                     a.buf, a.offset, a.ld, b.buf, b.offset, b.ld, beta, c.buf, c.offset, c.ld,
                     &ctx->queue, sakd_profile_event(ctx, NULL, "gemm"));
    if (s != CLBlastSuccess)
        return sakd_error(SAKD_ERR_CLBLAST,
                          "CLBlastSgemm(%s, %s, m=%zu, n=%zu, k=%zu, lda=%zu, ldb=%zu, ldc=%zu) "
                          "failed with %s (%d) on %s",
                          trans_a ? "T" : "N", trans_b ? "T" : "N", m, n, k, a.ld, b.ld, c.ld,
                          sakd_clblast_strerror(s), (int)s, ctx->info.name);
    return SAKD_OK;
}

sakd_status sakd_gemm_batched(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                              float alpha, sakd_mat a, size_t stride_a, sakd_mat b, size_t stride_b,
                              float beta, sakd_mat c, size_t stride_c, size_t batch)
{
    int skip;
    SAKD_TRY(check_dims(m, n, k, beta, &skip));
    if (skip || batch == 0)
        return SAKD_OK;
    ensure_tuning(ctx);
    SAKD_TRY(sakd_gemm_tuning_select(ctx, trans_a, trans_b, 1));
    if (ctx->gemm_log)
        record(ctx, trans_a, trans_b, m, n, k, a, stride_a, b, stride_b, c, stride_c, batch);
    SAKD_TRY(sakd_profile_mark(ctx));
    note_work(ctx, "SGEMM strided batched", m, n, k, batch);
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, transpose(trans_a), transpose(trans_b), m, n, k, alpha, a.buf,
        a.offset, a.ld, stride_a, b.buf, b.offset, b.ld, stride_b, beta, c.buf, c.offset, c.ld,
        stride_c, batch, &ctx->queue, sakd_profile_event(ctx, NULL, "gemm"));
    if (s != CLBlastSuccess)
        return sakd_error(SAKD_ERR_CLBLAST,
                          "CLBlastSgemmStridedBatched(%s, %s, m=%zu, n=%zu, k=%zu, batch=%zu) "
                          "failed with %s (%d) on %s",
                          trans_a ? "T" : "N", trans_b ? "T" : "N", m, n, k, batch,
                          sakd_clblast_strerror(s), (int)s, ctx->info.name);
    return SAKD_OK;
}
