/* blas_host.h — the host CPU's BLAS (OpenBLAS or BLIS, chosen by configure), loaded on first use
 * so that its kernel family and thread count are set before it initializes. */
#ifndef SAKD_OPS_BLAS_HOST_H
#define SAKD_OPS_BLAS_HOST_H

#include <stddef.h>

#include "runtime/status.h"

/* cblas_sgemm with the CBLAS standard's enum values (row-major 101, no transpose 111,
 * transpose 112), which OpenBLAS and BLIS share. */
typedef void (*sakd_cblas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k,
                                    float alpha, const float *a, int lda, const float *b, int ldb,
                                    float beta, float *c, int ldc);

typedef struct sakd_host_blas {
    const char *library; /* "OpenBLAS" or "BLIS" */
    const char *soname;  /* what was loaded, e.g. "libopenblas.so.0" */
    char version[96];    /* the library's own configuration string, else its version */
    char kernels[64];    /* kernel family in use: OpenBLAS's core name, BLIS's arch */
    char chosen_by[160]; /* how the kernel family was chosen */
    int threads;         /* threads of each GEMM */
    sakd_cblas_sgemm_fn sgemm;
    void (*set_threads)(int n); /* the library's thread count for the calls that follow */
} sakd_host_blas;

/* 1 when sakd was built with a host BLAS (configure --with-blas), else 0. */
int sakd_host_blas_built(void);

/* The library configure chose ("OpenBLAS", "BLIS") or "none". */
const char *sakd_host_blas_library(void);

/* Loads the host BLAS once per process (later calls return the same record). `threads` is the
 * thread count to use when SAKD_BLAS_THREADS is not set (>= 1). Before loading OpenBLAS with
 * OPENBLAS_CORETYPE unset, the kernel family is chosen from the CPU's instruction set (AVX-512
 * → SkylakeX, AVX2 → Haswell or Zen): older OpenBLAS releases fall back to generic kernels on
 * CPU models they do not know. SAKD_ERR_NOT_FOUND when not built with one or it cannot be
 * loaded. */
sakd_status sakd_host_blas_get(const sakd_host_blas **blas, int threads);

/* One line for headers and provenance, e.g. "OpenBLAS 0.3.21 (SkylakeX kernels, 2 threads)";
 * "not loaded" before sakd_host_blas_get succeeded. */
void sakd_host_blas_describe(char *buf, size_t size);

#endif
