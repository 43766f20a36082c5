/* train.c — `sakd train`, `sakd eval` and `sakd trace`: a training run from a config file, the
 * evaluation of a checkpoint, and one traced training step for checking against other tools. */
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/gemm.h"
#include "harness/meta.h"
#include "io/checkpoint.h"
#include "runtime/file.h"
#include "io/h5.h"
#include "io/nir.h"
#include "ops/optim.h"
#include "runtime/device.h"
#include "runtime/dist.h"
#include "train/rundir.h"

void help_train(void)
{
    printf("usage: sakd train CONFIG.ini [section.key=value ...] [--device SPEC]\n\n"
           "Trains the model the config describes (DESIGN.md 3.3 lists the keys): an ANN\n"
           "(model.arch = ann), a spiking network by BPTT, or, with distill.teacher set, a\n"
           "spiking network by SAKD from that ANN checkpoint. Writes run.out (default\n"
           "runs/<config id>)/config.ini, log.csv (one row per epoch) and weights.h5 (after\n"
           "every epoch), then prints the report: accuracy, loss terms, firing rates, SOPs\n"
           "and energy per image, images/s and peak device memory. train.resume = PATH\n"
           "continues a run from its checkpoint. Ctrl-C (SIGINT), SIGTERM or SIGUSR2\n"
           "finishes the current step, saves the state to weights.h5 and exits with\n"
           "status 130; the same command again resumes the run where it stopped (a\n"
           "finished run is reported complete; another config aimed at the same run.out\n"
           "is refused).\n\n"
           "Several ranks (a sakd built with MPI): 'mpirun -np N sakd train ...' or 'srun\n"
           "sakd train ...' trains one run data-parallel, each rank on one device and 1/N\n"
           "of every batch of train.batch images (a multiple of N), the gradients averaged\n"
           "over the ranks before each step: the same N gives the same weights every time.\n"
           "--device takes a comma-separated list (the rank with local rank l takes item\n"
           "l mod n); without one, the ranks of a node take its GPUs in turn. BN uses each\n"
           "rank's batch (train.sync_bn = true: the global batch's statistics). Rank 0\n"
           "writes the run directory and prints. To stop every rank with a checkpoint,\n"
           "send the launcher SIGUSR2 (mpirun and srun forward it to the ranks at once;\n"
           "mpirun kills them 1 s after a Ctrl-C). README.md, 'Several devices or nodes\n"
           "in one run'.\n");
}

void help_eval(void)
{
    printf("usage: sakd eval --weights W.h5 [section.key=value ...] [--device SPEC]\n"
           "       sakd eval --weights W.h5 --batch BATCH.h5 --out OUT.h5 [--device SPEC]\n"
           "       sakd eval --run DIR [data.dir=PATH] [--device SPEC]\n\n"
           "Evaluates a checkpoint on the test set of the dataset its /meta config names\n"
           "(override keys such as data.dir or data.test_limit on the command line) and\n"
           "prints accuracy, firing rates, SOPs and energy per image.\n\n"
           "--batch runs it instead on the images of BATCH.h5 (as for 'sakd trace': /x\n"
           "float32 [B, C, H, W], normalized; /y int32 or int64 [B]) in eval mode (BN by\n"
           "its running statistics) and writes /logits [B, classes] (an SNN's averaged\n"
           "over T) and /firing/<layer> to OUT.h5 (DESIGN.md 3.2), for comparisons with\n"
           "other implementations; it prints the accuracy on the batch.\n\n"
           "--run DIR measures a finished run again: it evaluates DIR/weights.h5 with the\n"
           "run's config and, when the test accuracy equals the one DIR/report.ini records,\n"
           "rewrites that file's firing rates, SOPs, MACs and energy (keeping the training\n"
           "metrics) and records metrics_measured_by/_at. For runs measured by a sakd that\n"
           "counted rates wrongly; 'sakd collect' then rebuilds the sweep's tables.\n");
}

void help_trace(void)
{
    printf("usage: sakd trace CONFIG.ini --batch BATCH.h5 --out TRACE.h5 [--weights S.h5]\n"
           "                  [--teacher T.h5] [section.key=value ...] [--device SPEC]\n\n"
           "One training step (train-mode BN, no optimizer update) on the batch in BATCH.h5\n"
           "(/x float32 [B, C, H, W], already normalized; /y int32 or int64 [B]), writing\n"
           "/logits, /teacher_logits, /loss/{ce,feature,logit,total}, /features/K/{student,\n"
           "teacher}, /firing/<layer> and /grad/<parameter> to TRACE.h5 (DESIGN.md 3.2).\n");
}

/* Loads defaults, an optional file, then `section.key=value` overrides. */
static sakd_status load_config(sakd_config *c, const char *file, int argc, char **argv, int first)
{
    SAKD_TRY(sakd_config_init(c));
    if (file)
        SAKD_TRY(sakd_config_load_file(c, file));
    for (int i = first; i < argc; i++)
        SAKD_TRY(sakd_config_override(c, argv[i], "command line"));
    return SAKD_OK;
}

static int parse_opts(cli_opts *opts, int argc, char **argv, void (*help)(void),
                      const char **weights, const char **batch, const char **out,
                      const char **teacher, const char **run)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'},  {"weights", required_argument, NULL, 'w'},
        {"batch", required_argument, NULL, 'b'},   {"out", required_argument, NULL, 'o'},
        {"teacher", required_argument, NULL, 't'}, {"run", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    while ((c = getopt_long(argc, argv, "d:w:b:o:t:r:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 'w': *weights = optarg; break;
        case 'b': *batch = optarg; break;
        case 'o': *out = optarg; break;
        case 't': *teacher = optarg; break;
        case 'r': *run = optarg; break;
        case 'h': help(); return SAKD_EXIT_OK;
        default:
            fprintf(stderr, "sakd: '%s --help' shows the options\n", argv[0]);
            return SAKD_EXIT_USAGE;
        }
    }
    if (*run && help != help_eval) {
        fprintf(stderr, "sakd: error: --run is an option of 'sakd eval'\n");
        return SAKD_EXIT_USAGE;
    }
    return -1;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Whether run directory `dir` holds a checkpoint of this very config: resume it if it is
 * unfinished; refuse a checkpoint of another config. *done is set for a finished run. */
static sakd_status find_resume(sakd_config *cfg, const char *dir, int *done)
{
    char path[PATH_MAX + 16];
    *done = 0;
    snprintf(path, sizeof path, "%s/weights.h5", dir);
    if (cfg->train.resume[0] || access(path, F_OK) != 0)
        return SAKD_OK;
    sakd_checkpoint *ck;
    SAKD_TRY(sakd_checkpoint_open(&ck, path));
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    sakd_status st = sakd_checkpoint_read_meta(ck, &meta);
    sakd_checkpoint_close(ck);
    sakd_config theirs;
    int have_theirs = 0;
    if (st == SAKD_OK && meta.config) {
        st = sakd_config_init(&theirs);
        have_theirs = st == SAKD_OK;
        if (st == SAKD_OK)
            st = sakd_config_load_string(&theirs, meta.config, path);
    }
    if (st == SAKD_OK) {
        char a[13], b[13] = "";
        sakd_config_id(cfg, a);
        if (have_theirs) {
            sakd_config_resolve(&theirs);
            sakd_config_id(&theirs, b);
        }
        if (strcmp(a, b) != 0)
            st = sakd_error(SAKD_ERR_ARG,
                            "%s holds a run of another config (id %s, this config %s); choose "
                            "another run.out",
                            path, b[0] ? b : "unknown", a);
        else if (meta.epoch >= cfg->train.epochs)
            *done = 1;
        else {
            char assign[PATH_MAX + 32];
            snprintf(assign, sizeof assign, "train.resume=%s", path);
            st = sakd_config_override(cfg, assign, "resume");
            printf("resuming the unfinished run in %s (epoch %ld of %d done)\n", dir, meta.epoch,
                   cfg->train.epochs);
        }
    }
    if (have_theirs)
        sakd_config_free(&theirs);
    sakd_ckpt_meta_free(&meta);
    return st;
}

static int config_fail(sakd_status st)
{
    cli_fail(st, "configuration");
    return SAKD_EXIT_USAGE;
}

/* Loads train's config (CONFIG.ini at argv[optind] and the overrides after it, then --device)
 * and validates it. */
static sakd_status train_config(sakd_config *cfg, const cli_opts *opts, int argc, char **argv)
{
    SAKD_TRY(load_config(cfg, argv[optind], argc, argv, optind + 1));
    if (opts->device) {
        char dev[300];
        snprintf(dev, sizeof dev, "run.device=%s", opts->device);
        SAKD_TRY(sakd_config_override(cfg, dev, "--device"));
    }
    return sakd_config_validate(cfg);
}

/* Sends SIGINT, SIGTERM and SIGUSR2 (the stop request a launcher forwards) to on_signal, which asks
 * the trainer to stop. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
}

/* report.ini in dir: the metrics for sweeps and scripts, written once the run is complete,
 * while the trainer t still holds the run directory's lock. */
static sakd_status write_report(sakd_trainer *t, const sakd_report *report, const char *dir,
                                sakd_dist *world, const char *devices)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/report.ini", dir);
    sakd_meta m;
    sakd_meta_init(&m);
    sakd_status st = sakd_meta_from_report(&m, report);
    char gemm[512];
    sakd_gemm_provider_describe(sakd_trainer_ctx(t), gemm, sizeof gemm);
    if (st == SAKD_OK) /* what served the run's GEMMs (and host ops), for its provenance */
        st = sakd_meta_set(&m, "gemm_provider", gemm);
    if (st == SAKD_OK && sakd_dist_size(world) > 1) {
        char n[16];
        snprintf(n, sizeof n, "%d", sakd_dist_size(world));
        st = sakd_meta_set(&m, "ranks", n);
        if (st == SAKD_OK)
            st = sakd_meta_set(&m, "mpi", sakd_dist_library());
        if (st == SAKD_OK)
            st = sakd_meta_set(&m, "rank_devices", devices);
    }
    if (st == SAKD_OK)
        st = sakd_meta_write(&m, path, "sakd train report: metrics of the finished run");
    sakd_meta_free(&m);
    return st;
}

static int train_ranks(cli_opts *opts, int argc, char **argv, sakd_dist *world);

/* The number of ranks the launcher says this job has (1 when not launched by one). */
static long launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atol(v) > 0)
            return atol(v);
    }
    return 1;
}

/* The device of this rank: item (local rank mod n) of a comma-separated --device; without
 * --device, run.device or SAKD_DEVICE, the node's GPUs in turn by local rank (none: the
 * default device). `buf` holds the chosen spec. */
static sakd_status rank_device(sakd_config *cfg, const cli_opts *opts, sakd_dist *world, char *buf,
                               size_t size)
{
    int local = sakd_dist_local_rank(world);
    buf[0] = '\0';
    if (opts->device && strchr(opts->device, ',')) {
        size_t n = 1;
        for (const char *p = opts->device; *p; p++)
            n += *p == ',';
        const char *p = opts->device;
        for (size_t k = (size_t)local % n; k > 0; k--)
            p = strchr(p, ',') + 1;
        size_t len = strcspn(p, ",");
        snprintf(buf, size, "%.*s", (int)len, p);
    } else if (!opts->device && !cfg->run.device[0] && !getenv("SAKD_DEVICE") &&
               sakd_dist_size(world) > 1) {
        sakd_device_info *list = NULL;
        size_t count = 0, gpus = 0;
        if (sakd_device_list(&list, &count) != SAKD_OK) {
            sakd_error_clear();
            return SAKD_OK; /* the trainer reports the missing platform */
        }
        for (size_t i = 0; i < count; i++)
            gpus += (list[i].type & CL_DEVICE_TYPE_GPU) != 0;
        for (size_t i = 0, g = 0; gpus && i < count; i++)
            if ((list[i].type & CL_DEVICE_TYPE_GPU) && g++ == (size_t)local % gpus)
                snprintf(buf, size, "%u:%u", list[i].platform_index, list[i].device_index);
        sakd_device_list_free(list);
    }
    if (!buf[0])
        return SAKD_OK;
    char assign[320];
    snprintf(assign, sizeof assign, "run.device=%s", buf);
    return sakd_config_override(cfg, assign, "--device");
}

/* Ends a rank that failed: its message names the rank, and the job ends with it (the others
 * would wait for this rank forever); alone it just returns rc. */
static int rank_fail(sakd_dist *world, int rc)
{
    if (sakd_dist_size(world) > 1) {
        fprintf(stderr, "sakd: rank %d of %d failed (exit %d): ending the job\n",
                sakd_dist_rank(world), sakd_dist_size(world), rc);
        fflush(stderr);
        sakd_dist_abort(world, rc);
    }
    return rc;
}

/* Rank 0 says how the ranks split the run: the MPI library and each rank's device. */
static sakd_status say_ranks(sakd_trainer *t, sakd_dist *world, char *devices, size_t size)
{
    int n = sakd_dist_size(world);
    devices[0] = '\0';
    if (n == 1)
        return SAKD_OK;
    /* Each rank's device name as doubles of 8 bytes, 64 of them (512 characters). */
    enum { W = 64 };
    double mine[W];
    memset(mine, 0, sizeof mine);
    const char *name = sakd_trainer_ctx(t)->info.name;
    memcpy(mine, name, strlen(name) < sizeof mine - 1 ? strlen(name) : sizeof mine - 1);
    double *all = calloc((size_t)n * W, sizeof *all);
    if (!all)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    sakd_status st = sakd_dist_gather_doubles(world, mine, W, all);
    size_t used = 0;
    for (int r = 0; r < n && st == SAKD_OK; r++) {
        char one[sizeof mine];
        memcpy(one, all + (size_t)r * W, sizeof one);
        one[sizeof one - 1] = '\0';
        int k = snprintf(devices + used, size - used, "%s%d: %s", r ? "; " : "", r, one);
        if (k > 0 && (size_t)k < size - used)
            used += (size_t)k;
    }
    free(all);
    if (st == SAKD_OK && sakd_dist_rank(world) == 0)
        printf("data-parallel over %d ranks (%s): %s\n", n, sakd_dist_library(), devices);
    return st;
}

int cmd_train(cli_opts *opts, int argc, char **argv)
{
    sakd_dist *world = sakd_dist_self();
    if (sakd_dist_launched() && launched_size() > 1) {
        if (!sakd_dist_available()) {
            fprintf(stderr,
                    "sakd: error: started as one of %ld ranks, but this sakd was built "
                    "without MPI: build it with './configure --with-mpi' (Debian package "
                    "libopenmpi-dev)\n",
                    launched_size());
            return SAKD_EXIT_USAGE;
        }
        sakd_status ws = sakd_dist_world(&world, NULL, NULL);
        if (ws != SAKD_OK)
            return cli_fail(ws, "starting MPI");
    }
    int rc = train_ranks(opts, argc, argv, world);
    if (rc != SAKD_EXIT_OK && rc != 130)
        rc = rank_fail(world, rc);
    sakd_dist_finalize(world);
    return rc;
}

static int train_ranks(cli_opts *opts, int argc, char **argv, sakd_dist *world)
{
    const char *weights = NULL, *batch = NULL, *out = NULL, *teacher = NULL, *run = NULL;
    int rc = parse_opts(opts, argc, argv, help_train, &weights, &batch, &out, &teacher, &run);
    if (rc >= 0)
        return rc;
    if (optind >= argc) {
        fprintf(stderr, "sakd: error: train needs a config file ('sakd train --help')\n");
        return SAKD_EXIT_USAGE;
    }
    sakd_config cfg;
    int rank = sakd_dist_rank(world);
    char device[256];
    sakd_status st = train_config(&cfg, opts, argc, argv);
    if (st == SAKD_OK)
        st = rank_device(&cfg, opts, world, device, sizeof device);
    if (st != SAKD_OK) {
        sakd_config_free(&cfg);
        return config_fail(st);
    }
    if (rank == 0)
        sakd_config_warn(&cfg);
    char dir[PATH_MAX], id[13];
    sakd_config_resolve(&cfg);
    sakd_config_id(&cfg, id);
    if (cfg.run.out[0])
        snprintf(dir, sizeof dir, "%s", cfg.run.out);
    else
        snprintf(dir, sizeof dir, "runs/%s", id);
    int done = 0;
    st = find_resume(&cfg, dir, &done);
    if (st != SAKD_OK) {
        sakd_config_free(&cfg);
        return cli_fail(st, "resuming");
    }
    if (done) {
        if (rank == 0)
            printf("the run in %s is complete (%d epochs); 'sakd eval --weights %s/weights.h5' "
                   "evaluates it, another run.out starts afresh\n",
                   dir, cfg.train.epochs, dir);
        sakd_config_free(&cfg);
        return SAKD_EXIT_OK;
    }
    catch_signals();
    sakd_trainer *t;
    st = sakd_trainer_new_ranks(&t, &cfg, dir, NULL, NULL, rank == 0 ? stdout : NULL, world);
    sakd_report report;
    char devices[2048] = "";
    if (st == SAKD_OK)
        st = say_ranks(t, world, devices, sizeof devices);
    if (st == SAKD_OK) {
        sakd_trainer_set_interrupt(t, &interrupted);
        st = sakd_trainer_run(t, &report);
    }
    if (st != SAKD_OK) {
        sakd_trainer_free(t);
        sakd_config_free(&cfg);
        if (st == SAKD_ERR_INTERRUPTED) {
            if (rank == 0)
                fprintf(stderr, "sakd: interrupted: %s\n", sakd_error_detail());
            return 130;
        }
        if (sakd_dist_size(world) > 1) {
            char what[64];
            snprintf(what, sizeof what, "training (rank %d)", rank);
            return cli_fail(st, what);
        }
        return cli_fail(st, "training");
    }
    if (rank != 0) {
        sakd_trainer_free(t);
        sakd_config_free(&cfg);
        return SAKD_EXIT_OK;
    }
    sakd_report_print(&report, stdout);
    printf("  run directory      %s\n", dir);
    st = write_report(t, &report, dir, world, devices);
    sakd_trainer_free(t);
    sakd_config_free(&cfg);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "writing report.ini");
}

/* The config stored in a checkpoint's /meta, with command-line overrides on top. */
static sakd_status config_from_checkpoint(sakd_config *cfg, const char *path, int argc, char **argv,
                                          int first)
{
    SAKD_TRY(sakd_config_init(cfg));
    sakd_checkpoint *ck;
    SAKD_TRY(sakd_checkpoint_open(&ck, path));
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    sakd_status st = sakd_checkpoint_read_meta(ck, &meta);
    sakd_checkpoint_close(ck);
    if (st == SAKD_OK && !meta.config)
        st = sakd_error(SAKD_ERR_FORMAT,
                        "%s has no /meta config; evaluate it with a config file instead", path);
    if (st == SAKD_OK)
        st = sakd_config_load_string(cfg, meta.config, path);
    sakd_ckpt_meta_free(&meta);
    for (int i = first; i < argc && st == SAKD_OK; i++)
        st = sakd_config_override(cfg, argv[i], "command line");
    /* Evaluation neither resumes nor distills. */
    if (st == SAKD_OK)
        st = sakd_config_override(cfg, "train.resume=", "eval");
    if (st == SAKD_OK)
        st = sakd_config_override(cfg, "distill.teacher=", "eval");
    if (st == SAKD_OK)
        st = sakd_config_override(cfg, "distill.init_from_teacher=false", "eval");
    return st;
}

/* The keys of report.ini that `sakd eval --run` measures again. */
static int remeasured_key(const char *key)
{
    static const char *const keys[] = {"mean_firing_rate", "sops_per_image", "macs_per_image",
                                       "energy_uj"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return strncmp(key, "layer.", 6) == 0;
}

/* Rewrites the firing rates, SOPs, MACs and energy of run directory `dir`'s report.ini from
 * `fresh` (measured on dir/weights.h5), once its test accuracy matches the recorded one;
 * every other key (training losses, images/s, wall time, peak memory) is kept. */
static sakd_status update_report(const char *dir, const sakd_report *fresh, size_t n_test)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/report.ini", dir);
    sakd_meta old, measured;
    sakd_meta_init(&old);
    sakd_meta_init(&measured);
    sakd_status st = sakd_meta_read(&old, path);
    if (st == SAKD_ERR_NOT_FOUND)
        st = sakd_error(st, "%s: not found; the run is not finished ('sakd train' resumes it)",
                        path);
    double recorded = st == SAKD_OK ? sakd_meta_number(&old, "test_acc") : 0.0;
    if (st == SAKD_OK && !(fabs(recorded - fresh->test_acc) <= 0.5 / (double)n_test))
        st = sakd_error(SAKD_ERR_FORMAT,
                        "%s/weights.h5 evaluates to test accuracy %.4f here, but %s records "
                        "%.4f: these are not the weights the report measured, or this device "
                        "computes differently; %s is left as it was",
                        dir, fresh->test_acc, path, recorded, path);
    if (st == SAKD_OK)
        st = sakd_meta_from_report(&measured, fresh);
    /* Drop the old per-layer rates (a layer list never changes for a config, but a stale key
     * must not survive), then set the measured keys. */
    sakd_meta out;
    sakd_meta_init(&out);
    for (size_t i = 0; i < old.count && st == SAKD_OK; i++)
        if (strncmp(old.keys[i], "layer.", 6) != 0 &&
            strncmp(old.keys[i], "metrics_measured_", 17) != 0)
            st = sakd_meta_set(&out, old.keys[i], old.values[i]);
    for (size_t i = 0; i < measured.count && st == SAKD_OK; i++)
        if (remeasured_key(measured.keys[i]))
            st = sakd_meta_set(&out, measured.keys[i], measured.values[i]);
    char describe[128], now[32];
    sakd_meta_git_describe(describe, sizeof describe);
    sakd_meta_now(now, sizeof now);
    if (st == SAKD_OK)
        st = sakd_meta_setf(&out, "metrics_measured_by", "sakd %s (%s)", sakd_version(),
                            describe[0] ? describe : "not from git");
    if (st == SAKD_OK)
        st = sakd_meta_set(&out, "metrics_measured_at", now);
    if (st == SAKD_OK)
        st = sakd_meta_write(&out, path,
                             "sakd train report: metrics of the finished run (firing rates, "
                             "SOPs and energy measured again by sakd eval --run)");
    sakd_meta_free(&out);
    sakd_meta_free(&old);
    sakd_meta_free(&measured);
    return st;
}

static int eval_batch(const cli_opts *opts, const char *weights, const char *batch, const char *out,
                      int argc, char **argv);

int cmd_eval(cli_opts *opts, int argc, char **argv)
{
    const char *weights = NULL, *batch = NULL, *out = NULL, *teacher = NULL, *run = NULL;
    int rc = parse_opts(opts, argc, argv, help_eval, &weights, &batch, &out, &teacher, &run);
    if (rc >= 0)
        return rc;
    char run_weights[PATH_MAX + 16];
    if (run) {
        if (weights) {
            fprintf(stderr, "sakd: error: eval takes --weights or --run, not both\n");
            return SAKD_EXIT_USAGE;
        }
        /* The metrics of a run come from the run's own config; only where the dataset lies
         * may differ. */
        for (int i = optind; i < argc; i++)
            if (strncmp(argv[i], "data.dir=", 9) != 0) {
                fprintf(stderr,
                        "sakd: error: eval --run measures the run's own config; '%s' would "
                        "change it (only data.dir may be given)\n",
                        argv[i]);
                return SAKD_EXIT_USAGE;
            }
        snprintf(run_weights, sizeof run_weights, "%s/weights.h5", run);
        weights = run_weights;
    }
    if (!weights) {
        fprintf(stderr, "sakd: error: eval needs --weights W.h5 or --run DIR\n");
        return SAKD_EXIT_USAGE;
    }
    if (batch || out) {
        if (!batch || !out || run) {
            fprintf(stderr, "sakd: error: eval --batch BATCH.h5 needs --out OUT.h5 and "
                            "--weights (not --run)\n");
            return SAKD_EXIT_USAGE;
        }
        return eval_batch(opts, weights, batch, out, argc, argv);
    }
    int lock = -1;
    if (run) {
        sakd_status st = sakd_rundir_claim(run, false, &lock);
        if (st != SAKD_OK)
            return cli_fail(st, "locking the run");
    }
    sakd_config cfg;
    sakd_status st = config_from_checkpoint(&cfg, weights, argc, argv, optind);
    if (st != SAKD_OK) {
        sakd_config_free(&cfg);
        sakd_rundir_release(&lock);
        return cli_fail(st, "reading the checkpoint's config");
    }
    if (opts->device) {
        free(cfg.run.device);
        cfg.run.device = strdup(opts->device);
    }
    sakd_trainer *t;
    sakd_report report;
    memset(&report, 0, sizeof report);
    size_t n_test = (size_t)cfg.data.test_limit;
    st = sakd_trainer_new(&t, &cfg, NULL, NULL, NULL, stdout);
    if (st == SAKD_OK)
        n_test = sakd_trainer_test_size(t);
    if (st == SAKD_OK)
        st = sakd_trainer_load_weights(t, weights);
    if (st == SAKD_OK)
        st = sakd_trainer_evaluate(t, &report.test_acc, &report.test_loss);
    if (st == SAKD_OK)
        st = sakd_trainer_measure(t, 1024, &report);
    sakd_trainer_free(t);
    sakd_config_free(&cfg);
    if (st == SAKD_OK && run)
        st = update_report(run, &report, n_test);
    sakd_rundir_release(&lock);
    if (st != SAKD_OK)
        return cli_fail(st, run ? "measuring the run again" : "evaluating");
    report.best_acc = report.test_acc;
    printf("%s\n", weights);
    sakd_report_print(&report, stdout);
    if (run)
        printf("  updated            %s/report.ini (firing rates, SOPs, MACs, energy)\n", run);
    return SAKD_EXIT_OK;
}

/* Writes the trace of one step (DESIGN.md 3.2). */
/* /logits, /teacher_logits and the /loss terms (h: host scratch). */
static sakd_status trace_outputs(sakd_h5_file f, sakd_model *s, sakd_model *teacher,
                                 const sakd_distill *d, float *h)
{
    const sakd_act *lg = sakd_graph_act_get(&s->graph, s->logits);
    SAKD_TRY(sakd_tensor_download(&lg->value, h));
    SAKD_TRY(sakd_h5_write_float(f, "/logits", 2, lg->shape, h));
    if (teacher) {
        const sakd_act *tl = sakd_graph_act_get(&teacher->graph, teacher->logits);
        SAKD_TRY(sakd_tensor_download(&tl->value, h));
        SAKD_TRY(sakd_h5_write_float(f, "/teacher_logits", 2, tl->shape, h));
    }
    const struct {
        const char *name;
        double v;
    } losses[] = {{"/loss/ce", d->loss_ce},
                  {"/loss/feature", d->loss_feature},
                  {"/loss/logit", d->loss_logit},
                  {"/loss/total", d->loss_total}};
    for (size_t i = 0; i < 4; i++) {
        float v = (float)losses[i].v;
        SAKD_TRY(sakd_h5_write_float(f, losses[i].name, 0, NULL, &v));
    }
    return SAKD_OK;
}

/* /firing/<layer>: the firing rate of every spiking layer of g's last forward. */
static sakd_status write_firing(sakd_h5_file f, const sakd_graph *g, float *h)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const sakd_node *n = &g->nodes[i];
        if (!sakd_node_spikes(n))
            continue;
        const sakd_tensor *v = &g->acts[n->out].value;
        SAKD_TRY(sakd_tensor_download(v, h));
        double sum = 0.0;
        size_t cnt = sakd_tensor_numel(v);
        for (size_t j = 0; j < cnt; j++)
            sum += h[j];
        float rate = (float)(sum / (double)cnt);
        char path[160];
        snprintf(path, sizeof path, "/firing/%s", n->name);
        SAKD_TRY(sakd_h5_write_float(f, path, 0, NULL, &rate));
    }
    return SAKD_OK;
}

/* /features/K/{student,teacher} of every tap and /firing/<layer> of every spiking layer. */
static sakd_status trace_internals(sakd_h5_file f, const sakd_graph *g, const sakd_distill *d,
                                   float *h)
{
    for (size_t k = 0; k < d->n_taps; k++) {
        const sakd_tensor *pair[2] = {&d->taps[k].s_out, &d->taps[k].t_out};
        const char *who[2] = {"student", "teacher"};
        for (int w = 0; w < 2; w++) {
            char path[96];
            snprintf(path, sizeof path, "/features/%zu/%s", k, who[w]);
            SAKD_TRY(sakd_tensor_download(pair[w], h));
            SAKD_TRY(sakd_h5_write_float(f, path, pair[w]->ndim, pair[w]->shape, h));
        }
    }
    return write_firing(f, g, h);
}

/* /grad/<parameter> of every trainable parameter. */
static sakd_status trace_grads(sakd_h5_file f, const sakd_params *p, float *h)
{
    if (p->n_trainable)
        SAKD_TRY(sakd_tensor_download(&p->grads, h));
    for (size_t i = 0; i < p->count; i++) {
        const sakd_param *e = &p->items[i];
        if (!e->trainable)
            continue;
        char path[160];
        snprintf(path, sizeof path, "/grad/%s", e->name);
        SAKD_TRY(sakd_h5_write_float(f, path, e->ndim, e->shape, h + e->offset));
    }
    return SAKD_OK;
}

static sakd_status write_trace(sakd_trainer *t, const char *out)
{
    sakd_model *s = sakd_trainer_student(t), *teacher = sakd_trainer_teacher(t);
    sakd_distill *d = sakd_trainer_distill(t);
    sakd_params *p = sakd_trainer_params(t);
    sakd_h5_file f;
    char tmp[PATH_MAX + 32];
    SAKD_TRY(sakd_h5_create_temp(out, &f, tmp, sizeof tmp));
    size_t largest = p->n_trainable;
    const sakd_graph *g = &s->graph;
    for (size_t i = 0; i < g->n_acts; i++) {
        size_t n = sakd_tensor_numel(&g->acts[i].value);
        largest = n > largest ? n : largest;
    }
    float *h = malloc((largest ? largest : 1) * sizeof *h); /* host scratch for any one tensor */
    sakd_status st = h ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    if (st == SAKD_OK)
        st = trace_outputs(f, s, teacher, d, h);
    if (st == SAKD_OK)
        st = trace_internals(f, g, d, h);
    if (st == SAKD_OK)
        st = trace_grads(f, p, h);
    free(h);
    if (st != SAKD_OK) {
        sakd_h5_abort(f, tmp);
        return st;
    }
    return sakd_h5_commit(f, tmp, out);
}

static size_t dataset_classes(sakd_dataset_id d)
{
    return d == SAKD_DATASET_CIFAR100 ? 100 : 10;
}

/* Loads trace's config (CONFIG.ini at argv[optind] and the overrides after it) with the batch
 * size n, the --teacher and --device given and no resume. */
static sakd_status trace_config(sakd_config *cfg, const cli_opts *opts, int argc, char **argv,
                                size_t n, const char *teacher)
{
    SAKD_TRY(load_config(cfg, argv[optind], argc, argv, optind + 1));
    char assign[PATH_MAX + 32];
    snprintf(assign, sizeof assign, "train.batch=%zu", n);
    SAKD_TRY(sakd_config_override(cfg, assign, "--batch"));
    if (teacher) {
        snprintf(assign, sizeof assign, "distill.teacher=%s", teacher);
        SAKD_TRY(sakd_config_override(cfg, assign, "--teacher"));
    }
    SAKD_TRY(sakd_config_override(cfg, "train.resume=", "trace"));
    if (opts->device) {
        snprintf(assign, sizeof assign, "run.device=%s", opts->device);
        SAKD_TRY(sakd_config_override(cfg, assign, "--device"));
    }
    return SAKD_OK;
}

/* Checks that each of the n labels y of the batch file `batch` is a class of `dataset`. */
static sakd_status check_labels(const char *batch, const int32_t *y, size_t n,
                                sakd_dataset_id dataset)
{
    size_t classes = dataset_classes(dataset);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= classes)
            return sakd_error(SAKD_ERR_FORMAT, "%s: /y[%zu] = %d is not a class of %s (0..%zu)",
                              batch, i, (int)y[i], sakd_dataset_str(dataset), classes - 1);
    return SAKD_OK;
}

/* One training step of t on the batch x, y (train-mode BN, no optimizer update): the forward
 * passes, the distillation loss with weight beta, and the gradients. Dropout (vgg11) draws the
 * masks of step 0 of a run with this seed. */
static sakd_status trace_step(sakd_trainer *t, const float *x, const int32_t *y, double beta,
                              uint64_t seed)
{
    sakd_model *s = sakd_trainer_student(t), *tm = sakd_trainer_teacher(t);
    sakd_distill *d = sakd_trainer_distill(t);
    SAKD_TRY(sakd_tensor_upload(&sakd_graph_act_get(&s->graph, s->input)->value, x));
    if (tm)
        SAKD_TRY(sakd_tensor_upload(&sakd_graph_act_get(&tm->graph, tm->input)->value, x));
    SAKD_TRY(sakd_distill_set_labels(d, y));
    if (tm)
        SAKD_TRY(sakd_graph_forward(&tm->graph, 0));
    sakd_graph_set_rng(&s->graph, seed, 0);
    SAKD_TRY(sakd_graph_forward(&s->graph, 1));
    SAKD_TRY(sakd_grad_zero(&sakd_trainer_params(t)->grads));
    SAKD_TRY(sakd_distill_forward(d, beta, 1));
    return sakd_distill_backward(d);
}

/* The trainer of cfg for a batch file's n images of `shape` with labels y (checked against
 * the config's dataset), on stand-in data of that shape, from `weights` when given. */
static sakd_status batch_trainer(sakd_config *cfg, const char *batch, const int32_t *y, size_t n,
                                 const size_t shape[4], const char *weights, sakd_dataset *tr,
                                 sakd_dataset *te, sakd_trainer **t)
{
    memset(tr, 0, sizeof *tr);
    memset(te, 0, sizeof *te);
    *t = NULL;
    SAKD_TRY(check_labels(batch, y, n, cfg->data.dataset));
    SAKD_TRY(sakd_dataset_synthetic_split(tr, te, n, n, shape[1], shape[2], shape[3],
                                          dataset_classes(cfg->data.dataset), 1));
    SAKD_TRY(sakd_trainer_new(t, cfg, NULL, tr, te, NULL));
    return weights ? sakd_trainer_load_weights(*t, weights) : SAKD_OK;
}

/* The student of t in eval mode on x: /logits and /firing/<layer> to out (atomically); the
 * number of images whose largest logit is their label y in *correct. */
static sakd_status eval_forward(sakd_trainer *t, const float *x, const int32_t *y, size_t n,
                                const char *out, size_t *correct)
{
    sakd_model *s = sakd_trainer_student(t);
    const sakd_graph *g = &s->graph;
    SAKD_TRY(sakd_tensor_upload(&sakd_graph_act_get(&s->graph, s->input)->value, x));
    SAKD_TRY(sakd_graph_forward(&s->graph, 0));
    size_t largest = 1;
    for (size_t i = 0; i < g->n_acts; i++) {
        size_t m = sakd_tensor_numel(&g->acts[i].value);
        largest = m > largest ? m : largest;
    }
    float *h = malloc(largest * sizeof *h);
    if (!h)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    const sakd_act *lg = sakd_graph_act_get(&s->graph, s->logits);
    sakd_status st = sakd_tensor_download(&lg->value, h);
    size_t classes = lg->shape[1];
    *correct = 0;
    for (size_t i = 0; st == SAKD_OK && i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < classes; k++)
            best = h[i * classes + k] > h[i * classes + best] ? k : best;
        *correct += (int32_t)best == y[i];
    }
    sakd_h5_file f;
    char tmp[PATH_MAX + 32];
    if (st == SAKD_OK)
        st = sakd_h5_create_temp(out, &f, tmp, sizeof tmp);
    if (st == SAKD_OK) {
        st = sakd_h5_write_float(f, "/logits", 2, lg->shape, h);
        if (st == SAKD_OK)
            st = write_firing(f, g, h);
        if (st == SAKD_OK)
            st = sakd_h5_commit(f, tmp, out);
        else
            sakd_h5_abort(f, tmp);
    }
    free(h);
    return st;
}

/* eval --batch: the checkpoint's model, built for the batch's size and shape, in eval mode on
 * the batch's images. */
static int eval_batch(const cli_opts *opts, const char *weights, const char *batch, const char *out,
                      int argc, char **argv)
{
    float *x = NULL;
    int32_t *y = NULL;
    size_t shape[4], n;
    sakd_status st = sakd_batch_file_read(batch, &x, shape, &y, &n);
    if (st != SAKD_OK)
        return cli_fail(st, "reading the batch file");
    sakd_config cfg;
    st = config_from_checkpoint(&cfg, weights, argc, argv, optind);
    char assign[PATH_MAX + 32];
    snprintf(assign, sizeof assign, "train.batch=%zu", n);
    if (st == SAKD_OK)
        st = sakd_config_override(&cfg, assign, "--batch");
    if (st == SAKD_OK && opts->device) {
        snprintf(assign, sizeof assign, "run.device=%s", opts->device);
        st = sakd_config_override(&cfg, assign, "--device");
    }
    sakd_dataset tr, te;
    sakd_trainer *t = NULL;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    if (st == SAKD_OK)
        st = batch_trainer(&cfg, batch, y, n, shape, weights, &tr, &te, &t);
    size_t correct = 0;
    if (st == SAKD_OK)
        st = eval_forward(t, x, y, n, out, &correct);
    if (st == SAKD_OK)
        printf("eval of %s on the %zu images of %s: accuracy %.2f %% (%zu correct) -> %s\n",
               weights, n, batch, 100.0 * (double)correct / (double)n, correct, out);
    sakd_trainer_free(t);
    sakd_dataset_free(&tr);
    sakd_dataset_free(&te);
    sakd_config_free(&cfg);
    free(x);
    free(y);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "evaluating the batch");
}

int cmd_trace(cli_opts *opts, int argc, char **argv)
{
    const char *weights = NULL, *batch = NULL, *out = NULL, *teacher = NULL, *run = NULL;
    int rc = parse_opts(opts, argc, argv, help_trace, &weights, &batch, &out, &teacher, &run);
    if (rc >= 0)
        return rc;
    if (optind >= argc || !batch || !out) {
        fprintf(stderr, "sakd: error: trace needs CONFIG.ini, --batch BATCH.h5 and --out "
                        "TRACE.h5 ('sakd trace --help')\n");
        return SAKD_EXIT_USAGE;
    }
    float *x = NULL;
    int32_t *y = NULL;
    size_t shape[4], n;
    sakd_status st = sakd_batch_file_read(batch, &x, shape, &y, &n);
    if (st != SAKD_OK)
        return cli_fail(st, "reading the batch file");
    sakd_config cfg;
    st = trace_config(&cfg, opts, argc, argv, n, teacher);
    if (st != SAKD_OK) {
        free(x);
        free(y);
        sakd_config_free(&cfg);
        return config_fail(st);
    }
    /* The trace needs the dataset's shape and classes only: stand-in data of that shape. */
    sakd_dataset tr, te;
    sakd_trainer *t = NULL;
    st = batch_trainer(&cfg, batch, y, n, shape, weights, &tr, &te, &t);
    if (st == SAKD_OK)
        st = trace_step(t, x, y, cfg.distill.beta, cfg.train.seed);
    if (st == SAKD_OK)
        st = write_trace(t, out);
    if (st == SAKD_OK) {
        const sakd_distill *d = sakd_trainer_distill(t);
        printf("trace of one step: loss total %.6g (ce %.6g feature %.6g logit %.6g) -> %s\n",
               d->loss_total, d->loss_ce, d->loss_feature, d->loss_logit, out);
    }
    sakd_trainer_free(t);
    sakd_dataset_free(&tr);
    sakd_dataset_free(&te);
    sakd_config_free(&cfg);
    free(x);
    free(y);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "tracing");
}

void help_export(void)
{
    printf("usage: sakd export nir --weights W.h5 OUT.nir [--dt DT] [--device SPEC]\n\n"
           "Writes the spiking network of checkpoint W.h5 (its model from the /meta config)\n"
           "as a NIR graph (Neuromorphic Intermediate Representation, the HDF5 layout of\n"
           "the `nir` Python package 1.0): BN folded into the convolution before it, each\n"
           "LIF layer as NIR's LIF with tau = DT/(1 - decay), r = 1/(1 - decay), v_leak 0,\n"
           "v_reset 0 (forward Euler with step DT, default 1), residual additions as summed\n"
           "inputs, global average pooling as AvgPool2d and Flatten. The input is presented\n"
           "at each of T steps and the logits are the mean of the output over them (the\n"
           "file's metadata says so). Refused, naming the layer: ANNs, max pooling (vgg11,\n"
           "the imagenet stem), SEW AND/IAND, the soft reset. DESIGN.md 3.5.\n");
}

/* The image shape of a dataset: channels, height, width. */
static void dataset_shape(sakd_dataset_id d, size_t shape[3])
{
    int cifar = d == SAKD_DATASET_CIFAR10 || d == SAKD_DATASET_CIFAR100;
    shape[0] = cifar ? 3 : 1;
    shape[1] = shape[2] = cifar ? 32 : 28;
}

int cmd_export(cli_opts *opts, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"weights", required_argument, NULL, 'w'},
        {"dt", required_argument, NULL, 't'},
        {"device", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *weights = NULL;
    double dt = 1.0;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "w:t:d:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'w': weights = optarg; break;
        case 't':
            if (!cli_parse_double("export", "--dt", optarg, 1e-12, 1e12, &dt))
                return SAKD_EXIT_USAGE;
            break;
        case 'd': opts->device = optarg; break;
        case 'h': help_export(); return SAKD_EXIT_OK;
        default:
            fprintf(stderr, "sakd: 'export --help' shows the options\n");
            return SAKD_EXIT_USAGE;
        }
    }
    if (optind + 2 != argc || strcmp(argv[optind], "nir") != 0 || !weights) {
        fprintf(stderr, "sakd: error: usage: sakd export nir --weights W.h5 OUT.nir [--dt DT]\n");
        return SAKD_EXIT_USAGE;
    }
    const char *path = argv[optind + 1];
    sakd_config cfg;
    sakd_status st = config_from_checkpoint(&cfg, weights, 0, NULL, 0);
    char assign[PATH_MAX + 32];
    if (st == SAKD_OK)
        st = sakd_config_override(&cfg, "train.batch=1", "export");
    if (st == SAKD_OK && opts->device) {
        snprintf(assign, sizeof assign, "run.device=%s", opts->device);
        st = sakd_config_override(&cfg, assign, "--device");
    }
    size_t shape[3];
    dataset_shape(cfg.data.dataset, shape);
    sakd_dataset tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    if (st == SAKD_OK)
        st = sakd_dataset_synthetic_split(&tr, &te, 1, 1, shape[0], shape[1], shape[2],
                                          dataset_classes(cfg.data.dataset), 1);
    sakd_trainer *t = NULL;
    if (st == SAKD_OK)
        st = sakd_trainer_new(&t, &cfg, NULL, &tr, &te, NULL);
    if (st == SAKD_OK)
        st = sakd_trainer_load_weights(t, weights);
    if (st == SAKD_OK)
        st = sakd_nir_export(sakd_trainer_student(t), dt, path);
    if (st == SAKD_OK)
        printf("%s: the %s SNN of %s as a NIR graph (dt %g, T %d)\n", path,
               sakd_model_name_str(cfg.model.name), weights, dt, cfg.model.T);
    sakd_trainer_free(t);
    sakd_dataset_free(&tr);
    sakd_dataset_free(&te);
    sakd_config_free(&cfg);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "exporting to NIR");
}
