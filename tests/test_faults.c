/* test_faults.c — faults during training: SIGKILL at random points then resume (the weights
 * of an uninterrupted run, no truncated file), a full disk while writing (the old file kept),
 * a loss that becomes NaN/Inf (stopped with the step and term, the last good checkpoint kept),
 * and a device allocation too large for the device (the buffer, the bytes and the limits). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char dir[PATH_MAX / 2], data[PATH_MAX], cfg[PATH_MAX];
static char out[1 << 16];
/* "NAME=value" settings for the next spawned child (LD_PRELOAD of the fault injector) */
static char child_env[4][2 * PATH_MAX];
static int n_child_env;

#define RUN(...) test_run_sakd(NULL, (const char *const[]){__VA_ARGS__, NULL}, out, sizeof out)
#define EXPECT_IN_OUTPUT(text)                                                                     \
    ck_assert_msg(strstr(out, text) != NULL, "output lacks '%s':\n%s", text, out)

/* 8x8 images: a few seconds of training for several epochs on a 2-core CPU. */
enum { HW = 8, N_TRAIN = 256, N_TEST = 16, CLASSES = 10, LOG_FIELDS = 12 };

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void idx_pair(const char *prefix, uint32_t n)
{
    static unsigned char buf[16 + N_TRAIN * HW * HW];
    const uint32_t head[4] = {0x803, n, HW, HW};
    for (int i = 0; i < 16; i++)
        buf[i] = (unsigned char)(head[i / 4] >> (24 - 8 * (i % 4)));
    for (size_t i = 0; i < (size_t)n * HW * HW; i++)
        buf[16 + i] = (unsigned char)((i * 37u + i / (HW * HW) * 11u) & 0xff);
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", data, prefix);
    write_bytes(path, buf, 16 + (size_t)n * HW * HW);
    buf[3] = 0x01;
    buf[4] = (unsigned char)(n >> 24);
    buf[5] = (unsigned char)(n >> 16);
    buf[6] = (unsigned char)(n >> 8);
    buf[7] = (unsigned char)n;
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (unsigned char)((i * 7u) % CLASSES);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", data, prefix);
    write_bytes(path, buf, 8 + n);
}

static void setup(void)
{
    test_tempdir(dir, sizeof dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(cfg, sizeof cfg, "%s/faults.ini", dir);
    ck_assert_int_eq(mkdir(data, 0755), 0);
    idx_pair("train", N_TRAIN);
    idx_pair("t10k", N_TEST);
    char text[3 * PATH_MAX];
    snprintf(text, sizeof text,
             "[model]\nname = resnet18\nwidth = 0.125\nT = 2\n[data]\ndir = %s\n"
             "crop_padding = 0\nflip = false\n[train]\nepochs = 3\nbatch = 8\nlr = 0.05\n"
             "seed = 5\n",
             data);
    write_bytes(cfg, text, strlen(text));
}

static void teardown(void)
{
    test_rmtree(dir);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Starts `sakd train cfg run.out=<run> extra...` with stdout and stderr to <run>.out; with
 * fsize > 0 the child may write no file larger than fsize bytes (SIGXFSZ ignored, so a write
 * past the limit fails with EFBIG as on a full disk). */
static pid_t spawn_train(const char *run, const char *const *extra, rlim_t fsize)
{
    const char *bin = getenv("SAKD_BIN");
    if (!bin)
        bin = "./sakd";
    char assign[2 * PATH_MAX], log[2 * PATH_MAX];
    snprintf(assign, sizeof assign, "run.out=%s", run);
    snprintf(log, sizeof log, "%s.out", run);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout))
            _exit(126);
        dup2(1, 2);
        for (int i = 0; i < n_child_env; i++) {
            char *eq = strchr(child_env[i], '=');
            *eq = '\0';
            setenv(child_env[i], eq + 1, 1);
        }
        if (fsize > 0) {
            struct rlimit rl = {fsize, fsize};
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(126);
        }
        const char *argv[16] = {bin, "train", cfg, assign};
        int n = 4;
        for (const char *const *e = extra; e && *e && n < 15; e++)
            argv[n++] = *e;
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits for `pid`; returns its exit status, or 128 + signal; its output goes to `out`. */
static int finish(pid_t pid, const char *run)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char log[2 * PATH_MAX], *text;
    size_t n;
    snprintf(log, sizeof log, "%s.out", run);
    TEST_OK(sakd_file_read(log, &text, &n));
    snprintf(out, sizeof out, "%s", text);
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int train_sync(const char *run, const char *const *extra, rlim_t fsize)
{
    return finish(spawn_train(run, extra, fsize), run);
}

static int count_temp_files(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int exists(const char *run, const char *name)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", run, name);
    return access(path, F_OK) == 0;
}

/* Every /model tensor of a checkpoint, concatenated in name order; also checks the file. */
static float *model_floats(const char *path, size_t *n, long *epoch)
{
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, path));
    size_t total = 0;
    for (size_t i = 0; i < sakd_checkpoint_model_count(ck); i++) {
        const sakd_ckpt_tensor *ti = sakd_checkpoint_model_info(ck, i);
        size_t m = 1;
        for (int j = 0; j < ti->ndim; j++)
            m *= ti->shape[j];
        total += m;
    }
    float *all = malloc((total ? total : 1) * sizeof *all), *p = all;
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < sakd_checkpoint_model_count(ck); i++) {
        const sakd_ckpt_tensor *ti = sakd_checkpoint_model_info(ck, i);
        TEST_OK(sakd_checkpoint_read_model(ck, ti->name, ti->ndim, ti->shape, p));
        size_t m = 1;
        for (int j = 0; j < ti->ndim; j++)
            m *= ti->shape[j];
        p += m;
    }
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    TEST_OK(sakd_checkpoint_read_meta(ck, &meta));
    if (epoch)
        *epoch = meta.epoch;
    sakd_ckpt_meta_free(&meta);
    sakd_checkpoint_close(ck);
    *n = total;
    return all;
}

/* Whatever a killed run left in `run` is whole: a readable checkpoint, a log of complete rows,
 * a config that parses. */
static void expect_whole_files(const char *run, int *rows)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/weights.h5", run);
    if (access(path, F_OK) == 0) {
        size_t n;
        free(model_floats(path, &n, NULL));
        ck_assert_uint_gt(n, 0);
    }
    snprintf(path, sizeof path, "%s/config.ini", run);
    if (access(path, F_OK) == 0) {
        sakd_config c;
        TEST_OK(sakd_config_init(&c));
        TEST_OK(sakd_config_load_file(&c, path));
        sakd_config_free(&c);
    }
    *rows = 0;
    snprintf(path, sizeof path, "%s/log.csv", run);
    if (access(path, F_OK) != 0)
        return;
    char *text;
    size_t size;
    TEST_OK(sakd_file_read(path, &text, &size));
    ck_assert_msg(size > 0 && text[size - 1] == '\n', "%s does not end with a whole row:\n%s", path,
                  text);
    int fields = 1, lines = 0;
    for (size_t i = 0; i < size; i++) {
        if (text[i] == ',')
            fields++;
        if (text[i] == '\n') {
            ck_assert_msg(fields == LOG_FIELDS, "%s line %d has %d fields", path, lines + 1,
                          fields);
            fields = 1;
            lines++;
        }
    }
    free(text);
    *rows = lines - 1;
}

START_TEST(test_sigkill_resume)
{
    /* An uninterrupted run, then the same run killed with SIGKILL at random moments (replayable
     * from the test seed) and restarted until it completes: the same weights, bit for bit. */
    char ref[PATH_MAX + 16], cut[PATH_MAX + 16], path[2 * PATH_MAX];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    snprintf(cut, sizeof cut, "%s/cut", dir);
    double t0 = now_s();
    int rc = train_sync(ref, NULL, 0);
    ck_assert_msg(rc == 0, "the reference run failed:\n%s", out);
    double whole = now_s() - t0;
    test_rng r = test_rng_new(7001);
    int kills = 0, rows = 0;
    double scale = 1.0; /* of the kill delays; halved whenever a run ends before its kill */
    for (int attempt = 0; attempt < 24 && kills < 5; attempt++) {
        pid_t pid = spawn_train(cut, NULL, 0);
        /* Kills early enough that most land before the run ends, late enough that some
         * land after an epoch's checkpoint (each restart resumes from the last one). */
        sleep_s(test_rand_uniform(&r, 0.1, 0.45) * whole * scale);
        kill(pid, SIGKILL);
        rc = finish(pid, cut);
        if (rc == 128 + SIGKILL)
            kills++;
        else
            ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
        expect_whole_files(cut, &rows);
        if (rc == 0 && kills >= 3)
            break; /* it finished before the kill, after enough kills */
        if (rc == 0) {
            /* Resumed runs are shorter than the reference, and the machine's load changes
             * the timing: start over with shorter delays rather than kill too rarely. */
            test_rmtree(cut);
            kills = 0;
            scale *= 0.5;
        }
    }
    ck_assert_msg(kills >= 3, "only %d of the runs were killed (%.2f s a run)", kills, whole);
    rc = train_sync(cut, NULL, 0);
    ck_assert_msg(rc == 0, "the resumed run failed:\n%s", out);
    expect_whole_files(cut, &rows);
    ck_assert_int_eq(rows, 3);
    ck_assert_int_eq(count_temp_files(cut), 0);
    size_t na, nb;
    snprintf(path, sizeof path, "%s/weights.h5", ref);
    float *a = model_floats(path, &na, NULL);
    snprintf(path, sizeof path, "%s/weights.h5", cut);
    float *b = model_floats(path, &nb, NULL);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na * sizeof *a) == 0,
                  "weights after %d kills differ from the uninterrupted run", kills);
    free(a);
    free(b);
}
END_TEST

/* The optimizer step a checkpoint holds (its /meta step), -1 when there is none yet. */
static long long checkpoint_step(const char *run)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/weights.h5", run);
    if (access(path, F_OK) != 0)
        return -1;
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, path));
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    TEST_OK(sakd_checkpoint_read_meta(ck, &meta));
    long long step = meta.step;
    sakd_ckpt_meta_free(&meta);
    sakd_checkpoint_close(ck);
    return step;
}

START_TEST(test_periodic_checkpoint)
{
    /* run.checkpoint_s also saves within an epoch (here after every step): saving changes
     * nothing, and a run SIGKILLed mid-epoch resumes from the last step it saved, to the same
     * weights bit for bit. */
    const long long steps = N_TRAIN / 8; /* per epoch: batch 8 */
    static const char *const every[] = {"run.checkpoint_s=1e-9", NULL};
    char ref[PATH_MAX + 16], all[PATH_MAX + 16], cut[PATH_MAX + 16], path[2 * PATH_MAX];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    snprintf(all, sizeof all, "%s/all", dir);
    snprintf(cut, sizeof cut, "%s/cut", dir);
    int rc = train_sync(ref, NULL, 0);
    ck_assert_msg(rc == 0, "the reference run failed:\n%s", out);
    rc = train_sync(all, every, 0);
    ck_assert_msg(rc == 0, "the run saving every step failed:\n%s", out);
    long long killed_at = -1;
    for (int attempt = 0; attempt < 20 && killed_at < 0; attempt++) {
        test_rmtree(cut);
        pid_t pid = spawn_train(cut, every, 0);
        /* Past its first steps, then killed without warning. */
        double t0 = now_s();
        while (checkpoint_step(cut) < 3 && now_s() - t0 < 60)
            sleep_s(0.01);
        kill(pid, SIGKILL);
        rc = finish(pid, cut);
        long long at = checkpoint_step(cut);
        if (rc == 128 + SIGKILL && at > 0 && at % steps != 0)
            killed_at = at; /* a mid-epoch checkpoint */
    }
    ck_assert_msg(killed_at > 0, "no run was killed after a mid-epoch save");
    rc = train_sync(cut, every, 0);
    ck_assert_msg(rc == 0, "the resumed run failed:\n%s", out);
    char want[128];
    snprintf(want, sizeof want, "at epoch %lld, step %lld of %lld in it", killed_at / steps + 1,
             killed_at % steps, steps);
    ck_assert_msg(strstr(out, want) != NULL, "the resume does not say '%s':\n%s", want, out);
    size_t na, nb, nc;
    snprintf(path, sizeof path, "%s/weights.h5", ref);
    float *a = model_floats(path, &na, NULL);
    snprintf(path, sizeof path, "%s/weights.h5", all);
    float *b = model_floats(path, &nb, NULL);
    snprintf(path, sizeof path, "%s/weights.h5", cut);
    float *c = model_floats(path, &nc, NULL);
    ck_assert_uint_eq(na, nb);
    ck_assert_uint_eq(na, nc);
    ck_assert_msg(memcmp(a, b, na * sizeof *a) == 0, "saving every step changed the weights");
    ck_assert_msg(memcmp(a, c, na * sizeof *a) == 0,
                  "the run resumed from step %lld differs from the uninterrupted one", killed_at);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_run_lock_and_stale_temps)
{
    /* A run directory holding the temporary files of a writer killed mid-write: while another
     * process holds the directory's lock, sakd train refuses it and touches nothing; once the
     * lock is free it removes them (and only them) and trains. */
    char run[PATH_MAX + 16], path[2 * PATH_MAX];
    snprintf(run, sizeof run, "%s/stale", dir);
    ck_assert_int_eq(mkdir(run, 0755), 0);
    const char *stale[] = {"weights.h5.tmp.Ab12Cd", "log.csv.tmp.x9Y8z7", "meta.ini.tmp.QQQQQQ"};
    const char *kept[] = {"notes.tmp.txt", "weights.h5.tmp.ab", "tmp.Ab12Cd"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", run, stale[i]);
        write_bytes(path, "partial", 7);
        snprintf(path, sizeof path, "%s/%s", run, kept[i]);
        write_bytes(path, "mine", 4);
    }
    snprintf(path, sizeof path, "%s/.train.lock", run);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    const char *quick[] = {"train.epochs=1", "data.train_limit=16", NULL};
    int rc = train_sync(run, quick, 0);
    ck_assert_msg(rc != 0 && rc < 128, "exit %d with the run directory locked:\n%s", rc, out);
    EXPECT_IN_OUTPUT(run);
    EXPECT_IN_OUTPUT("in use by another process");
    for (int i = 0; i < 3; i++)
        ck_assert_msg(exists(run, stale[i]), "%s removed without the lock", stale[i]);
    ck_assert(!exists(run, "weights.h5"));
    close(fd);
    rc = train_sync(run, quick, 0);
    ck_assert_msg(rc == 0, "exit %d once the lock was free:\n%s", rc, out);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(!exists(run, stale[i]), "stale %s left", stale[i]);
        ck_assert_msg(exists(run, kept[i]), "%s (not a sakd temporary) removed", kept[i]);
    }
    ck_assert(exists(run, "weights.h5"));
}
END_TEST

/* The next child runs with the OpenCL fault injector (tests/clfault.c) set to `setting`. */
static void inject(const char *setting)
{
    const char *lib = getenv("SAKD_CLFAULT_LIB");
    ck_assert_msg(lib != NULL, "SAKD_CLFAULT_LIB is not set (run the tests with make check)");
    ck_assert_msg(access(lib, R_OK) == 0, "no fault injector at %s", lib);
    n_child_env = 0;
    snprintf(child_env[n_child_env++], sizeof child_env[0], "LD_PRELOAD=%s", lib);
    snprintf(child_env[n_child_env++], sizeof child_env[0], "%s", setting);
    /* under ASan the preloaded library comes before its runtime, which is fine here */
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(child_env[n_child_env++], sizeof child_env[0],
             "ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
}

START_TEST(test_device_faults_keep_checkpoint)
{
    /* One epoch; then the run resumed for two more while the device fails: a kernel launch
     * refused, and a device lost mid-epoch (later waits and transfers fail). Each stops the
     * run with a message naming the error, the device and the kernel or GEMM involved; the
     * epoch-1 checkpoint stays as it was, no temporary file is left, and the run then resumes
     * on a working device and completes. */
    char run[PATH_MAX + 16], w[2 * PATH_MAX], assign[3 * PATH_MAX];
    snprintf(run, sizeof run, "%s/dev", dir);
    snprintf(w, sizeof w, "%s/weights.h5", run);
    const char *first[] = {"train.epochs=1", "data.train_limit=64", NULL};
    int rc = train_sync(run, first, 0);
    ck_assert_msg(rc == 0, "first epoch failed:\n%s", out);
    size_t n0;
    long epoch;
    float *before = model_floats(w, &n0, &epoch);
    ck_assert_int_eq(epoch, 1);
    snprintf(assign, sizeof assign, "train.resume=%s", w);
    const char *more[] = {assign, "data.train_limit=64", NULL};
    const char *faults[] = {"SAKD_CLFAULT_LAUNCH=40", "SAKD_CLFAULT_LOST=60"};
    for (int f = 0; f < 2; f++) {
        inject(faults[f]);
        rc = train_sync(run, more, 0);
        n_child_env = 0;
        ck_assert_msg(rc != 0 && rc < 128, "%s: exit %d:\n%s", faults[f], rc, out);
        ck_assert_msg(strstr(out, "CL_OUT_OF_RESOURCES") || strstr(out, "OutOfResources") ||
                          strstr(out, "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"),
                      "%s: the OpenCL error is not named:\n%s", faults[f], out);
        ck_assert_msg(strstr(out, "kernel ") || strstr(out, "CLBlast"),
                      "%s: neither a kernel nor a GEMM is named:\n%s", faults[f], out);
        if (f == 0) /* the refused launch, one of sakd's kernels or one of CLBlast's */
            ck_assert_msg(strstr(out, "launching kernel") || strstr(out, "CLBlastSgemm"),
                          "the refused launch is not named:\n%s", out);
        else
            EXPECT_IN_OUTPUT("the device failed or was lost");
        size_t n1;
        float *after = model_floats(w, &n1, &epoch);
        ck_assert_int_eq(epoch, 1);
        ck_assert_uint_eq(n0, n1);
        ck_assert_msg(memcmp(before, after, n0 * sizeof *before) == 0, "%s: the checkpoint changed",
                      faults[f]);
        free(after);
        ck_assert_int_eq(count_temp_files(run), 0);
    }
    rc = train_sync(run, more, 0);
    ck_assert_msg(rc == 0, "resuming on a working device failed:\n%s", out);
    float *done = model_floats(w, &n0, &epoch);
    ck_assert_int_eq(epoch, 3);
    free(done);
    free(before);
}
END_TEST

START_TEST(test_disk_full_keeps_checkpoint)
{
    /* One epoch, then two more with files limited to half the checkpoint's size: the new
     * checkpoint cannot be written, the run fails naming it, and the old one is intact. */
    char run[PATH_MAX + 16], w[2 * PATH_MAX], assign[3 * PATH_MAX];
    snprintf(run, sizeof run, "%s/full", dir);
    snprintf(w, sizeof w, "%s/weights.h5", run);
    /* Wide enough that the checkpoint (~10 MiB) is larger than any file the OpenCL runtime
     * writes to its own kernel cache, few samples so that it stays quick. */
    const char *wide[] = {"train.epochs=1", "model.width=0.375", "model.T=1", "data.train_limit=16",
                          NULL};
    int rc = train_sync(run, wide, 0);
    ck_assert_msg(rc == 0, "first epoch failed:\n%s", out);
    struct stat sb;
    ck_assert_int_eq(stat(w, &sb), 0);
    size_t n0;
    long epoch;
    float *before = model_floats(w, &n0, &epoch);
    ck_assert_int_eq(epoch, 1);
    snprintf(assign, sizeof assign, "train.resume=%s", w);
    rc = train_sync(run,
                    (const char *const[]){assign, "model.width=0.375", "model.T=1",
                                          "data.train_limit=16", NULL},
                    (rlim_t)sb.st_size / 2);
    ck_assert_msg(rc != 0 && rc < 128, "exit %d with a full disk:\n%s", rc, out);
    EXPECT_IN_OUTPUT(w);
    EXPECT_IN_OUTPUT("old file is kept");
    size_t n1;
    float *after = model_floats(w, &n1, &epoch);
    ck_assert_int_eq(epoch, 1);
    ck_assert_uint_eq(n0, n1);
    ck_assert(memcmp(before, after, n0 * sizeof *before) == 0);
    ck_assert_int_eq(count_temp_files(run), 0);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_disk_full_atomic_write)
{
    /* The library's atomic writes under a file-size limit, in a child process. */
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/table.csv", dir);
    TEST_OK(sakd_file_write_atomic(path, "old\n", 4));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        static char big[1 << 16];
        memset(big, 'x', sizeof big);
        sakd_status st = sakd_file_write_atomic(path, big, sizeof big);
        _exit(st == SAKD_ERR_IO && strstr(sakd_error_detail(), "old file is kept") ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text;
    size_t n;
    TEST_OK(sakd_file_read(path, &text, &n));
    ck_assert_str_eq(text, "old\n");
    free(text);
    ck_assert_int_eq(count_temp_files(dir), 0);
}
END_TEST

START_TEST(test_nan_loss_stops)
{
    /* A learning rate that blows the weights up: the run stops naming the step and the loss
     * term, and the checkpoint of the last good epoch stays. */
    char run[PATH_MAX + 16], w[2 * PATH_MAX], assign[3 * PATH_MAX];
    snprintf(run, sizeof run, "%s/nan", dir);
    snprintf(w, sizeof w, "%s/weights.h5", run);
    int rc = train_sync(run, (const char *const[]){"train.epochs=1", NULL}, 0);
    ck_assert_msg(rc == 0, "first epoch failed:\n%s", out);
    size_t n0, n1;
    long epoch;
    float *before = model_floats(w, &n0, &epoch);
    snprintf(assign, sizeof assign, "train.resume=%s", w);
    rc = train_sync(run,
                    (const char *const[]){assign, "train.lr=1e30", "train.schedule=constant",
                                          "train.weight_decay=0", NULL},
                    0);
    ck_assert_msg(rc == 1, "exit %d for a diverging run:\n%s", rc, out);
    ck_assert_msg(strstr(out, "loss became") || strstr(out, "element"),
                  "no loss term or tensor named:\n%s", out);
    EXPECT_IN_OUTPUT("step");
    EXPECT_IN_OUTPUT("last checkpoint");
    float *after = model_floats(w, &n1, &epoch);
    ck_assert_int_eq(epoch, 1);
    ck_assert(n0 == n1 && memcmp(before, after, n0 * sizeof *before) == 0);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_device_alloc_too_large)
{
    /* Weights far beyond the device: the buffer, the bytes asked, the device's limits and the
     * advice to shrink the batch or width. */
    char run[PATH_MAX + 16], assign[2 * PATH_MAX];
    snprintf(run, sizeof run, "%s/huge", dir);
    snprintf(assign, sizeof assign, "run.out=%s", run);
    int rc = RUN("train", cfg, assign, "model.width=40");
    ck_assert_int_eq(rc, 1);
    EXPECT_IN_OUTPUT("out of memory");
    EXPECT_IN_OUTPUT("'parameters");
    EXPECT_IN_OUTPUT("GiB");
    EXPECT_IN_OUTPUT("largest single allocation");
    EXPECT_IN_OUTPUT("smaller batch");
    ck_assert_msg(access(run, F_OK) != 0, "a failed run left %s", run);
}
END_TEST

Suite *suite_faults(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_disk_full_atomic_write);
    tcase_add_test(tc, test_device_alloc_too_large);
    tcase_add_test(tc, test_disk_full_keeps_checkpoint);
    tcase_add_test(tc, test_nan_loss_stops);
    tcase_add_test(tc, test_sigkill_resume);
    tcase_add_test(tc, test_periodic_checkpoint);
    tcase_add_test(tc, test_run_lock_and_stale_temps);
    tcase_add_test(tc, test_device_faults_keep_checkpoint);
    suite_add_tcase(s, tc);
    return s;
}
