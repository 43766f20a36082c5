/* gemm_search.c — searches CLBlast's GEMM kernel parameters on the GEMM calls a model makes
 * (random sampling of the valid space, then one-parameter refinement, then sets of their own for
 * the call classes that the general set serves worst), every candidate's results checked
 * against CLBlast's defaults. A tool beside ops: it uses ops' GEMMs and stored tuning
 * (ops/gemm_tuning.h); nothing in ops calls it. */
#include "tune/gemm_search.h"

#include <clblast_c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/gemm.h"
#include "ops/gemm_provider.h"
#include "ops/ops_state.h"
#include "runtime/rng.h"
#include "runtime/timer.h"

/* ---- the parameter spaces ------------------------------------------------------------------ */

/* One tunable parameter and the values the search draws from. */
typedef struct param_def {
    const char *name;
    size_t n;
    size_t values[6];
} param_def;

/* CLBlast's indirect kernel (GEMMK = 0 variant: KREG fixed at 1). */
static const param_def xgemm_space[] = {
    {"GEMMK", 1, {0}},
    {"KREG", 1, {1}},
    {"KWG", 3, {8, 16, 32}},
    {"KWI", 2, {2, 8}},
    {"MDIMA", 4, {4, 8, 16, 32}},
    {"MDIMC", 4, {4, 8, 16, 32}},
    {"MWG", 5, {8, 16, 32, 64, 128}},
    {"NDIMB", 4, {4, 8, 16, 32}},
    {"NDIMC", 4, {4, 8, 16, 32}},
    {"NWG", 5, {8, 16, 32, 64, 128}},
    {"SA", 2, {0, 1}},
    {"SB", 2, {0, 1}},
    {"STRM", 2, {0, 1}},
    {"STRN", 2, {0, 1}},
    {"VWM", 5, {1, 2, 4, 8, 16}},
    {"VWN", 5, {1, 2, 4, 8, 16}},
};
enum {
    X_GEMMK,
    X_KREG,
    X_KWG,
    X_KWI,
    X_MDIMA,
    X_MDIMC,
    X_MWG,
    X_NDIMB,
    X_NDIMC,
    X_NWG,
    X_SA,
    X_SB,
    X_STRM,
    X_STRN,
    X_VWM,
    X_VWN,
    X_COUNT
};

/* CLBlast's direct kernel (no padding or transposing copies). */
static const param_def direct_space[] = {
    {"KWID", 3, {2, 8, 16}},       {"MDIMAD", 4, {4, 8, 16, 32}}, {"MDIMCD", 4, {4, 8, 16, 32}},
    {"NDIMBD", 4, {4, 8, 16, 32}}, {"NDIMCD", 4, {4, 8, 16, 32}}, {"PADA", 2, {0, 1}},
    {"PADB", 2, {0, 1}},           {"VWMD", 4, {1, 2, 4, 8}},     {"VWND", 4, {1, 2, 4, 8}},
    {"WGD", 4, {8, 16, 32, 64}},
};
enum {
    D_KWID,
    D_MDIMAD,
    D_MDIMCD,
    D_NDIMBD,
    D_NDIMCD,
    D_PADA,
    D_PADB,
    D_VWMD,
    D_VWND,
    D_WGD,
    D_COUNT
};

typedef struct space {
    const char *kernel;
    const param_def *defs;
    size_t n;
} space;

static const space spaces[2] = {
    {"Xgemm", xgemm_space, X_COUNT},
    {"XgemmDirect", direct_space, D_COUNT},
};
_Static_assert(X_COUNT == SAKD_GEMM_XGEMM_PARAMS && D_COUNT == SAKD_GEMM_DIRECT_PARAMS,
               "the search spaces cover every parameter a stored set names");

static int divides(size_t d, size_t x)
{
    return d != 0 && x % d == 0;
}

/* CLBlast's own constraints on the kernels (integer tile splits, local memory, work-group
 * size), so that every candidate compiles and computes the right thing. */
static int valid(int which, const size_t *v, const sakd_device_info *dev)
{
    if (which == 0) {
        size_t mwg = v[X_MWG], nwg = v[X_NWG], kwg = v[X_KWG];
        size_t mdimc = v[X_MDIMC], ndimc = v[X_NDIMC], mdima = v[X_MDIMA], ndimb = v[X_NDIMB];
        if (!divides(v[X_KWI], kwg) || !divides(mdimc * v[X_VWM], mwg) ||
            !divides(ndimc * v[X_VWN], nwg) || !divides(mdima * v[X_VWM], mwg) ||
            !divides(ndimb * v[X_VWN], nwg) || !divides(mdima, mdimc * ndimc) ||
            !divides(ndimb, mdimc * ndimc) || !divides(mdimc * ndimc / mdima, kwg) ||
            !divides(mdimc * ndimc / ndimb, kwg))
            return 0;
        size_t local = (v[X_SA] * kwg * mwg + v[X_SB] * kwg * nwg) * sizeof(float);
        return local <= dev->local_mem && mdimc * ndimc <= dev->max_work_group;
    }
    size_t wgd = v[D_WGD], mdimcd = v[D_MDIMCD], ndimcd = v[D_NDIMCD];
    size_t mdimad = v[D_MDIMAD], ndimbd = v[D_NDIMBD];
    if (!divides(v[D_KWID], wgd) || !divides(mdimcd * v[D_VWMD], wgd) ||
        !divides(ndimcd * v[D_VWND], wgd) || !divides(mdimad * v[D_VWMD], wgd) ||
        !divides(ndimbd * v[D_VWND], wgd) || !divides(mdimad, mdimcd * ndimcd) ||
        !divides(ndimbd, mdimcd * ndimcd) || !divides(mdimcd * ndimcd / mdimad, wgd) ||
        !divides(mdimcd * ndimcd / ndimbd, wgd))
        return 0;
    size_t local = (wgd * (wgd + v[D_PADA]) + wgd * (wgd + v[D_PADB])) * sizeof(float);
    return local <= dev->local_mem && mdimcd * ndimcd <= dev->max_work_group;
}

static void to_params(int which, const size_t *v, sakd_gemm_params *p)
{
    const space *sp = &spaces[which];
    p->n = sp->n;
    for (size_t i = 0; i < sp->n; i++) {
        snprintf(p->names[i], sizeof p->names[i], "%s", sp->defs[i].name);
        p->values[i] = v[i];
    }
}

static void routine_params(size_t min_indirect, sakd_gemm_params *p)
{
    p->n = 1;
    snprintf(p->names[0], sizeof p->names[0], "XGEMM_MIN_INDIRECT_SIZE");
    p->values[0] = min_indirect;
}

/* ---- the search ---------------------------------------------------------------------------- */

/* Elements of a row-major rows x cols matrix with leading dimension ld. */
static size_t extent(size_t rows, size_t cols, size_t ld)
{
    return (rows - 1) * ld + cols;
}

static void shape_extents(const sakd_gemm_shape *s, size_t *ea, size_t *eb, size_t *ec)
{
    size_t nb = s->batch ? s->batch : 1;
    *ea = s->trans_a ? extent(s->k, s->m, s->lda) : extent(s->m, s->k, s->lda);
    *eb = s->trans_b ? extent(s->n, s->k, s->ldb) : extent(s->k, s->n, s->ldb);
    *ec = extent(s->m, s->n, s->ldc);
    *ea += (nb - 1) * s->stride_a;
    *eb += (nb - 1) * s->stride_b;
    *ec += (nb - 1) * s->stride_c;
}

/* Replay state: operands big enough for every shape, reference samples of every result. */
enum { SAMPLES = 4096 };
typedef struct replay {
    sakd_ctx *ctx;
    const sakd_gemm_log *log;
    cl_mem a, b, c;
    size_t ea, eb, ec;
    float *ref;                          /* [log->n][SAMPLES] results under CLBlast's defaults */
    size_t *index;                       /* [log->n][SAMPLES] element offsets of the samples in C */
    int *reps;                           /* [log->n] timed runs per shape */
    double *t_best_x, *t_best_d, *t_cur; /* [log->n] seconds per call */
    float *host;                         /* download scratch [ec] */
    int borrowed;                        /* a subset: a, b, c and host belong to another */
} replay;

static int same_class(const sakd_gemm_shape *a, const sakd_gemm_shape *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b &&
           (a->batch != 0) == (b->batch != 0);
}

static sakd_status run_shape(replay *r, size_t i)
{
    const sakd_gemm_shape *s = &r->log->shapes[i];
    sakd_mat a = {r->a, 0, s->lda}, b = {r->b, 0, s->ldb}, c = {r->c, 0, s->ldc};
    if (s->batch)
        return sakd_gemm_batched(r->ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a,
                                 s->stride_a, b, s->stride_b, 0.0f, c, s->stride_c, s->batch);
    return sakd_gemm(r->ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, b, 0.0f, c);
}

/* Runs shape i once and compares the sampled results with the reference (or stores them). */
static sakd_status check_shape(replay *r, size_t i, int store, int *ok)
{
    const sakd_gemm_shape *s = &r->log->shapes[i];
    SAKD_TRY(run_shape(r, i));
    size_t ea, eb, ec;
    shape_extents(s, &ea, &eb, &ec);
    SAKD_CL_CHECK(clEnqueueReadBuffer(r->ctx->queue, r->c, CL_TRUE, 0, ec * sizeof(float), r->host,
                                      0, NULL, NULL));
    float *ref = r->ref + i * SAMPLES;
    size_t *idx = r->index + i * SAMPLES;
    /* Operands are uniform in [-1, 1]: a sum of k products differs between summation orders
     * by at most about k·eps·E|ab| = k·eps/4; allow 8× that plus a relative term. */
    double tol = 8.0 * (double)s->k * 1.2e-7 / 4.0 + 1e-6;
    *ok = 1;
    for (size_t j = 0; j < SAMPLES; j++) {
        float v = r->host[idx[j]];
        if (store)
            ref[j] = v;
        else if (!(fabs((double)v - (double)ref[j]) <= tol + 1e-5 * fabs((double)ref[j])))
            *ok = 0;
    }
    return SAKD_OK;
}

static void pick_samples(replay *r, size_t i, unsigned long long seed)
{
    const sakd_gemm_shape *s = &r->log->shapes[i];
    size_t nb = s->batch ? s->batch : 1, total = nb * s->m * s->n;
    for (size_t j = 0; j < SAMPLES; j++) {
        size_t e = (size_t)((double)sakd_rng_uniform(seed, i * SAMPLES + j) * (double)total);
        if (e >= total)
            e = total - 1;
        size_t bi = e / (s->m * s->n), rem = e % (s->m * s->n);
        r->index[i * SAMPLES + j] = bi * s->stride_c + (rem / s->n) * s->ldc + rem % s->n;
    }
}

/* Seconds per call of shape i: the median of r->reps[i] runs, queue drained around each. */
static sakd_status time_shape(replay *r, size_t i, double *sec)
{
    double t[8];
    int n = r->reps[i];
    for (int j = 0; j < n; j++) {
        double t0 = sakd_time_now();
        SAKD_TRY(run_shape(r, i));
        SAKD_TRY(sakd_ctx_finish(r->ctx));
        t[j] = sakd_time_now() - t0;
    }
    *sec = sakd_median(t, (size_t)n);
    return SAKD_OK;
}

/* Weighted time (seconds per recorded step) of the current parameters over every shape, into
 * r->t_cur; stops early (returning +inf) once over `abort_above`. Results are checked against
 * the reference; a wrong or failing candidate scores +inf. */
static sakd_status evaluate(replay *r, double abort_above, double *total)
{
    *total = INFINITY;
    /* The first call of each CLBlast routine (plain and strided-batched GEMM, and each call
     * class with a set of its own) compiles the candidate, and the first launch of each of
     * its kernels makes PoCL build that kernel's work-group function: an untimed warm-up on
     * the smallest and the largest call of each class (the direct and the indirect kernel,
     * when the threshold splits the class). */
    for (size_t i = 0; i < r->log->n; i++) {
        const sakd_gemm_shape *si = &r->log->shapes[i];
        double fi = sakd_gemm_shape_flops(si);
        int smallest = 1, largest = 1;
        for (size_t j = 0; j < r->log->n; j++) {
            const sakd_gemm_shape *sj = &r->log->shapes[j];
            double fj = sakd_gemm_shape_flops(sj);
            if (j == i || !same_class(si, sj))
                continue;
            if (fj < fi || (fj == fi && j < i))
                smallest = 0;
            if (fj > fi || (fj == fi && j < i))
                largest = 0;
        }
        if ((smallest || largest) &&
            (run_shape(r, i) != SAKD_OK || sakd_ctx_finish(r->ctx) != SAKD_OK))
            return SAKD_OK; /* the candidate does not build or run here: skip it */
    }
    /* One pass: each shape's first run is checked against the reference and timed, more runs
     * for short shapes; stop as soon as the sum is over the limit. */
    double sum = 0.0;
    for (size_t i = 0; i < r->log->n; i++) {
        int ok = 1;
        double t0 = sakd_time_now();
        if (check_shape(r, i, 0, &ok) != SAKD_OK || !ok)
            return SAKD_OK;
        double first = sakd_time_now() - t0;
        if (r->reps[i] > 1) {
            if (time_shape(r, i, &r->t_cur[i]) != SAKD_OK)
                return SAKD_OK;
        } else {
            r->t_cur[i] = first; /* includes reading the samples back: a little pessimistic */
        }
        sum += (double)r->log->shapes[i].count * r->t_cur[i];
        if (sum > abort_above)
            return SAKD_OK;
    }
    *total = sum;
    return SAKD_OK;
}

static int is_vector_width(const char *name)
{
    return strcmp(name, "VWM") == 0 || strcmp(name, "VWN") == 0 || strcmp(name, "VWMD") == 0 ||
           strcmp(name, "VWND") == 0;
}

/* A random point of the space; every other draw takes its vector widths from those at least
 * `vec_min` wide (half the device's preferred float vector width), where wide SIMD units put
 * the fast kernels. */
static void draw(int which, unsigned long long seed, unsigned long long *counter, size_t vec_min,
                 size_t *v)
{
    const space *sp = &spaces[which];
    int wide = (*counter / 64) % 2 == 1 && vec_min > 1;
    for (size_t i = 0; i < sp->n; i++) {
        const param_def *d = &sp->defs[i];
        size_t lo = 0;
        if (wide && is_vector_width(d->name))
            while (lo + 1 < d->n && d->values[lo] < vec_min)
                lo++;
        float u = sakd_rng_uniform(seed, (*counter)++);
        size_t j = lo + (size_t)(u * (float)(d->n - lo));
        v[i] = d->values[j < d->n ? j : d->n - 1];
    }
    *counter = (*counter / 64 + 1) * 64; /* the next draw starts a fresh block of numbers */
}

static void describe_params(int which, const size_t *v, char *buf, size_t size)
{
    const space *sp = &spaces[which];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sp->n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s=%zu", i ? " " : "", sp->defs[i].name,
                                v[i]);
}

typedef struct search {
    replay *r;
    const sakd_gemm_tune_opts *o;
    double t0, budget_s; /* this kernel's share of the time limit */
    double t_default;    /* seconds per step with CLBlast's defaults */
    size_t vec_min;      /* half the device's preferred float vector width */
    unsigned long long counter;
} search;

static int out_of_time(const search *s)
{
    return s->budget_s > 0 && sakd_time_now() - s->t0 > s->budget_s;
}

/* Tries one candidate of kernel `which`; keeps it as the best when faster. */
static sakd_status try_candidate(search *s, int which, const size_t *v, size_t *best_v,
                                 double *best_total, double *best_times, int *tried)
{
    sakd_gemm_params p;
    to_params(which, v, &p);
    *tried = 0;
    if (sakd_gemm_params_override(s->r->ctx, spaces[which].kernel, &p) != SAKD_OK)
        return SAKD_OK;
    *tried = 1;
    double total;
    /* Abandon a candidate once it is 25 % behind the best so far (or 50 % behind CLBlast's
     * defaults while there is no best yet). */
    double limit = isfinite(*best_total) ? 1.25 * *best_total : 1.5 * s->t_default;
    SAKD_TRY(evaluate(s->r, limit, &total));
    int better = isfinite(total) && total < *best_total;
    if (better) {
        *best_total = total;
        memcpy(best_v, v, spaces[which].n * sizeof *v);
        memcpy(best_times, s->r->t_cur, s->r->log->n * sizeof *best_times);
    }
    if (s->o->log) {
        char text[512];
        describe_params(which, v, text, sizeof text);
        if (isfinite(total))
            fprintf(s->o->log, "  %8.1f ms%s  %s\n", 1e3 * total, better ? " *" : "  ", text);
        else
            fprintf(s->o->log, "  %11s  %s\n", "slower/fail", text);
        fflush(s->o->log);
    }
    return SAKD_OK;
}

/* Random valid candidates of kernel `which`, then rounds of one-parameter changes. */
static sakd_status search_kernel(search *s, int which, int samples, size_t *best_v,
                                 double *best_total, double *best_times)
{
    const space *sp = &spaces[which];
    size_t v[SAKD_GEMM_MAX_PARAMS];
    int drawn = 0;
    for (int attempt = 0; drawn < samples && attempt < 100000 && !out_of_time(s); attempt++) {
        draw(which, s->o->seed, &s->counter, s->vec_min, v);
        if (!valid(which, v, &s->r->ctx->info))
            continue;
        int tried;
        SAKD_TRY(try_candidate(s, which, v, best_v, best_total, best_times, &tried));
        drawn += tried;
    }
    if (!isfinite(*best_total))
        return SAKD_OK;
    for (int round = 0; round < s->o->refine_rounds && !out_of_time(s); round++) {
        int improved = 0;
        for (size_t i = 0; i < sp->n && !out_of_time(s); i++) {
            for (size_t j = 0; j < sp->defs[i].n; j++) {
                if (sp->defs[i].values[j] == best_v[i])
                    continue;
                /* Neighbouring values only: the one below and the one above the best. */
                size_t cur = 0;
                while (cur < sp->defs[i].n && sp->defs[i].values[cur] != best_v[i])
                    cur++;
                if (j + 1 != cur && j != cur + 1)
                    continue;
                memcpy(v, best_v, sp->n * sizeof *v);
                v[i] = sp->defs[i].values[j];
                if (!valid(which, v, &s->r->ctx->info))
                    continue;
                double before = *best_total;
                int tried;
                SAKD_TRY(try_candidate(s, which, v, best_v, best_total, best_times, &tried));
                improved |= *best_total < before;
            }
        }
        if (!improved)
            break;
    }
    return SAKD_OK;
}

static sakd_status force_path(sakd_ctx *ctx, int direct)
{
    sakd_gemm_params p;
    routine_params(direct ? 100000 : 0, &p);
    return sakd_gemm_params_override(ctx, "GemmRoutine", &p);
}

static double mnk(const sakd_gemm_shape *s)
{
    return (double)s->m * (double)s->n * (double)s->k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The XGEMM_MIN_INDIRECT_SIZE that minimizes the total when shapes with m·n·k below its cube
 * take the direct kernel (times td) and the rest the indirect one (times tx). */
static size_t choose_threshold(const sakd_gemm_log *log, const double *tx, const double *td,
                               double *total)
{
    size_t n = log->n;
    double *cuts = malloc((n + 1) * sizeof *cuts);
    if (!cuts) {
        *total = INFINITY;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        cuts[i] = mnk(&log->shapes[i]);
    qsort(cuts, n, sizeof *cuts, cmp_double);
    cuts[n] = INFINITY;
    double best = INFINITY, best_cut = 0.0;
    /* Cut c: direct for m·n·k < c. Candidates: 0 and just above every shape's m·n·k. */
    for (size_t j = 0; j <= n; j++) {
        double cut = j == 0 ? 0.0 : cuts[j - 1] * (1.0 + 1e-9) + 1.0;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            double t = mnk(&log->shapes[i]) < cut ? td[i] : tx[i];
            sum += (double)log->shapes[i].count * t;
        }
        if (sum < best) {
            best = sum;
            best_cut = cut;
        }
    }
    free(cuts);
    *total = best;
    if (best_cut <= 0.0)
        return 0;
    /* The smallest integer size whose cube reaches the cut. */
    size_t size = (size_t)ceil(cbrt(best_cut));
    while ((double)size * size * size < best_cut)
        size++;
    return size;
}

static void replay_free(replay *r)
{
    if (r->a && !r->borrowed)
        clReleaseMemObject(r->a);
    if (r->b && !r->borrowed)
        clReleaseMemObject(r->b);
    if (r->c && !r->borrowed)
        clReleaseMemObject(r->c);
    if (!r->borrowed)
        free(r->host);
    free(r->ref);
    free(r->index);
    free(r->reps);
    free(r->t_best_x);
    free(r->t_best_d);
    free(r->t_cur);
}

/* The per-call arrays of a replay of n calls; 0 when one could not be allocated (the ones
 * that were are freed by replay_free). */
static int replay_alloc_calls(replay *r, size_t n)
{
    r->ref = malloc(n * SAMPLES * sizeof *r->ref);
    r->index = malloc(n * SAMPLES * sizeof *r->index);
    r->reps = malloc(n * sizeof *r->reps);
    r->t_best_x = malloc(n * sizeof(double));
    r->t_best_d = malloc(n * sizeof(double));
    r->t_cur = malloc(n * sizeof(double));
    return r->ref && r->index && r->reps && r->t_best_x && r->t_best_d && r->t_cur;
}

static sakd_status upload_random(sakd_ctx *ctx, cl_mem buf, size_t n, unsigned long long seed)
{
    float *h = malloc(n * sizeof *h);
    if (!h)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for %zu GEMM operands", n);
    for (size_t i = 0; i < n; i++)
        h[i] = 2.0f * sakd_rng_uniform(seed, i) - 1.0f;
    cl_int err = clEnqueueWriteBuffer(ctx->queue, buf, CL_TRUE, 0, n * sizeof *h, h, 0, NULL, NULL);
    free(h);
    if (err != CL_SUCCESS)
        return sakd_error(SAKD_ERR_OPENCL, "uploading GEMM operands: %s", sakd_cl_strerror(err));
    return SAKD_OK;
}

static sakd_status replay_init(replay *r, sakd_ctx *ctx, const sakd_gemm_log *log,
                               unsigned long long seed)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->log = log;
    for (size_t i = 0; i < log->n; i++) {
        size_t ea, eb, ec;
        shape_extents(&log->shapes[i], &ea, &eb, &ec);
        r->ea = ea > r->ea ? ea : r->ea;
        r->eb = eb > r->eb ? eb : r->eb;
        r->ec = ec > r->ec ? ec : r->ec;
    }
    r->host = malloc(r->ec * sizeof *r->host);
    if (!replay_alloc_calls(r, log->n) || !r->host)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the GEMM replay");
    size_t n = log->n;
    SAKD_TRY(sakd_buffer_new(ctx, "tuning operand A", r->ea * sizeof(float), &r->a));
    SAKD_TRY(sakd_buffer_new(ctx, "tuning operand B", r->eb * sizeof(float), &r->b));
    SAKD_TRY(sakd_buffer_new(ctx, "tuning result C", r->ec * sizeof(float), &r->c));
    SAKD_TRY(upload_random(ctx, r->a, r->ea, seed));
    SAKD_TRY(upload_random(ctx, r->b, r->eb, seed + 1));
    for (size_t i = 0; i < n; i++)
        pick_samples(r, i, seed + 2);
    return SAKD_OK;
}

/* The calls ids[0..n) of `full` as a replay of their own (`sub_log` holds their shapes),
 * sharing its operands and reference results. */
static sakd_status replay_subset(const replay *full, const size_t *ids, size_t n,
                                 sakd_gemm_log *sub_log, replay *sub)
{
    memset(sub, 0, sizeof *sub);
    sub->ctx = full->ctx;
    sub->log = sub_log;
    sub->a = full->a;
    sub->b = full->b;
    sub->c = full->c;
    sub->ea = full->ea;
    sub->eb = full->eb;
    sub->ec = full->ec;
    sub->host = full->host;
    sub->borrowed = 1;
    sub_log->shapes = malloc(n * sizeof *sub_log->shapes);
    sub_log->n = sub_log->cap = n;
    if (!replay_alloc_calls(sub, n) || !sub_log->shapes)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a GEMM class replay");
    for (size_t j = 0; j < n; j++) {
        size_t i = ids[j];
        sub_log->shapes[j] = full->log->shapes[i];
        memcpy(sub->ref + j * SAMPLES, full->ref + i * SAMPLES, SAMPLES * sizeof *sub->ref);
        memcpy(sub->index + j * SAMPLES, full->index + i * SAMPLES, SAMPLES * sizeof *sub->index);
        sub->reps[j] = full->reps[i];
        sub->t_cur[j] = full->t_cur[i];
    }
    return SAKD_OK;
}

/* The values of kernel `which`'s space in its definition order, taken from `p` by name;
 * 0 when p lacks one. */
static int values_of(int which, const sakd_gemm_params *p, size_t *v)
{
    const space *sp = &spaces[which];
    for (size_t i = 0; i < sp->n; i++) {
        size_t j = 0;
        while (j < p->n && strcmp(p->names[j], sp->defs[i].name) != 0)
            j++;
        if (j == p->n)
            return 0;
        v[i] = p->values[j];
    }
    return 1;
}

static sakd_status override_set(sakd_ctx *ctx, const sakd_gemm_params *x, const sakd_gemm_params *d,
                                const sakd_gemm_params *rt)
{
    SAKD_TRY(sakd_gemm_params_override(ctx, "Xgemm", x));
    SAKD_TRY(sakd_gemm_params_override(ctx, "XgemmDirect", d));
    return sakd_gemm_params_override(ctx, "GemmRoutine", rt);
}

/* Each call of r to the faster kernel, split by one m·n·k threshold, from the kernels' best
 * sets bx and bd (tx and td seconds per step; an infinite one found nothing and is left out):
 * the sets found into *x and *d, the threshold into *rt and returned, the predicted seconds per
 * step into *predicted. */
static size_t combine(replay *r, const size_t *bx, double tx, const size_t *bd, double td,
                      sakd_gemm_params *x, sakd_gemm_params *d, sakd_gemm_params *rt,
                      double *predicted)
{
    for (size_t i = 0; i < r->log->n; i++) {
        if (!isfinite(tx))
            r->t_best_x[i] = INFINITY;
        if (!isfinite(td))
            r->t_best_d[i] = INFINITY;
    }
    size_t threshold = choose_threshold(r->log, r->t_best_x, r->t_best_d, predicted);
    if (isfinite(tx))
        to_params(0, bx, x);
    if (isfinite(td))
        to_params(1, bd, d);
    routine_params(threshold, rt);
    return threshold;
}

/* Searches kernel `which` for a class within s's budget: the general set's values `from`
 * first, then refinement around the best (after `samples` random candidates when those values
 * failed); the best into v, *t and t_best. */
static sakd_status refine_from(search *s, int which, const sakd_gemm_params *from, int samples,
                               size_t *v, double *t, double *t_best)
{
    size_t start_v[SAKD_GEMM_MAX_PARAMS];
    int tried;
    sakd_status st = SAKD_OK;
    if (values_of(which, from, start_v))
        st = try_candidate(s, which, start_v, v, t, t_best, &tried);
    if (st == SAKD_OK)
        st = search_kernel(s, which, isfinite(*t) ? 0 : samples, v, t, t_best);
    return st;
}

/* A class's own sets into c, combined from the kernels' best (bx timed tx, bd timed td; a
 * kernel that found nothing keeps the general set g's values, never used when the threshold
 * sends every call to the other kernel), applied and timed over sub into *t_own. */
static sakd_status measure_class(replay *sub, const size_t *bx, double tx, const size_t *bd,
                                 double td, const sakd_gemm_tuning *g, sakd_gemm_class_params *c,
                                 double *t_own)
{
    double predicted;
    combine(sub, bx, tx, bd, td, &c->xgemm, &c->direct, &c->routine, &predicted);
    if (!isfinite(tx))
        c->xgemm = g->xgemm;
    if (!isfinite(td))
        c->direct = g->direct;
    SAKD_TRY(override_set(sub->ctx, &c->xgemm, &c->direct, &c->routine));
    return evaluate(sub, INFINITY, t_own);
}

/* Searches a set of its own for class `name` (the calls ids[0..n) of r, taking `general_s`
 * per step under the general set `g`, which is in effect on entry and again on return) within
 * `budget_s`; fills *c and sets *keep when its set beats the general one by 5 % or more. */
static sakd_status tune_class(search *base, const char *name, const size_t *ids, size_t n,
                              double general_s, double budget_s, const sakd_gemm_tuning *g,
                              sakd_gemm_class_params *c, int *keep)
{
    *keep = 0;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->ms_general = 1e3 * general_s;
    c->ms_tuned = c->ms_general;
    const sakd_gemm_tune_opts *o = base->o;
    sakd_gemm_log sub_log = {0};
    replay sub;
    sakd_status st = replay_subset(base->r, ids, n, &sub_log, &sub);
    double start = sakd_time_now();
    search s = {&sub,         o,
                start,        budget_s * (o->direct_samples > 0 ? 2.0 / 3.0 : 1.0),
                general_s,    base->vec_min,
                base->counter};
    size_t bx[SAKD_GEMM_MAX_PARAMS], bd[SAKD_GEMM_MAX_PARAMS];
    double tx = INFINITY, td = INFINITY;
    if (st == SAKD_OK && o->log)
        fprintf(o->log,
                "class %s: %zu distinct calls, %.1f ms per step with the general set; %.0f s "
                "to search\n",
                name, n, 1e3 * general_s, budget_s);
    /* Each kernel's search starts from the general set's values and refines around them
     * (no random draws: on a CPU every candidate is a compile of seconds, and the budget of a
     * class holds a handful). */
    sakd_gemm_tune_opts refine = *o;
    if (refine.refine_rounds < 1)
        refine.refine_rounds = 1;
    s.o = &refine;
    if (st == SAKD_OK)
        st = force_path(sub.ctx, 0);
    if (st == SAKD_OK)
        st = refine_from(&s, 0, &g->xgemm, o->xgemm_samples, bx, &tx, sub.t_best_x);
    if (st == SAKD_OK && o->direct_samples > 0) {
        st = force_path(sub.ctx, 1);
        s.t0 = sakd_time_now();
        s.budget_s = budget_s - (s.t0 - start);
        if (s.budget_s <= 0)
            s.budget_s = 1e-9;
        if (st == SAKD_OK)
            st = refine_from(&s, 1, &g->direct, o->direct_samples, bd, &td, sub.t_best_d);
    }
    base->counter = s.counter;
    double t_own = INFINITY;
    if (st == SAKD_OK && (isfinite(tx) || isfinite(td)))
        st = measure_class(&sub, bx, tx, bd, td, g, c, &t_own);
    if (st == SAKD_OK) /* back to the general set */
        st = override_set(sub.ctx, &g->xgemm, &g->direct, &g->routine);
    replay_free(&sub);
    sakd_gemm_log_free(&sub_log);
    SAKD_TRY(st);
    *keep = isfinite(t_own) && t_own < 0.95 * general_s;
    if (*keep)
        c->ms_tuned = 1e3 * t_own;
    if (o->log)
        fprintf(o->log, "class %s: %.1f ms with its own set against %.1f ms general: %s\n", name,
                1e3 * t_own, 1e3 * general_s, *keep ? "kept" : "not kept (under 5 % faster)");
    return SAKD_OK;
}

/* Per-class sets on top of the general tuning `best` (applied, with r->t_cur its per-call
 * times): classes taking 5 % or more of the step, each searched within a share of
 * `budget_s` proportional to its time. */
static sakd_status tune_classes(search *base, double budget_s, sakd_gemm_tuning *best)
{
    replay *r = base->r;
    const sakd_gemm_log *log = r->log;
    size_t *ids = malloc(log->n * sizeof *ids);
    if (!ids)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    double total = 0.0;
    for (size_t i = 0; i < log->n; i++)
        total += (double)log->shapes[i].count * r->t_cur[i];
    int done[8] = {0};
    sakd_status st = SAKD_OK;
    best->n_classes = 0;
    double t_start = sakd_time_now();
    for (int round = 0; round < 8 && st == SAKD_OK; round++) {
        /* The largest class not searched yet. */
        int pick = -1;
        double pick_s = 0.0;
        for (int k = 0; k < 8; k++) {
            if (done[k])
                continue;
            double sum = 0.0;
            for (size_t i = 0; i < log->n; i++) {
                const sakd_gemm_shape *sh = &log->shapes[i];
                if (sh->trans_a == (k & 1) && sh->trans_b == ((k >> 1) & 1) &&
                    (sh->batch != 0) == (k >> 2))
                    sum += (double)sh->count * r->t_cur[i];
            }
            if (sum > pick_s) {
                pick_s = sum;
                pick = k;
            }
        }
        if (pick < 0 || pick_s < 0.05 * total)
            break;
        done[pick] = 1;
        size_t n = 0;
        for (size_t i = 0; i < log->n; i++) {
            const sakd_gemm_shape *sh = &log->shapes[i];
            if (sh->trans_a == (pick & 1) && sh->trans_b == ((pick >> 1) & 1) &&
                (sh->batch != 0) == (pick >> 2))
                ids[n++] = i;
        }
        char name[16];
        sakd_gemm_class_name(pick & 1, (pick >> 1) & 1, pick >> 2, name, sizeof name);
        /* Its share of what is left of the budget, by its share of what is left to search. */
        double left_s = budget_s - (sakd_time_now() - t_start), left_total = 0.0;
        for (size_t i = 0; i < log->n; i++) {
            const sakd_gemm_shape *sh = &log->shapes[i];
            int k = sh->trans_a | sh->trans_b << 1 | (sh->batch != 0) << 2;
            if (!done[k] || k == pick)
                left_total += (double)sh->count * r->t_cur[i];
        }
        if (left_s <= 0)
            break;
        sakd_gemm_class_params c;
        int keep;
        st = tune_class(base, name, ids, n, pick_s, left_s * pick_s / left_total, best, &c, &keep);
        if (st == SAKD_OK && keep)
            best->classes[best->n_classes++] = c;
    }
    free(ids);
    return st;
}

static sakd_status tune(sakd_ctx *ctx, const sakd_gemm_log *log, const sakd_gemm_tune_opts *opts,
                        sakd_gemm_tuning *best);

/* The search times CLBlast's kernels: ctx's GEMMs go to CLBlast meanwhile, whatever its
 * provider otherwise is. */
sakd_status sakd_gemm_tune(sakd_ctx *ctx, const sakd_gemm_log *log, const sakd_gemm_tune_opts *opts,
                           sakd_gemm_tuning *best)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    const struct sakd_gemm_provider *was = os->gemm_provider;
    char why[sizeof os->gemm_provider_why];
    memcpy(why, os->gemm_provider_why, sizeof why);
    os->gemm_provider = &sakd_gemm_provider_clblast;
    sakd_status st = tune(ctx, log, opts, best);
    os->gemm_provider = was;
    memcpy(os->gemm_provider_why, why, sizeof why);
    return st;
}

/* An error unless there are calls to tune on and CLBlast runs with its defaults. */
static sakd_status check_untuned(sakd_ctx *ctx, const sakd_gemm_log *log)
{
    if (!log->n)
        return sakd_error(SAKD_ERR_ARG, "no GEMM calls recorded to tune on");
    if (sakd_gemm_tuning_source(ctx)[0])
        return sakd_error(SAKD_ERR_ARG,
                          "a stored tuning (%s) is already applied; tune with "
                          "CLBlast's defaults (SAKD_GEMM_TUNING=off)",
                          sakd_gemm_tuning_source(ctx));
    return SAKD_OK;
}

/* Floating-point operations of one recorded step: every call times its count. */
static double step_flops(const sakd_gemm_log *log)
{
    double flops = 0.0;
    for (size_t i = 0; i < log->n; i++)
        flops += (double)log->shapes[i].count * sakd_gemm_shape_flops(&log->shapes[i]);
    return flops;
}

/* CLBlast's defaults on every call of r: stores the reference results, sets each call's timed
 * runs and time, and sums the seconds per step into *t_default. */
static sakd_status time_defaults(replay *r, double *t_default)
{
    const sakd_gemm_log *log = r->log;
    sakd_status st = SAKD_OK;
    *t_default = 0.0;
    for (size_t i = 0; i < log->n && st == SAKD_OK; i++) {
        int ok;
        if (i == 0) /* compile CLBlast's default kernels first, untimed */
            st = check_shape(r, i, 1, &ok);
        double t0 = sakd_time_now();
        if (st == SAKD_OK)
            st = check_shape(r, i, 1, &ok); /* timed as evaluate() times a candidate's */
        double first = sakd_time_now() - t0;
        if (st == SAKD_OK) {
            /* More runs for short calls, so each shape is timed over about 50 ms. */
            double want = 0.05 / (first > 1e-6 ? first : 1e-6);
            r->reps[i] = want >= 8 ? 8 : want <= 1 ? 1 : (int)want;
            if (r->reps[i] > 1)
                st = time_shape(r, i, &r->t_cur[i]);
            else
                r->t_cur[i] = first;
        }
        if (st == SAKD_OK)
            *t_default += (double)log->shapes[i].count * r->t_cur[i];
    }
    return st;
}

/* Half the device's preferred float vector width; 1 when it prefers no vectors. */
static size_t vector_min(sakd_ctx *ctx)
{
    cl_uint pref = 0;
    if (clGetDeviceInfo(ctx->info.device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof pref,
                        &pref, NULL) == CL_SUCCESS &&
        pref >= 2)
        return pref / 2;
    return 1;
}

/* Searches kernel `which` within s's budget: the set `start` (may be NULL) first when it is
 * one valid here, then `samples` random candidates and refinement; the best into v, *t and
 * t_best. */
static sakd_status search_from(search *s, int which, const sakd_gemm_params *start, int samples,
                               size_t *v, double *t, double *t_best)
{
    size_t start_v[SAKD_GEMM_MAX_PARAMS];
    int tried;
    sakd_status st = SAKD_OK;
    if (start && values_of(which, start, start_v) && valid(which, start_v, &s->r->ctx->info)) {
        if (s->o->log)
            fprintf(s->o->log, "  (the start tuning's set first)\n");
        st = try_candidate(s, which, start_v, v, t, t_best, &tried);
    }
    if (st == SAKD_OK)
        st = search_kernel(s, which, samples, v, t, t_best);
    return st;
}

/* The general search within `limit_s` (none when 0) from s->t0: the indirect kernel's best
 * set into bx and *tx within s's budget, then the direct one's into bd and *td within what
 * is left; a kernel that found nothing keeps its time. */
static sakd_status search_general(search *s, double limit_s, size_t *bx, double *tx, size_t *bd,
                                  double *td)
{
    const sakd_gemm_tune_opts *o = s->o;
    const sakd_gemm_tuning *from = o->start;
    sakd_ctx *ctx = s->r->ctx;
    double start = s->t0;
    if (o->log)
        fprintf(o->log, "indirect kernel (Xgemm): %d random candidates, then refinement\n",
                o->xgemm_samples);
    sakd_status st = force_path(ctx, 0);
    if (st == SAKD_OK)
        st =
            search_from(s, 0, from ? &from->xgemm : NULL, o->xgemm_samples, bx, tx, s->r->t_best_x);
    if (st == SAKD_OK && o->log)
        fprintf(o->log, "direct kernel (XgemmDirect): %d random candidates, then refinement\n",
                o->direct_samples);
    if (st == SAKD_OK && o->direct_samples > 0)
        st = force_path(ctx, 1);
    s->t0 = sakd_time_now();
    s->budget_s = limit_s > 0 ? limit_s - (s->t0 - start) : 0.0;
    if (s->budget_s < 0)
        s->budget_s = 1e-9; /* nothing left: no direct candidates */
    if (st == SAKD_OK && o->direct_samples > 0)
        st = search_from(s, 1, from ? &from->direct : NULL, o->direct_samples, bd, td,
                         s->r->t_best_d);
    return st;
}

/* Where and when `best` is made, and CLBlast's defaults' time (t_default seconds per step of
 * `flops` operations). */
static void stamp(sakd_gemm_tuning *best, const sakd_device_info *d, double t_default, double flops)
{
    snprintf(best->platform, sizeof best->platform, "%s", d->platform_name);
    snprintf(best->device, sizeof best->device, "%s", d->name);
    snprintf(best->driver, sizeof best->driver, "%s", d->driver);
    snprintf(best->clblast, sizeof best->clblast, "%s", sakd_clblast_version());
    time_t now = time(NULL);
    strftime(best->date, sizeof best->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    best->ms_default = 1e3 * t_default;
    best->gflops_default = flops / t_default * 1e-9;
}

/* Measures what will actually run: `best` (both kernels and the threshold) applied together,
 * its seconds per step over r's calls into *t; an error when it computes wrong or fails. */
static sakd_status measure(replay *r, const sakd_gemm_tuning *best, double *t)
{
    *t = INFINITY;
    SAKD_TRY(sakd_gemm_tuning_apply(r->ctx, best));
    SAKD_TRY(evaluate(r, INFINITY, t));
    if (!isfinite(*t))
        return sakd_error(SAKD_ERR_CLBLAST, "the chosen GEMM parameters failed their final check");
    return SAKD_OK;
}

/* Sets of their own for the classes of calls that the general set of `best` serves worst,
 * within what is left since `start` of the time limit; they stay when the step, measured with
 * them, beats *t_final (which then becomes that time). Switching sets needs all three general
 * ones (CLBlast cannot be sent back to its defaults). */
static sakd_status search_classes(search *s, double start, sakd_gemm_tuning *best, double *t_final)
{
    const sakd_gemm_tune_opts *opts = s->o;
    FILE *lg = opts->log;
    sakd_ctx *ctx = s->r->ctx;
    if (!best->xgemm.n || !best->direct.n || !best->routine.n) {
        if (lg)
            fprintf(lg, "no per-class search: it needs a general set of all three kernels\n");
        return SAKD_OK;
    }
    double left =
        opts->time_limit_s > 0 ? opts->time_limit_s - (sakd_time_now() - start) : INFINITY;
    /* The search runs on the general set alone: no class switching meanwhile. */
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    free(os->gemm_tuning);
    os->gemm_tuning = NULL;
    sakd_status st = SAKD_OK;
    if (left > 0)
        st = tune_classes(s, left, best);
    double t_classes = INFINITY;
    if (st == SAKD_OK)
        st = sakd_gemm_tuning_apply(ctx, best);
    if (st == SAKD_OK && best->n_classes)
        st = evaluate(s->r, INFINITY, &t_classes);
    if (st == SAKD_OK && best->n_classes) {
        if (lg)
            fprintf(lg,
                    "with %zu class set(s): %.1f ms measured, against %.1f ms with the "
                    "general set alone\n",
                    best->n_classes, 1e3 * t_classes, 1e3 * *t_final);
        if (t_classes < *t_final) {
            *t_final = t_classes;
        } else {
            best->n_classes = 0;
            st = sakd_gemm_tuning_apply(ctx, best);
        }
    }
    return st;
}

/* The search of sakd_gemm_tune: CLBlast's defaults timed, a general set searched, combined and
 * measured, then per-class sets when asked for; the outcome into *best, applied to ctx. */
static sakd_status tune(sakd_ctx *ctx, const sakd_gemm_log *log, const sakd_gemm_tune_opts *opts,
                        sakd_gemm_tuning *best)
{
    memset(best, 0, sizeof *best);
    SAKD_TRY(check_untuned(ctx, log));
    replay r;
    sakd_status st = replay_init(&r, ctx, log, opts->seed);
    FILE *lg = opts->log;
    double flops = step_flops(log);

    /* CLBlast's defaults: the reference results and the time to beat. */
    double t_default = 0.0;
    if (st == SAKD_OK)
        st = time_defaults(&r, &t_default);
    if (st == SAKD_OK && lg)
        fprintf(lg,
                "CLBlast defaults: %.1f ms of GEMM per step (%.2f GFLOP/s) over %zu distinct "
                "calls\n",
                1e3 * t_default, flops / t_default * 1e-9, log->n);

    /* The time limit is shared: two thirds for the indirect kernel, the rest (and whatever
     * the first search left) for the direct one. */
    double start = sakd_time_now();
    /* With per-class searches, the general one gets half of the time limit. */
    double general_limit = opts->per_class ? opts->time_limit_s / 2.0 : opts->time_limit_s;
    search s = {
        &r,        opts, start, general_limit * (opts->direct_samples > 0 ? 2.0 / 3.0 : 1.0),
        t_default, 1,    0};
    s.vec_min = vector_min(ctx);
    size_t bx[SAKD_GEMM_MAX_PARAMS], bd[SAKD_GEMM_MAX_PARAMS];
    double tx = INFINITY, td = INFINITY;
    if (st == SAKD_OK)
        st = search_general(&s, general_limit, bx, &tx, bd, &td);
    if (st != SAKD_OK) {
        replay_free(&r);
        return st;
    }

    stamp(best, &ctx->info, t_default, flops);
    if (!isfinite(tx) && !isfinite(td)) {
        /* Every candidate failed, computed wrong or fell behind: CLBlast's defaults stay. */
        replay_free(&r);
        if (lg)
            fprintf(lg, "no candidate finished within reach of CLBlast's defaults; they stay\n");
        best->ms_tuned = best->ms_default;
        best->gflops_tuned = best->gflops_default;
        return SAKD_OK;
    }
    double combined;
    size_t threshold =
        combine(&r, bx, tx, bd, td, &best->xgemm, &best->direct, &best->routine, &combined);
    double t_final;
    st = measure(&r, best, &t_final);
    if (st != SAKD_OK) {
        replay_free(&r);
        return st;
    }
    if (lg)
        fprintf(lg,
                "chosen: indirect %.1f ms, direct %.1f ms, combined (direct below m*n*k = "
                "%zu^3) %.1f ms predicted, %.1f ms measured; defaults %.1f ms\n",
                1e3 * tx, 1e3 * td, threshold, 1e3 * combined, 1e3 * t_final, 1e3 * t_default);
    if (t_final >= t_default) {
        /* Nothing beat CLBlast's defaults: store none (the file then records the attempt). */
        if (lg)
            fprintf(lg, "CLBlast's defaults stay: no candidate was faster on these calls\n");
        best->xgemm.n = best->direct.n = best->routine.n = 0;
        t_final = t_default;
    }
    if (opts->per_class)
        st = search_classes(&s, start, best, &t_final);
    replay_free(&r);
    SAKD_TRY(st);
    best->ms_tuned = 1e3 * t_final;
    best->gflops_tuned = flops / t_final * 1e-9;
    return SAKD_OK;
}
