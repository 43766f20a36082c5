/* gemm.c — thin wrapper over CLBlastSgemm and CLBlastSgemmStridedBatched. */
#include "ops/gemm.h"

#include <clblast_c.h>

const char *sakd_clblast_strerror(int status)
{
    switch ((CLBlastStatusCode)status) {
#define NAME(code) \
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

sakd_status sakd_gemm(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                      float alpha, sakd_mat a, sakd_mat b, float beta, sakd_mat c)
{
    int skip;
    SAKD_TRY(check_dims(m, n, k, beta, &skip));
    if (skip)
        return SAKD_OK;
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, transpose(trans_a),
                                       transpose(trans_b), m, n, k, alpha, a.buf, a.offset, a.ld,
                                       b.buf, b.offset, b.ld, beta, c.buf, c.offset, c.ld,
                                       &ctx->queue, NULL);
    if (s != CLBlastSuccess)
        return sakd_error(SAKD_ERR_CLBLAST,
                          "CLBlastSgemm(%s, %s, m=%zu, n=%zu, k=%zu, lda=%zu, ldb=%zu, ldc=%zu) "
                          "failed with %s (%d) on %s",
                          trans_a ? "T" : "N", trans_b ? "T" : "N", m, n, k, a.ld, b.ld, c.ld,
                          sakd_clblast_strerror(s), (int)s, ctx->info.name);
    return SAKD_OK;
}

sakd_status sakd_gemm_batched(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, sakd_mat a, size_t stride_a, sakd_mat b,
                              size_t stride_b, float beta, sakd_mat c, size_t stride_c,
                              size_t batch)
{
    int skip;
    SAKD_TRY(check_dims(m, n, k, beta, &skip));
    if (skip || batch == 0)
        return SAKD_OK;
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, transpose(trans_a), transpose(trans_b), m, n, k, alpha, a.buf,
        a.offset, a.ld, stride_a, b.buf, b.offset, b.ld, stride_b, beta, c.buf, c.offset, c.ld,
        stride_c, batch, &ctx->queue, NULL);
    if (s != CLBlastSuccess)
        return sakd_error(SAKD_ERR_CLBLAST,
                          "CLBlastSgemmStridedBatched(%s, %s, m=%zu, n=%zu, k=%zu, batch=%zu) "
                          "failed with %s (%d) on %s",
                          trans_a ? "T" : "N", trans_b ? "T" : "N", m, n, k, batch,
                          sakd_clblast_strerror(s), (int)s, ctx->info.name);
    return SAKD_OK;
}
