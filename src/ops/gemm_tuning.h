/* gemm_tuning.h — CLBlast GEMM tuning as ops use it: record the GEMM calls a model makes, and
 * read, write and apply the parameters stored per device (found by tune/gemm_search.h). */
#ifndef SAKD_OPS_GEMM_TUNING_H
#define SAKD_OPS_GEMM_TUNING_H

#include <stdio.h>

#include "runtime/context.h"

/* One distinct GEMM call as the ops make it (row-major; batch 0 = a plain GEMM). */
typedef struct sakd_gemm_shape {
    int trans_a, trans_b;
    size_t m, n, k, lda, ldb, ldc;
    size_t batch, stride_a, stride_b, stride_c;
    size_t count; /* how often it ran while recording */
} sakd_gemm_shape;

/* The distinct GEMM calls seen while recording. */
typedef struct sakd_gemm_log {
    sakd_gemm_shape *shapes;
    size_t n, cap;
} sakd_gemm_log;

/* From sakd_gemm_record_start to sakd_gemm_record_stop, every sakd_gemm and sakd_gemm_batched
 * call (and every GEMM a host convolution makes) on ctx is also counted in `log`. */
sakd_status sakd_gemm_record_start(sakd_ctx *ctx, sakd_gemm_log *log);
void sakd_gemm_record_stop(sakd_ctx *ctx);
void sakd_gemm_log_free(sakd_gemm_log *log);
/* Counts one call of `s` (a new entry, or count + 1 of an equal one); on allocation failure
 * the call goes unrecorded. */
void sakd_gemm_log_add(sakd_gemm_log *log, const sakd_gemm_shape *s);

/* Floating-point operations of one call of `s` (2·m·n·k per matrix). */
double sakd_gemm_shape_flops(const sakd_gemm_shape *s);

#define SAKD_GEMM_MAX_PARAMS 16
/* How many parameters CLBlast's indirect (Xgemm) and direct (XgemmDirect) GEMM kernels take: a
 * stored set names all of them (the tuner's spaces are checked against these). */
#define SAKD_GEMM_XGEMM_PARAMS 16
#define SAKD_GEMM_DIRECT_PARAMS 10

/* Parameter values of one CLBlast kernel ("Xgemm", "XgemmDirect", "GemmRoutine"). */
typedef struct sakd_gemm_params {
    size_t n;
    char names[SAKD_GEMM_MAX_PARAMS][32];
    size_t values[SAKD_GEMM_MAX_PARAMS];
} sakd_gemm_params;

/* GEMM calls fall into classes by their transposes and whether they are strided-batched:
 * "NN", "NT", "TN", "TT", each alone or with "-batched". The conv layers' forward, data
 * gradient and weight gradient each make one class, with shapes of their own (a 32-row
 * output against a 288-row one), where one kernel configuration rarely suits all. */
#define SAKD_GEMM_MAX_CLASSES 8
void sakd_gemm_class_name(int trans_a, int trans_b, int batched, char *buf, size_t size);

/* A class's own parameters: all three kernels' sets complete. */
typedef struct sakd_gemm_class_params {
    char name[16]; /* as sakd_gemm_class_name writes it */
    sakd_gemm_params xgemm, direct, routine;
    double ms_general, ms_tuned; /* its GEMM time per step: general set, own set */
} sakd_gemm_class_params;

/* A stored tuning: CLBlast parameters plus where they came from. */
typedef struct sakd_gemm_tuning {
    sakd_gemm_params xgemm;   /* indirect kernel (n = 0: CLBlast's default) */
    sakd_gemm_params direct;  /* direct kernel (n = 0: default) */
    sakd_gemm_params routine; /* GemmRoutine: XGEMM_MIN_INDIRECT_SIZE (n = 0: default) */
    /* Classes whose calls run faster with a set of their own; only with all three general
     * sets present (CLBlast cannot be told to go back to its defaults). */
    size_t n_classes;
    sakd_gemm_class_params classes[SAKD_GEMM_MAX_CLASSES];
    char platform[256], device[256], driver[256], clblast[32];
    char workload[256];          /* what the shapes came from, e.g. "resnet19 w0.25 T4 b32 28x28" */
    double ms_default, ms_tuned; /* the workload's GEMM time per step, default vs tuned */
    double gflops_default, gflops_tuned;
    char date[32];
} sakd_gemm_tuning;

/* The per-device tuning file: <cache dir>/gemm-tuning-<hash of platform, device, driver and
 * CLBlast version>.ini (see sakd_program_cache_dir). */
sakd_status sakd_gemm_tuning_path(const sakd_ctx *ctx, char *buf, size_t size);

/* Reads a tuning file; errors name the file, line and key. */
sakd_status sakd_gemm_tuning_read(const char *path, sakd_gemm_tuning *t);

/* Writes a tuning file atomically. */
sakd_status sakd_gemm_tuning_write(const char *path, const sakd_gemm_tuning *t);

/* Hands the general parameters to CLBlast (CLBlastOverrideParameters) for ctx's device and
 * keeps a copy in ctx: from then on each sakd_gemm call of a class with its own set switches
 * CLBlast to that set (and back), compiling each set's kernels once. A tuning for another
 * device, driver or CLBlast is refused. */
sakd_status sakd_gemm_tuning_apply(sakd_ctx *ctx, const sakd_gemm_tuning *t);

/* Hands one kernel's parameters ("Xgemm", "XgemmDirect", "GemmRoutine") to CLBlast for ctx's
 * device (CLBlastOverrideParameters); a set CLBlast refuses is SAKD_ERR_CLBLAST naming it. */
sakd_status sakd_gemm_params_override(sakd_ctx *ctx, const char *kernel, const sakd_gemm_params *p);

/* Puts the set that calls of class (trans_a, trans_b, batched) take under ctx's tuning into
 * effect when another one is (sakd_gemm and sakd_gemm_batched call it). */
sakd_status sakd_gemm_tuning_select(sakd_ctx *ctx, int trans_a, int trans_b, int batched);

/* Where sakd_gemm's first call on a context took its tuning from: the file applied, or "" when
 * none (no file, SAKD_GEMM_TUNING=off, or a file that could not be used: then a warning). */
const char *sakd_gemm_tuning_source(const sakd_ctx *ctx);

#endif
