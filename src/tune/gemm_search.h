/* gemm_search.h — the GEMM tuner: searches CLBlast's kernel parameters on the recorded calls of
 * a model (`sakd tune`). A tool beside ops (DESIGN.md §1.1). */
#ifndef SAKD_TUNE_GEMM_SEARCH_H
#define SAKD_TUNE_GEMM_SEARCH_H

#include <stdio.h>

#include "ops/gemm_tuning.h"

/* Search options. */
typedef struct sakd_gemm_tune_opts {
    int xgemm_samples;  /* random valid configurations of the indirect kernel */
    int direct_samples; /* of the direct kernel */
    int refine_rounds;  /* rounds of one-parameter changes around the best */
    unsigned long long seed;
    double time_limit_s; /* stop sampling after this long (0 = no limit); half of it goes
                            to the general search, half to the per-class ones */
    FILE *log;           /* progress, or NULL */
    int per_class;       /* also search a set per call class (sakd_gemm_class_name) */
    /* A previous tuning (or NULL): its general indirect and direct sets are each kernel's first
     * candidates, before the random draws, so that a retune refines from where the last one
     * ended and keeps its sets unless something beats them on these calls. */
    const struct sakd_gemm_tuning *start;
} sakd_gemm_tune_opts;

/* Searches CLBlast's GEMM parameters on the calls in `log` (replayed on random operands; every
 * candidate's results checked against CLBlast's defaults) and fills `best` (parameters and the
 * per-step GEMM time and throughput before and after; device fields set). It must start with
 * CLBlast's defaults in effect (SAKD_GEMM_TUNING=off before the context's first GEMM), and
 * leaves `best` applied. */
sakd_status sakd_gemm_tune(sakd_ctx *ctx, const sakd_gemm_log *log, const sakd_gemm_tune_opts *opts,
                           sakd_gemm_tuning *best);

#endif
