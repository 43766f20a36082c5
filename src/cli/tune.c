/* tune.c — `sakd tune`: records the GEMM calls of a model's training step, searches CLBlast's GEMM
 * parameters on them and stores the best for the device, applied by every later run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/gemm_tuning.h"
#include "tune/gemm_search.h"
#include "runtime/timer.h"
#include "train/config.h"
#include "train/train.h"

void help_tune(void)
{
    printf("usage: sakd tune [CONFIG.ini] [section.key=value ...] [OPTIONS]\n\n"
           "Tunes CLBlast's GEMM kernels for the selected device on the GEMM calls that the\n"
           "model of CONFIG actually makes (give the config you train with; without one,\n"
           "the defaults of DESIGN.md 3.3 with any overrides). It records every GEMM of one\n"
           "training step per mode (on generated data of the dataset's shape), then replays\n"
           "those calls under candidate parameters: random valid configurations of CLBlast's\n"
           "indirect (Xgemm) and direct (XgemmDirect) kernels, each followed by rounds of\n"
           "one-parameter changes around the best, and the m*n*k threshold between the two\n"
           "(every other random candidate takes vector widths of at least half the device's\n"
           "preferred float vector width, where wide SIMD units find their fast kernels).\n"
           "Every candidate's results are checked against CLBlast's defaults; a candidate\n"
           "already 25%% slower than the best is abandoned mid-way. With --classes, each\n"
           "class of calls (by transposes and batching: a conv layer's forward, data\n"
           "gradient and weight gradient each make one) that takes 5%% of the step or more\n"
           "then gets a search of its own, and keeps its own set when that is 5%% faster\n"
           "than the general one; sakd switches CLBlast between the sets call by call. The\n"
           "best sets are stored\n"
           "per device, driver and CLBlast version in the cache directory and applied\n"
           "automatically before the first GEMM of every later sakd process\n"
           "(SAKD_GEMM_TUNING=off disables it, SAKD_GEMM_TUNING=FILE uses another file).\n\n"
           "options:\n"
           "  --device SPEC        the device (as for 'sakd devices')\n"
           "  --modes LIST         training steps to record: ann, snn, sakd (default ann,sakd)\n"
           "  --size S             input height and width (default: the dataset's)\n"
           "  --samples N          random candidates of the indirect kernel (default 24)\n"
           "  --direct-samples N   random candidates of the direct kernel (default 12)\n"
           "  --refine R           refinement rounds per kernel (default 2)\n"
           "  --time-limit S       stop drawing candidates after S seconds (default 300;\n"
           "                       with --classes half for the general search, half for\n"
           "                       the classes)\n"
           "  --classes            also search a set per class of calls\n"
           "  --seed N             seed of the sampling (default 1)\n"
           "  --out FILE           write the tuning here instead of the cache\n"
           "  --start FILE         try the sets of an earlier tuning file first (e.g. the\n"
           "                       stored one, after the model's calls changed): the random\n"
           "                       draws and the refinement then have to beat them\n"
           "  --dry-run            search and report, store nothing\n");
}

/* Records the GEMM calls of one step of each mode (after an unrecorded warm-up step). */
static sakd_status record_modes(const sakd_config *c, const char *modes, size_t size,
                                sakd_gemm_log *log, char *workload, size_t wsize)
{
    char list[64];
    snprintf(list, sizeof list, "%s", modes);
    size_t off = (size_t)snprintf(workload, wsize, "%s w%g T%d b%d (%s",
                                  sakd_model_name_str(c->model.name), c->model.width, c->model.T,
                                  c->train.batch, sakd_dataset_str(c->data.dataset));
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        cli_workload_mode mode;
        SAKD_TRY(cli_workload_parse_mode(m, &mode));
        cli_workload w;
        SAKD_TRY(cli_workload_new(&w, c, mode, size, 2));
        sakd_ctx *ctx = sakd_trainer_ctx(w.trainer);
        sakd_status st = sakd_trainer_step(w.trainer, 0);
        if (st == SAKD_OK)
            st = sakd_gemm_record_start(ctx, log);
        if (st == SAKD_OK) {
            st = sakd_trainer_step(w.trainer, 1);
            sakd_gemm_record_stop(ctx);
        }
        cli_workload_free(&w);
        SAKD_TRY(st);
        if (off < wsize)
            off += (size_t)snprintf(workload + off, wsize - off, " %s", m);
    }
    if (off < wsize)
        snprintf(workload + off, wsize - off, ")");
    return SAKD_OK;
}

/* The distinct GEMM calls recorded, one line each. */
static void print_calls(const sakd_gemm_log *log, const char *workload)
{
    printf("%zu distinct GEMM calls in %s:\n", log->n, workload);
    printf("  %5s %2s %2s %7s %8s %7s %6s\n", "count", "tA", "tB", "m", "n", "k", "batch");
    for (size_t i = 0; i < log->n; i++) {
        const sakd_gemm_shape *s = &log->shapes[i];
        printf("  %5zu %2s %2s %7zu %8zu %7zu %6zu\n", s->count, s->trans_a ? "T" : "N",
               s->trans_b ? "T" : "N", s->m, s->n, s->k, s->batch ? s->batch : 1);
    }
    fflush(stdout);
}

/* Searches CLBlast's parameters for the recorded calls on the device (CLBlast serves them
 * whatever serves GEMMs otherwise) into *best, and stores it at `out` ("" = the device's
 * tuning file; NULL = a dry run: not stored); the file written in path. */
static sakd_status search_and_store(const cli_opts *opts, const sakd_gemm_log *log,
                                    const sakd_gemm_tune_opts *to, const char *workload,
                                    const char *out, sakd_gemm_tuning *best, char *path,
                                    size_t size)
{
    sakd_ctx *ctx = NULL;
    sakd_status st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st == SAKD_OK)
        st = sakd_gemm_provider_set(ctx, "clblast");
    if (st == SAKD_OK)
        st = sakd_gemm_tune(ctx, log, to, best);
    if (st == SAKD_OK)
        snprintf(best->workload, sizeof best->workload, "%s", workload);
    if (st == SAKD_OK && out) {
        if (*out)
            snprintf(path, size, "%s", out);
        else
            st = sakd_gemm_tuning_path(ctx, path, size);
        if (st == SAKD_OK)
            st = sakd_gemm_tuning_write(path, best);
    }
    sakd_ctx_free(ctx);
    return st;
}

/* The GEMM time per step before and after, per class, and where it was stored (NULL: a dry
 * run). */
static void print_outcome(const sakd_gemm_tuning *best, double seconds, const char *path)
{
    printf("\nGEMM time per training step on %s: %.1f ms with CLBlast's defaults (%.2f GFLOP/s), "
           "%.1f ms tuned (%.2f GFLOP/s): %.2fx; search took %.0f s\n",
           best->device, best->ms_default, best->gflops_default, best->ms_tuned, best->gflops_tuned,
           best->ms_default / best->ms_tuned, seconds);
    for (size_t i = 0; i < best->n_classes; i++)
        printf("  class %-12s its own set: %.1f ms per step, against %.1f ms with the general "
               "set\n",
               best->classes[i].name, best->classes[i].ms_tuned, best->classes[i].ms_general);
    if (!path)
        printf("dry run: nothing stored\n");
    else
        printf("stored in %s; applied by every later sakd run on this device\n", path);
}

/* The options of sakd tune. */
typedef struct tune_opts {
    const char *modes, *out, *start;
    long size;
    int dry;
    sakd_gemm_tune_opts to;
} tune_opts;

/* Parses tune's options into *o; -1 to go on, else the exit code. */
static int parse_tune_opts(cli_opts *opts, int argc, char **argv, tune_opts *o)
{
    static const struct option longopts[] = {{"device", required_argument, NULL, 'd'},
                                             {"modes", required_argument, NULL, 'm'},
                                             {"size", required_argument, NULL, 's'},
                                             {"samples", required_argument, NULL, 'n'},
                                             {"direct-samples", required_argument, NULL, 'D'},
                                             {"refine", required_argument, NULL, 'r'},
                                             {"time-limit", required_argument, NULL, 't'},
                                             {"seed", required_argument, NULL, 'S'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"dry-run", no_argument, NULL, 'x'},
                                             {"classes", no_argument, NULL, 'C'},
                                             {"start", required_argument, NULL, 'B'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (tune_opts){.modes = "ann,sakd", .to = {24, 12, 2, 1, 300.0, stdout, 0, NULL}};
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *cmd = "tune";
        long v = 0;
        int ok = 1;
        switch (ch) {
        case 'd': opts->device = optarg; break;
        case 'm': o->modes = optarg; break;
        case 's': ok = cli_parse_long(cmd, "--size", optarg, 0, 65536, &o->size); break;
        case 'n':
            ok = cli_parse_long(cmd, "--samples", optarg, 1, 100000, &v);
            o->to.xgemm_samples = (int)v;
            break;
        case 'D':
            ok = cli_parse_long(cmd, "--direct-samples", optarg, 0, 100000, &v);
            o->to.direct_samples = (int)v;
            break;
        case 'r':
            ok = cli_parse_long(cmd, "--refine", optarg, 0, 1000, &v);
            o->to.refine_rounds = (int)v;
            break;
        case 't':
            ok = cli_parse_double(cmd, "--time-limit", optarg, 0, 1e9, &o->to.time_limit_s);
            break;
        case 'S': ok = cli_parse_u64(cmd, "--seed", optarg, &o->to.seed); break;
        case 'o': o->out = optarg; break;
        case 'x': o->dry = 1; break;
        case 'C': o->to.per_class = 1; break;
        case 'B': o->start = optarg; break;
        case 'h': help_tune(); return SAKD_EXIT_OK;
        default: return SAKD_EXIT_USAGE;
        }
        if (!ok)
            return SAKD_EXIT_USAGE;
    }
    return -1;
}

int cmd_tune(cli_opts *opts, int argc, char **argv)
{
    tune_opts o;
    int rc = parse_tune_opts(opts, argc, argv, &o);
    if (rc >= 0)
        return rc;
    const char *modes = o.modes, *out = o.out, *start = o.start;
    long size = o.size;
    int dry = o.dry;
    sakd_gemm_tune_opts to = o.to;
    sakd_gemm_tuning start_set;
    if (start) {
        sakd_status sst = sakd_gemm_tuning_read(start, &start_set);
        if (sst != SAKD_OK) {
            cli_fail(sst, "tune --start");
            return SAKD_EXIT_USAGE;
        }
        to.start = &start_set;
    }
    /* Recording and the baseline must see CLBlast's defaults, not an earlier tuning. */
    setenv("SAKD_GEMM_TUNING", "off", 1);
    sakd_config c;
    sakd_status st = cli_workload_config(&c, argc - optind, argv + optind, NULL, opts);
    /* The calls to tune are CLBlast's: record the step as CLBlast runs it (im2col + strided
     * batched GEMMs), not as the host provider does (per-image BLAS calls or oneDNN). */
    if (st == SAKD_OK)
        st = sakd_config_override(&c, "run.gemm_provider=clblast", "tune");
    /* Each mode's trainer validates its own config (a SAKD config may name no teacher here:
     * the benchmark makes one). */
    if (st != SAKD_OK) {
        sakd_config_free(&c);
        cli_fail(st, "configuration");
        return SAKD_EXIT_USAGE;
    }
    sakd_gemm_log log = {0};
    char workload[256];
    double t0 = sakd_time_now();
    printf("recording the GEMM calls of one training step (%s) ...\n", modes);
    fflush(stdout);
    st = record_modes(&c, modes, (size_t)size, &log, workload, sizeof workload);
    sakd_config_free(&c);
    if (st != SAKD_OK) {
        sakd_gemm_log_free(&log);
        return cli_fail(st, "recording the GEMM calls");
    }
    print_calls(&log, workload);

    sakd_gemm_tuning best;
    char path[4096] = "";
    st = search_and_store(opts, &log, &to, workload,
                          dry   ? NULL
                          : out ? out
                                : "",
                          &best, path, sizeof path);
    sakd_gemm_log_free(&log);
    if (st != SAKD_OK)
        return cli_fail(st, "tune");
    print_outcome(&best, sakd_time_now() - t0, dry ? NULL : path);
    return SAKD_EXIT_OK;
}
