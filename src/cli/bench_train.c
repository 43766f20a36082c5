/* bench_train.c — `sakd bench train`: the median time of a full training step (ANN, SNN, SNN by
 * SAKD) with a breakdown by op family from OpenCL profiling events; `sakd bench lif-layer`: the
 * Open Neuromorphic SNN-library benchmark (Linear(n, n) + multi-step LIF, batch 16, T = 500). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "cli/cli.h"
#include "harness/meta.h"
#include "io/csv_file.h"
#include "runtime/file.h"
#include "nn/model.h"
#include "ops/blas_host.h"
#include "ops/conv.h"
#include "ops/gemm.h"
#include "ops/gemm_tuning.h"
#include "ops/lif.h"
#include "ops/linear.h"
#include "ops/spike_route.h"
#include "runtime/profile.h"
#include "runtime/rng.h"
#include "runtime/timer.h"
#include "train/config.h"
#include "train/train.h"

void help_bench_train(void)
{
    printf("usage: sakd bench train [CONFIG.ini] [section.key=value ...] [OPTIONS]\n\n"
           "Times full training steps (forward, losses, backward, optimizer update) of the\n"
           "model of CONFIG on generated data of its dataset's shape, for each mode: ann (the\n"
           "ANN), snn (the SNN trained directly), sakd (the SNN by SAKD from an ANN teacher of\n"
           "the same config: init + logit + feature KD). Without CONFIG: resnet19 width 0.25,\n"
           "T 4, batch 32, Fashion-MNIST shape (override keys as usual, e.g. model.T=8).\n"
           "Reports the median step time over R steps after W warm-up steps, img/s, and from\n"
           "a profiled step (OpenCL events) the device time by op family, GEMM GFLOP/s and its\n"
           "fraction of the SGEMM peak measured in the same run (N = 1024), the non-GEMM\n"
           "share, peak device memory held by sakd and the bytes of activations stored per\n"
           "image for the backward pass. Convolutions that oneDNN runs directly (the host\n"
           "provider's automatic route) count as GEMM work, with the FLOPs of the GEMMs\n"
           "they replace.\n\n"
           "options:\n"
           "  --device SPEC     the device\n"
           "  --modes LIST      ann,snn,sakd (default all three)\n"
           "  --size S          input height and width (default: the dataset's)\n"
           "  --reps R          timed steps (default 5)\n"
           "  --warmup W        untimed steps first (default 2)\n"
           "  --csv FILE        append one row per mode, with provenance, to FILE\n"
           "  --results         append to results/bench/<device>.csv\n"
           "  --kernels N       also list the N costliest kernels of each profiled step (device\n"
           "                    time, launches, share), GEMMs under \"gemm\", oneDNN's\n"
           "                    convolutions under conv2d_onednn_fwd/_bwd\n"
           "  --interleave      build every mode's trainer first, then time the steps in\n"
           "                    rounds (step r of each mode in turn), so that the modes share\n"
           "                    the machine's state of the moment; with snn and sakd, also the\n"
           "                    median of the per-round SAKD/SNN ratios (needs the memory of\n"
           "                    all modes at once)\n");
}

void help_bench_lif_layer(void)
{
    printf("usage: sakd bench lif-layer [--device SPEC] [--sizes N,...] [--T T] [--batch B]\n"
           "                            [--reps R] [--warmup W] [--csv FILE | --results]\n\n"
           "The Open Neuromorphic SNN-library benchmark: one Linear(n, n) layer followed by a\n"
           "multi-step LIF layer (DESIGN.md 2.1 defaults), input [T, B, n] uniform in [0, 1),\n"
           "batch 16, T 500, n in 512,4096 by default (16384 needs about 3 GB and minutes per\n"
           "step on a CPU). Forward, then backward of the sum of all spikes to the weight\n"
           "and bias; median over R runs (default 3) after W untimed ones (--warmup,\n"
           "default 1; 0 for sizes where one run takes minutes); peak device memory.\n");
}

/* ---- op families ----------------------------------------------------------------------------- */

enum {
    F_GEMM,
    F_IM2COL,
    F_CONV_OTHER,
    F_LIF,
    F_RELU,
    F_BN,
    F_POOL,
    F_LOSS,
    F_OPTIM,
    F_TRANSFER,
    F_OTHER,
    F_COUNT
};
static const char *family_names[F_COUNT] = {
    "gemm", "im2col/col2im", "conv_other", "lif",      "relu", "bn",
    "pool", "losses",        "optimizer",  "transfer", "other"};

static int prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int family_of(const char *label)
{
    if (strcmp(label, "gemm") == 0 || prefix(label, "conv2d_onednn"))
        return F_GEMM;
    if (strcmp(label, "transfer") == 0)
        return F_TRANSFER;
    if (prefix(label, "conv2d_im2col") || prefix(label, "conv2d_col2im") ||
        prefix(label, "conv2d_out_fwd") || prefix(label, "conv2d_gout_bwd"))
        return F_IM2COL;
    if (prefix(label, "conv2d_"))
        return F_CONV_OTHER;
    if (prefix(label, "lif_"))
        return F_LIF;
    if (prefix(label, "relu_"))
        return F_RELU;
    if (prefix(label, "bn_"))
        return F_BN;
    if (prefix(label, "avgpool") || prefix(label, "maxpool") || prefix(label, "gap_"))
        return F_POOL;
    if (prefix(label, "ce_") || prefix(label, "softmax_kl") || prefix(label, "dist_") ||
        prefix(label, "feat_norm") || prefix(label, "attn_"))
        return F_LOSS;
    if (prefix(label, "sgd_") || prefix(label, "adamw_") || prefix(label, "sumsq_") ||
        prefix(label, "grad_clip"))
        return F_OPTIM;
    return F_OTHER;
}

/* ---- results CSV ------------------------------------------------------------------------------
 */

static void slug(const char *in, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < size; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (ok)
            out[j++] = c;
        else if (j > 0 && out[j - 1] != '-')
            out[j++] = '-';
    }
    while (j > 0 && out[j - 1] == '-')
        j--;
    out[j] = '\0';
}

static sakd_status results_path(const sakd_ctx *ctx, char *buf, size_t size)
{
    char s[200];
    slug(ctx->info.name, s, sizeof s);
    SAKD_TRY(sakd_mkdir_p("results/bench"));
    snprintf(buf, size, "results/bench/%s.csv", s);
    return SAKD_OK;
}

/* Appends rows (cells[r·ncols + c]) under `header` to a CSV file (io/csv_file.h): every row
 * it has is kept, and its header must match. */
static sakd_status csv_append(const char *path, const char *const *header, size_t ncols,
                              char (*cells)[64], size_t nrows)
{
    size_t n = nrows * ncols;
    const char **ptrs = malloc((n > 0 ? n : 1) * sizeof *ptrs);
    if (!ptrs)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory writing %s", path);
    for (size_t i = 0; i < nrows * ncols; i++)
        ptrs[i] = cells[i];
    sakd_status st = sakd_csv_append(path, header, ncols, ptrs, nrows, -1);
    if (st == SAKD_ERR_FORMAT)
        st = sakd_error(st, "%s (or use --csv with another file)", sakd_error_detail());
    free(ptrs);
    return st;
}

/* Provenance cells shared by both benchmarks, by column. */
enum { P_DATE, P_HOST, P_SAKD, P_GIT, P_DEVICE, P_DRIVER, P_CLBLAST, P_GEMM_TUNING, N_PROV };
static const char *const prov_header[N_PROV] = {
    [P_DATE] = "date",       [P_HOST] = "host",
    [P_SAKD] = "sakd",       [P_GIT] = "git",
    [P_DEVICE] = "device",   [P_DRIVER] = "driver",
    [P_CLBLAST] = "clblast", [P_GEMM_TUNING] = "gemm_tuning"};

/* header[0..N_PROV + n) = the provenance columns, then cols[0..n). */
static void join_header(const char **header, const char *const *cols, size_t n)
{
    for (size_t i = 0; i < N_PROV; i++)
        header[i] = prov_header[i];
    for (size_t i = 0; i < n; i++)
        header[N_PROV + i] = cols[i];
}

static void provenance(sakd_ctx *ctx, char (*cells)[64])
{
    time_t now = time(NULL);
    strftime(cells[P_DATE], 64, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    struct utsname u;
    snprintf(cells[P_HOST], 64, "%.63s", uname(&u) == 0 ? u.nodename : "?");
    snprintf(cells[P_SAKD], 64, "%s", sakd_version());
    sakd_meta_git_describe(cells[P_GIT], 64);
    snprintf(cells[P_DEVICE], 64, "%.63s", ctx->info.name);
    snprintf(cells[P_DRIVER], 64, "%.63s", ctx->info.driver);
    snprintf(cells[P_CLBLAST], 64, "%s", sakd_clblast_version());
    /* The GEMM provider: CLBlast's tuning file (or "defaults"), or the host BLAS and kernels. */
    const sakd_host_blas *blas;
    if (strcmp(sakd_gemm_provider_name(ctx), "host") == 0 &&
        sakd_host_blas_get(&blas, 0) == SAKD_OK) {
        snprintf(cells[P_GEMM_TUNING], 64, "host %.20s %.20s x%d%s", blas->library, blas->kernels,
                 blas->threads, sakd_conv_provider_uses_onednn(ctx) ? " + oneDNN conv" : "");
    } else {
        const char *t = sakd_gemm_tuning_source(ctx);
        const char *base = strrchr(t, '/');
        snprintf(cells[P_GEMM_TUNING], 64, "%.63s", t[0] ? (base ? base + 1 : t) : "defaults");
    }
}

/* ---- bench train ------------------------------------------------------------------------------
 */

enum { MAX_TOP = 64 }; /* kernels kept per mode for --kernels */

typedef struct train_result {
    double step_ms, img_s;
    double fam_ms[F_COUNT], profiled_ms;
    double gemm_flops, gemm_gflops;
    double peak_mib, act_bytes_per_image;
    size_t spike_passes, fed_passes; /* the student's spike-fed layers' passes, all steps */
    sakd_profile_total top[MAX_TOP]; /* the costliest labels of the profiled step, sorted */
    size_t n_top;
} train_result;

static int by_ms_desc(const void *a, const void *b)
{
    const sakd_profile_total *x = a, *y = b;
    return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : strcmp(x->label, y->label);
}

/* Bytes kept for the backward pass by a graph: activation values, LIF potentials and spikes. */
static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double max_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* One mode's benchmark in progress: its trainer (with a device context of its own), the next
 * step's index and the wall times of the timed steps so far. */
typedef struct bench_run {
    cli_workload w;
    int open;
    size_t step;
    double *times;
    int n_times;
} bench_run;

/* The trainer of `mode`, warmed up by `warmup` untimed steps. */
static sakd_status run_open(bench_run *b, const sakd_config *c, cli_workload_mode mode, size_t size,
                            int warmup, int reps)
{
    memset(b, 0, sizeof *b);
    b->times = calloc((size_t)reps, sizeof *b->times);
    if (!b->times)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    SAKD_TRY(cli_workload_new(&b->w, c, mode, size, (size_t)(warmup + reps)));
    b->open = 1;
    sakd_status st = SAKD_OK;
    for (int i = 0; i < warmup && st == SAKD_OK; i++)
        st = sakd_trainer_step(b->w.trainer, b->step++);
    return st == SAKD_OK ? sakd_ctx_finish(sakd_trainer_ctx(b->w.trainer)) : st;
}

/* One timed step, the queue drained. */
static sakd_status run_timed_step(bench_run *b)
{
    double t0 = sakd_time_now();
    SAKD_TRY(sakd_trainer_step(b->w.trainer, b->step++));
    SAKD_TRY(sakd_ctx_finish(sakd_trainer_ctx(b->w.trainer)));
    b->times[b->n_times++] = sakd_time_now() - t0;
    return SAKD_OK;
}

/* The median of the timed steps, then one profiled, recorded step: device time per family and
 * the GEMM work; frees the run whatever `st` (the status so far) is. */
static sakd_status run_close(bench_run *b, const sakd_config *c, sakd_status st, train_result *r)
{
    memset(r, 0, sizeof *r);
    if (st == SAKD_OK && b->n_times > 0) {
        r->step_ms = 1e3 * sakd_median(b->times, (size_t)b->n_times);
        r->img_s = (double)c->train.batch / (r->step_ms * 1e-3);
    }
    sakd_trainer *t = b->w.trainer;
    sakd_ctx *ctx = b->open ? sakd_trainer_ctx(t) : NULL;
    sakd_gemm_log log = {0};
    if (st == SAKD_OK && !ctx)
        st = sakd_error(SAKD_ERR_ARG, "bench train: no trainer");
    if (st == SAKD_OK)
        st = sakd_profile_start(ctx);
    if (st == SAKD_OK) {
        sakd_profile_reset(ctx);
        st = sakd_gemm_record_start(ctx, &log);
    }
    if (st == SAKD_OK) {
        st = sakd_trainer_step(t, b->step++);
        sakd_gemm_record_stop(ctx);
    }
    if (st == SAKD_OK)
        st = sakd_profile_collect(ctx);
    if (st == SAKD_OK) {
        const sakd_profile_total *tot;
        size_t n = sakd_profile_totals(ctx, &tot);
        for (size_t i = 0; i < n; i++) {
            r->fam_ms[family_of(tot[i].label)] += tot[i].ms;
            r->profiled_ms += tot[i].ms;
        }
        sakd_profile_total *all = n ? malloc(n * sizeof *all) : NULL;
        if (all) {
            memcpy(all, tot, n * sizeof *all);
            qsort(all, n, sizeof *all, by_ms_desc);
            r->n_top = n < MAX_TOP ? n : MAX_TOP;
            memcpy(r->top, all, r->n_top * sizeof *all);
            free(all);
        }
        for (size_t i = 0; i < log.n; i++)
            r->gemm_flops += (double)log.shapes[i].count * sakd_gemm_shape_flops(&log.shapes[i]);
        r->gemm_gflops =
            r->fam_ms[F_GEMM] > 0 ? r->gemm_flops / (r->fam_ms[F_GEMM] * 1e-3) * 1e-9 : 0.0;
        r->peak_mib = (double)ctx->mem_peak / (1024.0 * 1024.0);
        const sakd_graph *sg = &sakd_trainer_student(t)->graph;
        r->act_bytes_per_image = sakd_graph_stored_bytes(sg) / (double)c->train.batch;
        r->spike_passes = sg->spike_passes;
        r->fed_passes = sg->spike_passes + sg->dense_passes;
    }
    if (ctx)
        sakd_profile_stop(ctx);
    sakd_gemm_log_free(&log);
    free(b->times);
    b->times = NULL;
    if (b->open)
        cli_workload_free(&b->w);
    b->open = 0;
    return st;
}

/* The columns of a bench train row after the provenance; the op families' times are the
 * run from C_IM2COL_MS, in the order of the families from F_IM2COL. */
enum {
    C_MODEL,
    C_WIDTH,
    C_T,
    C_BATCH,
    C_SIZE,
    C_MODE,
    C_STEP_MS,
    C_IMG_S,
    C_GEMM_MS,
    C_GEMM_GFLOPS,
    C_GEMM_PEAK,
    C_GEMM_FRAC,
    C_NON_GEMM_FRAC,
    C_IM2COL_MS,
    C_CONV_OTHER_MS,
    C_LIF_MS,
    C_RELU_MS,
    C_BN_MS,
    C_POOL_MS,
    C_LOSSES_MS,
    C_OPTIMIZER_MS,
    C_TRANSFER_MS,
    C_OTHER_MS,
    C_PEAK_MIB,
    C_ACT_BYTES,
    N_TRAIN_COLS
};
_Static_assert(C_OTHER_MS - C_IM2COL_MS == F_COUNT - 1 - F_IM2COL,
               "one time column per op family from F_IM2COL");
static const char *const train_header[N_TRAIN_COLS] = {[C_MODEL] = "model",
                                                       [C_WIDTH] = "width",
                                                       [C_T] = "T",
                                                       [C_BATCH] = "batch",
                                                       [C_SIZE] = "size",
                                                       [C_MODE] = "mode",
                                                       [C_STEP_MS] = "median_step_ms",
                                                       [C_IMG_S] = "img_per_s",
                                                       [C_GEMM_MS] = "gemm_ms",
                                                       [C_GEMM_GFLOPS] = "gemm_gflops",
                                                       [C_GEMM_PEAK] = "gemm_peak_gflops",
                                                       [C_GEMM_FRAC] = "gemm_frac_peak",
                                                       [C_NON_GEMM_FRAC] = "non_gemm_frac",
                                                       [C_IM2COL_MS] = "im2col_ms",
                                                       [C_CONV_OTHER_MS] = "conv_other_ms",
                                                       [C_LIF_MS] = "lif_ms",
                                                       [C_RELU_MS] = "relu_ms",
                                                       [C_BN_MS] = "bn_ms",
                                                       [C_POOL_MS] = "pool_ms",
                                                       [C_LOSSES_MS] = "losses_ms",
                                                       [C_OPTIMIZER_MS] = "optimizer_ms",
                                                       [C_TRANSFER_MS] = "transfer_ms",
                                                       [C_OTHER_MS] = "other_ms",
                                                       [C_PEAK_MIB] = "peak_mem_mib",
                                                       [C_ACT_BYTES] = "act_bytes_per_image"};

/* The options of bench train. */
typedef struct train_opts {
    const char *modes, *csv;
    long size, reps, warmup, kernels;
    int to_results, interleave;
} train_opts;

/* Parses bench train's options into *o; -1 to go on, else the exit code. */
static int parse_train_opts(cli_opts *opts, int argc, char **argv, train_opts *o)
{
    static const struct option longopts[] = {{"device", required_argument, NULL, 'd'},
                                             {"modes", required_argument, NULL, 'm'},
                                             {"size", required_argument, NULL, 's'},
                                             {"reps", required_argument, NULL, 'r'},
                                             {"warmup", required_argument, NULL, 'w'},
                                             {"csv", required_argument, NULL, 'c'},
                                             {"results", no_argument, NULL, 'R'},
                                             {"kernels", required_argument, NULL, 'k'},
                                             {"interleave", no_argument, NULL, 'I'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (train_opts){.modes = "ann,snn,sakd", .reps = 5, .warmup = 2};
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *cmd = "bench train";
        int ok = 1;
        switch (ch) {
        case 'd': opts->device = optarg; break;
        case 'm': o->modes = optarg; break;
        case 's': ok = cli_parse_long(cmd, "--size", optarg, 0, 65536, &o->size); break;
        case 'r': ok = cli_parse_long(cmd, "--reps", optarg, 1, 1000, &o->reps); break;
        case 'w': ok = cli_parse_long(cmd, "--warmup", optarg, 0, 100, &o->warmup); break;
        case 'c': o->csv = optarg; break;
        case 'R': o->to_results = 1; break;
        case 'k': ok = cli_parse_long(cmd, "--kernels", optarg, 0, MAX_TOP, &o->kernels); break;
        case 'I': o->interleave = 1; break;
        case 'h': help_bench_train(); return SAKD_EXIT_OK;
        default: return SAKD_EXIT_USAGE;
        }
        if (!ok)
            return SAKD_EXIT_USAGE;
    }
    return -1;
}

/* The modes asked for (a comma-separated list), each once, in the order given. */
static sakd_status parse_modes(const char *modes, cli_workload_mode *ms, int *nm)
{
    char list[64];
    snprintf(list, sizeof list, "%s", modes);
    *nm = 0;
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        cli_workload_mode mode;
        SAKD_TRY(cli_workload_parse_mode(m, &mode));
        int seen = 0;
        for (int k = 0; k < *nm; k++)
            seen |= ms[k] == mode;
        if (!seen)
            ms[(*nm)++] = mode;
    }
    return SAKD_OK;
}

/* A context like the trainers' (same providers) and the SGEMM peak measured on it, GFLOP/s. */
static sakd_status measure_peak(const sakd_config *c, const cli_opts *opts, sakd_ctx **ctx,
                                double *peak)
{
    double peak_s = 0.0;
    SAKD_TRY(sakd_ctx_new(ctx, opts->device, 0));
    /* the trainers' provider: run.gemm_provider, else the automatic choice */
    SAKD_TRY(sakd_gemm_provider_set(*ctx, sakd_config_gemm_request(c)));
    SAKD_TRY(sakd_conv_provider_set(*ctx, sakd_config_conv_request(c)));
    SAKD_TRY(cli_time_gemm(*ctx, 1024, 3, &peak_s));
    *peak = 2.0 * 1024.0 * 1024.0 * 1024.0 / peak_s * 1e-9;
    return SAKD_OK;
}

/* What is being timed, and the table's header. */
static void print_train_header(const sakd_config *c, sakd_ctx *ctx, double peak, int sz,
                               const train_opts *o)
{
    char gemm_desc[512];
    sakd_gemm_provider_describe(ctx, gemm_desc, sizeof gemm_desc);
    printf("# sakd bench train: %s width %g T %d batch %d, %dx%d %s-shaped input, on %s (%s)\n"
           "# GEMM provider: %s\n# SGEMM peak (N = 1024) %.2f GFLOP/s; median of %ld steps after "
           "%ld warm-up\n",
           sakd_model_name_str(c->model.name), c->model.width, c->model.T, c->train.batch, sz, sz,
           sakd_dataset_str(c->data.dataset), ctx->info.name, ctx->info.driver, gemm_desc, peak,
           o->reps, o->warmup);
    char spikes[1280];
    sakd_spike_layers_describe(ctx, spikes, sizeof spikes);
    printf("# spike-fed layers: %s\n", spikes);
    printf("%-5s %10s %8s %9s %8s %6s %8s %9s %10s\n", "mode", "step_ms", "img/s", "gemm_ms",
           "GFLOP/s", "%peak", "non-gemm", "peak_MiB", "act_B/img");
    fflush(stdout);
}

/* Every mode's trainer at once; round r times step r of each mode in turn, so that the modes
 * share the machine's state of the moment. With snn and sakd, their per-round ratios. */
static sakd_status time_interleaved(bench_run *runs, const cli_workload_mode *ms, int nm,
                                    const sakd_config *c, const train_opts *o, double *ratios,
                                    int *n_ratios)
{
    for (int k = 0; k < nm; k++)
        SAKD_TRY(run_open(&runs[k], c, ms[k], (size_t)o->size, (int)o->warmup, (int)o->reps));
    for (long i = 0; i < o->reps; i++)
        for (int k = 0; k < nm; k++)
            SAKD_TRY(run_timed_step(&runs[k]));
    int ks = -1, kd = -1;
    for (int k = 0; k < nm; k++) {
        ks = ms[k] == CLI_WORKLOAD_SNN ? k : ks;
        kd = ms[k] == CLI_WORKLOAD_SAKD ? k : kd;
    }
    for (long i = 0; ks >= 0 && kd >= 0 && i < o->reps; i++)
        ratios[(*n_ratios)++] = runs[kd].times[i] / runs[ks].times[i];
    return SAKD_OK;
}

/* One mode's printed line and CSV row (provenance, then the train columns). */
static void report_mode(const train_result *r, const char *name, const sakd_config *c, int sz,
                        double peak, sakd_ctx *ctx, char (*row)[64])
{
    double non_gemm = r->profiled_ms > 0 ? 1.0 - r->fam_ms[F_GEMM] / r->profiled_ms : 0.0;
    printf("%-5s %10.1f %8.2f %9.1f %8.2f %5.0f%% %7.0f%% %9.1f %10.0f\n", name, r->step_ms,
           r->img_s, r->fam_ms[F_GEMM], r->gemm_gflops, 100.0 * r->gemm_gflops / peak,
           100.0 * non_gemm, r->peak_mib, r->act_bytes_per_image);
    if (r->fed_passes)
        printf("#     %s: %zu of %zu passes of spike-fed layers spike-driven\n", name,
               r->spike_passes, r->fed_passes);
    fflush(stdout);
    provenance(ctx, row);
    char(*v)[64] = row + N_PROV;
    snprintf(v[C_MODEL], 64, "%s", sakd_model_name_str(c->model.name));
    snprintf(v[C_WIDTH], 64, "%g", c->model.width);
    snprintf(v[C_T], 64, "%d", c->model.T);
    snprintf(v[C_BATCH], 64, "%d", c->train.batch);
    snprintf(v[C_SIZE], 64, "%d", sz);
    snprintf(v[C_MODE], 64, "%s", name);
    snprintf(v[C_STEP_MS], 64, "%.2f", r->step_ms);
    snprintf(v[C_IMG_S], 64, "%.3f", r->img_s);
    snprintf(v[C_GEMM_MS], 64, "%.2f", r->fam_ms[F_GEMM]);
    snprintf(v[C_GEMM_GFLOPS], 64, "%.3f", r->gemm_gflops);
    snprintf(v[C_GEMM_PEAK], 64, "%.3f", peak);
    snprintf(v[C_GEMM_FRAC], 64, "%.4f", r->gemm_gflops / peak);
    snprintf(v[C_NON_GEMM_FRAC], 64, "%.4f", non_gemm);
    for (int f = F_IM2COL; f < F_COUNT; f++)
        snprintf(v[C_IM2COL_MS + f - F_IM2COL], 64, "%.2f", r->fam_ms[f]);
    snprintf(v[C_PEAK_MIB], 64, "%.1f", r->peak_mib);
    snprintf(v[C_ACT_BYTES], 64, "%.0f", r->act_bytes_per_image);
}

/* The device time by op family of each mode's profiled step, its costliest kernels, and the
 * SAKD/SNN step ratios. */
static void print_breakdown(const train_result *res, const int *done, long kernels, double *ratios,
                            int n_ratios)
{
    printf("\ndevice time of the profiled step by op family, ms (share of the step):\n");
    printf("%-14s", "family");
    for (int m = 0; m < 3; m++)
        if (done[m])
            printf(" %16s", cli_workload_mode_str((cli_workload_mode)m));
    printf("\n");
    for (int f = 0; f < F_COUNT; f++) {
        printf("%-14s", family_names[f]);
        for (int m = 0; m < 3; m++)
            if (done[m])
                printf(" %9.1f (%3.0f%%)", res[m].fam_ms[f],
                       res[m].profiled_ms > 0 ? 100.0 * res[m].fam_ms[f] / res[m].profiled_ms
                                              : 0.0);
        printf("\n");
    }
    for (int m = 0; m < 3 && kernels > 0; m++) {
        if (!done[m])
            continue;
        printf("\nthe %ld costliest kernels of the profiled %s step:\n", kernels,
               cli_workload_mode_str((cli_workload_mode)m));
        printf("%-36s %10s %8s %7s\n", "kernel", "ms", "launches", "share");
        for (size_t i = 0; i < res[m].n_top && i < (size_t)kernels; i++)
            printf("%-36s %10.1f %8zu %6.1f%%\n", res[m].top[i].label, res[m].top[i].ms,
                   res[m].top[i].count,
                   res[m].profiled_ms > 0 ? 100.0 * res[m].top[i].ms / res[m].profiled_ms : 0.0);
    }
    if (done[CLI_WORKLOAD_SNN] && done[CLI_WORKLOAD_SAKD])
        printf("\nSAKD step / SNN step: %.3f\n",
               res[CLI_WORKLOAD_SAKD].step_ms / res[CLI_WORKLOAD_SNN].step_ms);
    if (n_ratios > 0)
        printf("SAKD step / SNN step of the same round, median of %d rounds: %.3f (range "
               "%.3f to %.3f)\n",
               n_ratios, sakd_median(ratios, (size_t)n_ratios), min_of(ratios, n_ratios),
               max_of(ratios, n_ratios));
}

/* Appends the rows to --csv FILE or results/bench/<device>.csv. */
static sakd_status write_train_rows(const train_opts *o, sakd_ctx *ctx, char (*cells)[64],
                                    size_t nrows)
{
    char path[4200];
    const char *header[N_PROV + N_TRAIN_COLS];
    join_header(header, train_header, N_TRAIN_COLS);
    if (o->csv)
        snprintf(path, sizeof path, "%s", o->csv);
    else
        SAKD_TRY(results_path(ctx, path, sizeof path));
    SAKD_TRY(csv_append(path, header, N_PROV + N_TRAIN_COLS, cells, nrows));
    printf("appended %zu rows to %s\n", nrows, path);
    return SAKD_OK;
}

/* Times the modes (interleaved or one after another), printing and recording a row for each. */
static sakd_status time_modes(const sakd_config *c, const train_opts *o, sakd_ctx *ctx, double peak,
                              int sz, const cli_workload_mode *ms, int nm, train_result *res,
                              int *done, char (*cells)[64], size_t *nrows, double *ratios,
                              int *n_ratios)
{
    bench_run runs[3];
    memset(runs, 0, sizeof runs);
    sakd_status st = SAKD_OK;
    if (o->interleave)
        st = time_interleaved(runs, ms, nm, c, o, ratios, n_ratios);
    for (int k = 0; k < nm; k++) {
        cli_workload_mode mode = ms[k];
        if (!o->interleave && st == SAKD_OK) {
            st = run_open(&runs[k], c, mode, (size_t)o->size, (int)o->warmup, (int)o->reps);
            for (long i = 0; i < o->reps && st == SAKD_OK; i++)
                st = run_timed_step(&runs[k]);
        }
        train_result *r = &res[mode];
        st = run_close(&runs[k], c, st, r); /* frees the run whatever happened before */
        if (st != SAKD_OK)
            continue;
        done[mode] = 1;
        report_mode(r, cli_workload_mode_str(mode), c, sz, peak, ctx,
                    cells + *nrows * (N_PROV + N_TRAIN_COLS));
        (*nrows)++;
    }
    return st;
}

int cli_bench_train(cli_opts *opts, int argc, char **argv)
{
    train_opts o;
    int rc = parse_train_opts(opts, argc, argv, &o);
    if (rc >= 0)
        return rc;
    /* Without a config file: the reference point, resnet19 width 0.25, batch 32. */
    static const char *const fallback[] = {"model.width=0.25", "train.batch=32", NULL};
    sakd_config c;
    sakd_status st = cli_workload_config(&c, argc - optind, argv + optind, fallback, opts);
    /* Each mode's trainer validates its own config (a SAKD config may name no teacher here:
     * the benchmark makes one). */
    if (st == SAKD_OK)
        sakd_config_resolve(&c);
    if (st != SAKD_OK) {
        sakd_config_free(&c);
        cli_fail(st, "configuration");
        return SAKD_EXIT_USAGE;
    }
    sakd_ctx_set_default_flags(SAKD_CTX_PROFILING);
    sakd_ctx *ctx = NULL;
    double peak = 0.0;
    st = measure_peak(&c, opts, &ctx, &peak);
    if (st != SAKD_OK) {
        sakd_ctx_free(ctx);
        sakd_config_free(&c);
        return cli_fail(st, "measuring the GEMM peak");
    }
    int cifar = c.data.dataset == SAKD_DATASET_CIFAR10 || c.data.dataset == SAKD_DATASET_CIFAR100;
    int sz = o.size ? (int)o.size : cifar ? 32 : 28;
    print_train_header(&c, ctx, peak, sz, &o);
    cli_workload_mode ms[3];
    int nm = 0, n_ratios = 0, done[3] = {0, 0, 0};
    st = parse_modes(o.modes, ms, &nm);
    train_result res[3];
    size_t nrows = 0;
    char(*cells)[64] = calloc(3 * (N_PROV + N_TRAIN_COLS), sizeof *cells);
    double *ratios = calloc((size_t)o.reps, sizeof *ratios);
    if (st == SAKD_OK && (!cells || !ratios))
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    if (st == SAKD_OK)
        st = time_modes(&c, &o, ctx, peak, sz, ms, nm, res, done, cells, &nrows, ratios, &n_ratios);
    if (st == SAKD_OK)
        print_breakdown(res, done, o.kernels, ratios, n_ratios);
    if (st == SAKD_OK && (o.csv || o.to_results))
        st = write_train_rows(&o, ctx, cells, nrows);
    free(cells);
    free(ratios);
    sakd_ctx_free(ctx);
    sakd_config_free(&c);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "bench train");
}

/* ---- bench lif-layer ----------------------------------------------------------------------------
 */

static sakd_status lif_layer_once(sakd_ctx *ctx, size_t n, size_t T, size_t B, double *fwd_s,
                                  double *bwd_s)
{
    size_t rows = T * B, xs[2] = {rows, n}, ws[2] = {n, n}, bs[1] = {n};
    sakd_tensor x = {0}, y = {0}, s = {0}, g = {0}, w = {0}, b = {0}, gw = {0}, gb = {0};
    sakd_lif_cache cache;
    memset(&cache, 0, sizeof cache);
    sakd_lif_params lp = sakd_lif_params_default();
    sakd_status st = sakd_tensor_new(&x, ctx, "lif-layer input", 2, xs);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&y, ctx, "lif-layer linear output", 2, xs);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&s, ctx, "lif-layer spikes", 2, xs);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&g, ctx, "lif-layer gradient", 2, xs);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&w, ctx, "lif-layer weight", 2, ws);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&b, ctx, "lif-layer bias", 1, bs);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&gw, ctx, "lif-layer weight gradient", 2, ws);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&gb, ctx, "lif-layer bias gradient", 1, bs);
    if (st == SAKD_OK)
        st = sakd_lif_cache_new(&cache, ctx, "lif-layer", 2, xs);
    /* x ~ U[0, 1); W, b ~ U(-1/sqrt(n), 1/sqrt(n)) as torch.nn.Linear initializes them. */
    float k = 1.0f / sqrtf((float)n);
    if (st == SAKD_OK)
        st = sakd_rng_uniform_fill(&x, 11, 0, 0.0f, 1.0f);
    if (st == SAKD_OK)
        st = sakd_rng_uniform_fill(&w, 12, 0, -k, k);
    if (st == SAKD_OK)
        st = sakd_rng_uniform_fill(&b, 13, 0, -k, k);
    if (st == SAKD_OK)
        st = sakd_ctx_finish(ctx);
    double t0 = sakd_time_now();
    if (st == SAKD_OK)
        st = sakd_linear_forward(&y, &x, &w, &b);
    if (st == SAKD_OK)
        st = sakd_lif_forward(&s, &cache, &y, T, &lp);
    if (st == SAKD_OK)
        st = sakd_ctx_finish(ctx);
    double t1 = sakd_time_now();
    /* d(sum of spikes)/ds = 1 */
    if (st == SAKD_OK)
        st = sakd_tensor_fill(&g, 1.0f);
    if (st == SAKD_OK)
        st = sakd_ctx_finish(ctx);
    double t2 = sakd_time_now();
    if (st == SAKD_OK)
        st = sakd_lif_backward(&g, &cache, &g, T, &lp);
    if (st == SAKD_OK)
        st = sakd_linear_backward(NULL, &gw, &gb, &g, &x, &w);
    if (st == SAKD_OK)
        st = sakd_ctx_finish(ctx);
    double t3 = sakd_time_now();
    *fwd_s = t1 - t0;
    *bwd_s = t3 - t2;
    sakd_lif_cache_free(&cache);
    sakd_tensor_free(&x);
    sakd_tensor_free(&y);
    sakd_tensor_free(&s);
    sakd_tensor_free(&g);
    sakd_tensor_free(&w);
    sakd_tensor_free(&b);
    sakd_tensor_free(&gw);
    sakd_tensor_free(&gb);
    return st;
}

enum { L_N, L_T, L_BATCH, L_FORWARD_MS, L_BACKWARD_MS, L_TOTAL_MS, L_PEAK_MIB, N_LIF_COLS };
static const char *const lif_header[N_LIF_COLS] = {[L_N] = "n",
                                                   [L_T] = "T",
                                                   [L_BATCH] = "batch",
                                                   [L_FORWARD_MS] = "forward_ms",
                                                   [L_BACKWARD_MS] = "backward_ms",
                                                   [L_TOTAL_MS] = "total_ms",
                                                   [L_PEAK_MIB] = "peak_mem_mib"};

/* The options of bench lif-layer. */
typedef struct lif_opts {
    const char *sizes, *csv;
    long T, B, reps, warmup;
    int to_results;
} lif_opts;

/* Parses bench lif-layer's options into *o; -1 to go on, else the exit code. */
static int parse_lif_opts(cli_opts *opts, int argc, char **argv, lif_opts *o)
{
    static const struct option longopts[] = {
        {"device", required_argument, NULL, 'd'}, {"sizes", required_argument, NULL, 's'},
        {"T", required_argument, NULL, 'T'},      {"batch", required_argument, NULL, 'b'},
        {"reps", required_argument, NULL, 'r'},   {"warmup", required_argument, NULL, 'w'},
        {"csv", required_argument, NULL, 'c'},    {"results", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    *o = (lif_opts){.sizes = "512,4096", .T = 500, .B = 16, .reps = 3, .warmup = 1};
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *cmd = "bench lif-layer";
        int ok = 1;
        switch (ch) {
        case 'd': opts->device = optarg; break;
        case 's': o->sizes = optarg; break;
        case 'T': ok = cli_parse_long(cmd, "--T", optarg, 1, 100000, &o->T); break;
        case 'b': ok = cli_parse_long(cmd, "--batch", optarg, 1, 100000, &o->B); break;
        case 'r': ok = cli_parse_long(cmd, "--reps", optarg, 1, 100, &o->reps); break;
        case 'w': ok = cli_parse_long(cmd, "--warmup", optarg, 0, 100, &o->warmup); break;
        case 'c': o->csv = optarg; break;
        case 'R': o->to_results = 1; break;
        case 'h': help_bench_lif_layer(); return SAKD_EXIT_OK;
        default: return SAKD_EXIT_USAGE;
        }
        if (!ok)
            return SAKD_EXIT_USAGE;
    }
    return -1;
}

/* Times the layer of width n: o->warmup untimed runs, then the medians of o->reps runs'
 * forward, backward and total seconds. */
static sakd_status time_lif_size(sakd_ctx *ctx, size_t n, const lif_opts *o, double *fm, double *bm,
                                 double *tm)
{
    double f[101], b[101], tot[101];
    for (long r = -o->warmup; r < o->reps; r++) {
        double fs, bs;
        SAKD_TRY(lif_layer_once(ctx, n, (size_t)o->T, (size_t)o->B, &fs, &bs));
        if (r >= 0) {
            f[r] = fs;
            b[r] = bs;
            tot[r] = fs + bs;
        }
    }
    *fm = sakd_median(f, (size_t)o->reps);
    *bm = sakd_median(b, (size_t)o->reps);
    *tm = sakd_median(tot, (size_t)o->reps);
    return SAKD_OK;
}

/* The CSV cells of one width: the provenance, then the lif_header columns. */
static void lif_row(sakd_ctx *ctx, char (*row)[64], size_t n, const lif_opts *o, double fm,
                    double bm, double tm, double mib)
{
    provenance(ctx, row);
    char(*v)[64] = row + N_PROV;
    snprintf(v[L_N], 64, "%zu", n);
    snprintf(v[L_T], 64, "%ld", o->T);
    snprintf(v[L_BATCH], 64, "%ld", o->B);
    snprintf(v[L_FORWARD_MS], 64, "%.3f", 1e3 * fm);
    snprintf(v[L_BACKWARD_MS], 64, "%.3f", 1e3 * bm);
    snprintf(v[L_TOTAL_MS], 64, "%.3f", 1e3 * tm);
    snprintf(v[L_PEAK_MIB], 64, "%.1f", mib);
}

/* Appends the count rows of cells to --csv, or with --results to
 * results/bench/lif-layer-<device>.csv. */
static sakd_status write_lif_csv(sakd_ctx *ctx, const lif_opts *o, char (*cells)[64], size_t count)
{
    const char *header[N_PROV + N_LIF_COLS];
    join_header(header, lif_header, N_LIF_COLS);
    char path[4200], s[200];
    if (o->csv) {
        snprintf(path, sizeof path, "%s", o->csv);
    } else {
        slug(ctx->info.name, s, sizeof s);
        SAKD_TRY(sakd_mkdir_p("results/bench"));
        snprintf(path, sizeof path, "results/bench/lif-layer-%s.csv", s);
    }
    SAKD_TRY(csv_append(path, header, N_PROV + N_LIF_COLS, cells, count));
    printf("appended %zu rows to %s\n", count, path);
    return SAKD_OK;
}

int cli_bench_lif_layer(cli_opts *opts, int argc, char **argv)
{
    lif_opts o;
    int rc = parse_lif_opts(opts, argc, argv, &o);
    if (rc >= 0)
        return rc;
    size_t list[16], count = 0;
    rc = cli_parse_sizes(o.sizes, 65536, list, 16, &count);
    if (rc >= 0)
        return rc;
    sakd_ctx *ctx;
    sakd_status st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the OpenCL device");
    char gemm_desc[512];
    sakd_gemm_provider_describe(ctx, gemm_desc, sizeof gemm_desc);
    printf("# sakd bench lif-layer: Linear(n, n) + LIF, batch %ld, T %ld, on %s; median of %ld "
           "after %ld warm-up\n# GEMM provider: %s\n",
           o.B, o.T, ctx->info.name, o.reps, o.warmup, gemm_desc);
    printf("%7s %12s %12s %12s %10s\n", "n", "forward_ms", "backward_ms", "total_ms", "peak_MiB");
    char(*cells)[64] = calloc(count * (N_PROV + N_LIF_COLS), sizeof *cells);
    if (!cells)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count && st == SAKD_OK; i++) {
        double fm, bm, tm;
        ctx->mem_peak = ctx->mem_current;
        st = time_lif_size(ctx, list[i], &o, &fm, &bm, &tm);
        if (st != SAKD_OK)
            break;
        double mib = (double)ctx->mem_peak / (1024.0 * 1024.0);
        printf("%7zu %12.2f %12.2f %12.2f %10.1f\n", list[i], 1e3 * fm, 1e3 * bm, 1e3 * tm, mib);
        fflush(stdout);
        lif_row(ctx, cells + i * (N_PROV + N_LIF_COLS), list[i], &o, fm, bm, tm, mib);
    }
    if (st == SAKD_OK && (o.csv || o.to_results))
        st = write_lif_csv(ctx, &o, cells, count);
    free(cells);
    sakd_ctx_free(ctx);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "bench lif-layer");
}
