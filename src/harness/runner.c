/* runner.c — runs of a sweep as child processes: locks, meta.ini status, stdout.log. */
#define _DEFAULT_SOURCE /* realpath */
#define _GNU_SOURCE     /* sched_getaffinity, CPU_COUNT: the CPUs a sweep may share out */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/meta.h"
#include "io/checkpoint.h"
#include "harness/runner.h"
#include "runtime/file.h"
#include "runtime/timer.h"

/* The variables that set a run's host threads: the host BLAS and sakd's host passes, PoCL's
 * CPU device, OpenMP (oneDNN). */
static const char *const thread_vars[] = {"SAKD_BLAS_THREADS", "POCL_MAX_PTHREAD_COUNT",
                                          "OMP_NUM_THREADS"};

/* One run or teacher being prepared or running. */
typedef struct job {
    const sakd_config *cfg;
    const char *dir;
    const sakd_sweep_run *run; /* NULL for a teacher */
    char id[13];
    int lock;             /* fd holding flock on <dir>/.lock, -1 none */
    pid_t pid;            /* 0: slot free */
    double t0;            /* wall clock at start */
    double busy0, steal0; /* the machine's busy and stolen CPU seconds at start (NAN: unknown) */
    double wall_before;   /* the wall seconds of the run's earlier attempts */
    struct rusage usage;  /* the child's (and its waited-for children's) once reaped */
    bool stopped;         /* the sweep asked the child to stop */
    sakd_meta meta;
    char meta_path[PATH_MAX + 16];
} job;

static void say(const sakd_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const sakd_runner *r, const char *fmt, ...)
{
    if (!r->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->log, fmt, ap);
    va_end(ap);
    fflush(r->log);
}

/* Takes the run's lock: 1 taken, 0 held by another process. */
static sakd_status take_lock(job *j, bool wait, int *taken)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.lock", j->dir);
    j->lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->lock < 0)
        return sakd_error(SAKD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int rc;
    while ((rc = flock(j->lock, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        int e = errno;
        close(j->lock);
        j->lock = -1;
        if (e == EWOULDBLOCK) {
            *taken = 0;
            return SAKD_OK;
        }
        return sakd_error(SAKD_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    *taken = 1;
    return SAKD_OK;
}

static void release(job *j)
{
    if (j->lock >= 0)
        close(j->lock);
    j->lock = -1;
    sakd_meta_free(&j->meta);
    j->pid = 0;
    j->stopped = false;
}

/* Reads meta.ini's status ("" when there is none or it cannot be read). */
static void read_status(const char *dir, char *status, size_t size)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/meta.ini", dir);
    sakd_meta m;
    status[0] = '\0';
    if (sakd_meta_read(&m, path) == SAKD_OK) {
        const char *v = sakd_meta_get(&m, "status");
        snprintf(status, size, "%s", v ? v : "");
        sakd_meta_free(&m);
    }
    sakd_error_clear();
}

/* Sets this sweep's own keys in a run's meta.ini: name, file, index, axes and axis values. */
static sakd_status set_sweep_keys(sakd_meta *m, const sakd_sweep *s, const sakd_runner *r,
                                  const job *j)
{
    SAKD_TRY(sakd_meta_set(m, "sweep", s->name));
    SAKD_TRY(sakd_meta_set(m, "sweep_file", s->path));
    SAKD_TRY(sakd_meta_set(m, "command", r->command_line ? r->command_line : ""));
    if (!j->run)
        return SAKD_OK;
    SAKD_TRY(sakd_meta_setf(m, "index", "%zu", j->run->index));
    char axes[2048] = "";
    size_t used = 0;
    for (size_t a = 0; a < s->n_axes && used < sizeof axes; a++)
        used += (size_t)snprintf(axes + used, sizeof axes - used, "%s%s", a ? ", " : "",
                                 s->axes[a].key);
    SAKD_TRY(sakd_meta_set(m, "axes", axes));
    for (size_t a = 0; a < s->n_axes; a++) {
        char key[300];
        snprintf(key, sizeof key, "axis.%s", s->axes[a].key);
        SAKD_TRY(sakd_meta_set(m, key, j->run->values[a]));
    }
    return SAKD_OK;
}

/* Copies `name` from run directory `from` into `to` atomically (absent in `from`: skipped);
 * `tail`, when given, is appended to the copy. */
static sakd_status copy_run_file(const char *from, const char *to, const char *name,
                                 const char *tail)
{
    char src[PATH_MAX + 64], dst[PATH_MAX + 64];
    snprintf(src, sizeof src, "%s/%s", from, name);
    snprintf(dst, sizeof dst, "%s/%s", to, name);
    if (access(src, F_OK) != 0)
        return SAKD_OK;
    char *data;
    size_t n;
    SAKD_TRY(sakd_file_read(src, &data, &n));
    if (tail) {
        size_t extra = strlen(tail);
        char *grown = realloc(data, n + extra + 1);
        if (!grown) {
            free(data);
            return sakd_error(SAKD_ERR_NOMEM, "out of memory copying %s", src);
        }
        data = grown;
        memcpy(data + n, tail, extra + 1);
        n += extra;
    }
    sakd_status st = sakd_file_write_atomic(dst, data, n);
    free(data);
    return st;
}

/* The CPU seconds all CPUs of the machine have spent busy (user, nice, system, irq, softirq)
 * and stolen by a hypervisor since boot, from /proc/stat; NAN where it cannot be read. */
static void machine_cpu(double *busy, double *steal)
{
    *busy = *steal = NAN;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                     &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (got < 8 || hz <= 0)
        return;
    /* user nice system idle iowait irq softirq steal */
    *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)hz;
    *steal = (double)v[7] / (double)hz;
}

/* Into j's meta.ini: the attempt's own CPU seconds (cpu_s) and what the machine did beside it
 * since it started: the CPU seconds of other work (other_cpu_s), that over the wall time
 * (other_load: the mean number of CPUs busy with other work; ~0 on a quiet machine, ~1 beside
 * one other single-threaded job) and the seconds a hypervisor stole (steal_s). */
static void record_machine_load(job *j, double wall)
{
    double busy, steal;
    machine_cpu(&busy, &steal);
    double own = (double)j->usage.ru_utime.tv_sec + (double)j->usage.ru_utime.tv_usec * 1e-6 +
                 (double)j->usage.ru_stime.tv_sec + (double)j->usage.ru_stime.tv_usec * 1e-6;
    sakd_meta_setf(&j->meta, "cpu_s", "%.1f", own);
    if (isnan(busy) || isnan(j->busy0) || wall <= 0) {
        sakd_meta_set(&j->meta, "other_cpu_s", "");
        sakd_meta_set(&j->meta, "other_load", "");
        sakd_meta_set(&j->meta, "steal_s", "");
        return;
    }
    double other = fmax(busy - j->busy0 - own, 0.0);
    sakd_meta_setf(&j->meta, "other_cpu_s", "%.1f", other);
    sakd_meta_setf(&j->meta, "other_load", "%.2f", other / wall);
    sakd_meta_setf(&j->meta, "steal_s", "%.1f", fmax(steal - j->steal0, 0.0));
}

/* Reduces a config.ini text to what a run computes, for comparing twins: cut before its [run]
 * section (the output directory, device and the like) and with train.resume emptied. */
static void twin_text(char *ini)
{
    char *run = strstr(ini, "\n[run]\n");
    if (run)
        run[1] = '\0';
    /* train.resume names the checkpoint a run continued from, not what it computes (it is not
     * in the run id either): a run resumed once is still its never-resumed twin's twin. */
    char *resume = strstr(ini, "\nresume = ");
    if (resume) {
        char *from = resume + strlen("\nresume ="), *eol = strchr(from, '\n');
        memmove(from, eol ? eol : from + strlen(from), strlen(eol ? eol : from) + 1);
    }
}

/* Whether a process holds the lock of run directory `dir`: it is training the run now. */
static int lock_held(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc;
    while ((rc = flock(fd, LOCK_SH | LOCK_NB)) != 0 && errno == EINTR)
        ;
    int held = rc != 0 && errno == EWOULDBLOCK;
    close(fd); /* releases the shared lock, when it was taken */
    return held;
}

/* Whether run directory `cand` has config.ini `ini` up to [run]. */
static int same_config(const char *cand, const char *ini)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config.ini", cand);
    char *text;
    size_t n;
    if (sakd_file_read(path, &text, &n) != SAKD_OK) {
        sakd_error_clear();
        return 0;
    }
    twin_text(text);
    int same = !strcmp(text, ini);
    if (!same) {
        /* Written by an older sakd, without the keys added since (each at a default that
         * computes what the run did then): the same config once read and written again. */
        sakd_config c;
        char *again = NULL;
        if (sakd_config_init(&c) == SAKD_OK && sakd_config_load_string(&c, text, path) == SAKD_OK &&
            sakd_config_to_ini(&c, &again) == SAKD_OK) {
            twin_text(again);
            same = !strcmp(again, ini);
        }
        sakd_error_clear();
        free(again);
        sakd_config_free(&c);
    }
    free(text);
    return same;
}

enum { NO_TWIN, RUNNING_TWIN, DONE_TWIN }; /* in order of preference */

/* What `cand`, not `own`, is to a run whose config.ini is `ini` up to [run]: a done twin
 * (status done, report.ini there, the same config), a running twin (the same config, its lock
 * held by the process training it) or neither. */
static int twin_state(const char *cand, const char *own, const char *ini)
{
    char real[PATH_MAX], path[PATH_MAX + 16], status[32];
    if (!realpath(cand, real) || !strcmp(real, own))
        return NO_TWIN;
    read_status(cand, status, sizeof status);
    snprintf(path, sizeof path, "%s/report.ini", cand);
    int done = !strcmp(status, "done") && access(path, R_OK) == 0;
    if (!done && !lock_held(cand))
        return NO_TWIN;
    if (!same_config(cand, ini))
        return NO_TWIN;
    return done ? DONE_TWIN : RUNNING_TWIN;
}

/* A twin (twin_state) of j's id in another sweep under r->reuse_root, or a teacher there: a
 * done one first, its path in `from` and DONE_TWIN; else a running one, RUNNING_TWIN (its path
 * in `from`); else NO_TWIN. */
static int find_twin(const sakd_runner *r, const job *j, const char *ini, char *from, size_t size)
{
    char own[PATH_MAX];
    if (!r->reuse_root)
        return NO_TWIN;
    if (!realpath(j->dir, own)) /* not made yet (a dry run) */
        snprintf(own, sizeof own, "%s", j->dir);
    DIR *d = opendir(r->reuse_root);
    if (!d)
        return NO_TWIN;
    int found = NO_TWIN;
    for (struct dirent *e; found != DONE_TWIN && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        /* A sweep's run (<sweep>/runs/<id>), or a teacher (teachers/<id>): a sweep of ANNs
         * over seeds has the shared teacher as one of its runs. */
        for (int form = 0; form < 2 && found != DONE_TWIN; form++) {
            char cand[PATH_MAX];
            if ((size_t)snprintf(cand, sizeof cand, form ? "%s/%s/%s" : "%s/%s/runs/%s",
                                 r->reuse_root, e->d_name, j->id) >= sizeof cand)
                continue;
            int state = twin_state(cand, own, ini);
            if (state > found) {
                found = state;
                snprintf(from, size, "%s", cand);
            }
        }
    }
    closedir(d);
    return found;
}

/* find_twin for a dry run: nothing written. */
static int would_reuse(const sakd_runner *r, const job *j, char *from, size_t size)
{
    char *ini = NULL;
    if (sakd_config_to_ini(j->cfg, &ini) != SAKD_OK) {
        sakd_error_clear();
        return NO_TWIN;
    }
    twin_text(ini);
    int found = find_twin(r, j, ini, from, size);
    free(ini);
    return found;
}

/* Reuses a done twin (find_twin) of a run never started here: copies its files, then writes
 * meta.ini (status done: the commit point) with this sweep's keys on the source's provenance
 * and `reused_from`. *reused: DONE_TWIN when it did, RUNNING_TWIN when the twin is being trained
 * by another process (nothing written: the run is to be copied once it is done), else NO_TWIN. */
static sakd_status reuse_twin(const sakd_sweep *s, const sakd_runner *r, job *j, int *reused,
                              char *from, size_t size)
{
    *reused = NO_TWIN;
    char *ini = NULL, *cut;
    SAKD_TRY(sakd_config_to_ini(j->cfg, &ini));
    if (!(cut = strdup(ini))) {
        free(ini);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    twin_text(cut);
    int found = find_twin(r, j, cut, from, size);
    free(cut);
    if (found != DONE_TWIN) {
        free(ini);
        *reused = found;
        return SAKD_OK;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config.ini", j->dir);
    sakd_status st = sakd_file_write_atomic(path, ini, strlen(ini));
    free(ini);
    if (st != SAKD_OK)
        return st;
    char when[32], tail[PATH_MAX + 128];
    sakd_meta_now(when, sizeof when);
    snprintf(tail, sizeof tail, "==== %s reused by sweep %s from %s\n", when, s->name, from);
    static const char *files[] = {"log.csv", "report.ini", "weights.h5"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        SAKD_TRY(copy_run_file(from, j->dir, files[i], NULL));
    SAKD_TRY(copy_run_file(from, j->dir, "stdout.log", tail));
    snprintf(path, sizeof path, "%s/meta.ini", from);
    sakd_meta src, m;
    SAKD_TRY(sakd_meta_read(&src, path));
    /* the source's provenance, without its sweep's index and axes */
    sakd_meta_init(&m);
    for (size_t i = 0; i < src.count && st == SAKD_OK; i++)
        if (strcmp(src.keys[i], "index") && strcmp(src.keys[i], "axes") &&
            strncmp(src.keys[i], "axis.", 5))
            st = sakd_meta_set(&m, src.keys[i], src.values[i]);
    sakd_meta_free(&src);
    if (st == SAKD_OK)
        st = set_sweep_keys(&m, s, r, j);
    /* the run that was trained: the source, or what the source itself was copied from */
    if (st == SAKD_OK && !sakd_meta_get(&m, "reused_from"))
        st = sakd_meta_set(&m, "reused_from", from);
    if (st == SAKD_OK)
        st = sakd_meta_set(&m, "reused_at", when);
    if (st == SAKD_OK)
        st = sakd_meta_set(&m, "pid", "");
    snprintf(path, sizeof path, "%s/meta.ini", j->dir);
    if (st == SAKD_OK)
        st = sakd_meta_write(&m, path, "sakd run provenance and status (DESIGN.md 3.4)");
    sakd_meta_free(&m);
    if (st == SAKD_OK)
        *reused = DONE_TWIN;
    return st;
}

/* The seconds from an attempt's `start` (meta.ini, UTC) to the last file it wrote in `dir`: its
 * log, checkpoint or output, the progress it left to the next attempt. 0 when unknown. */
static double killed_attempt_wall(const char *dir, const char *start)
{
    struct tm tm = {0};
    const char *end = start ? strptime(start, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return 0.0;
    time_t t0 = timegm(&tm), last = 0;
    static const char *const files[] = {"log.csv", "weights.h5", "stdout.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[PATH_MAX + 32];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &st) == 0 && st.st_mtime > last)
            last = st.st_mtime;
    }
    return last > t0 ? difftime(last, t0) : 0.0;
}

/* The attempts recorded in <dir>/meta.ini so far (0 when none can be read), and into *wall the
 * wall seconds they took. An attempt that ended wrote its own; one killed outright with its sweep
 * (still `running`, no end) wrote none, and counts until the last file it wrote. A run done
 * before that starts again (a teacher whose weights were not kept) trains from scratch, on this
 * machine: none of its old attempts count. */
static long previous_attempts(const char *dir, const char *path, double *wall)
{
    sakd_meta old;
    long attempts = 0;
    *wall = 0.0;
    if (sakd_meta_read(&old, path) == SAKD_OK) {
        double a = sakd_meta_number(&old, "attempts"), w = sakd_meta_number(&old, "wall_s");
        const char *status = sakd_meta_get(&old, "status"), *end = sakd_meta_get(&old, "end");
        attempts = a == a ? (long)a : 0;
        *wall = w == w && w > 0 ? w : 0.0; /* the attempts before the last, when it was killed */
        if (status && !strcmp(status, "done")) {
            attempts = 0;
            *wall = 0.0;
        } else if (status && !strcmp(status, "running") && (!end || !*end))
            *wall += killed_attempt_wall(dir, sakd_meta_get(&old, "start"));
        sakd_meta_free(&old);
    }
    return attempts;
}

/* Writes j's config as <dir>/config.ini. */
static sakd_status write_config(const job *j)
{
    char path[PATH_MAX + 16];
    char *ini = NULL;
    SAKD_TRY(sakd_config_to_ini(j->cfg, &ini));
    snprintf(path, sizeof path, "%s/config.ini", j->dir);
    sakd_status st = sakd_file_write_atomic(path, ini, strlen(ini));
    free(ini);
    return st;
}

/* Fills j->meta for attempt `attempt`, status running, starting now (into `when`). */
static sakd_status fill_meta(const sakd_sweep *s, const sakd_runner *r, job *j, const char *device,
                             long attempt, char *when, size_t size)
{
    sakd_meta *m = &j->meta;
    sakd_meta_init(m);
    SAKD_TRY(sakd_meta_set(m, "id", j->id));
    SAKD_TRY(sakd_meta_set(m, "role", j->run ? "run" : "teacher"));
    SAKD_TRY(sakd_meta_set(m, "sweep", s->name));
    SAKD_TRY(sakd_meta_set(m, "sweep_file", s->path));
    SAKD_TRY(sakd_meta_set(m, "status", "running"));
    SAKD_TRY(sakd_meta_setf(m, "seed", "%llu", j->cfg->train.seed));
    SAKD_TRY(sakd_meta_set(m, "config_hash", j->id));
    SAKD_TRY(set_sweep_keys(m, s, r, j));
    SAKD_TRY(sakd_meta_set(m, "teacher", j->cfg->distill.teacher));
    SAKD_TRY(sakd_meta_setf(m, "run_command", "%s%s%s%s%s train %s/config.ini",
                            r->launcher ? r->launcher : "", r->launcher ? " " : "", r->exe,
                            device ? " --device " : "", device ? device : "", j->dir));
    SAKD_TRY(sakd_meta_provenance(m, device ? device : j->cfg->run.device));
    sakd_meta_now(when, size);
    SAKD_TRY(sakd_meta_set(m, "start", when));
    SAKD_TRY(sakd_meta_set(m, "end", ""));
    /* the wall seconds of every attempt: those before this one until it ends, so that an
     * attempt killed with the sweep loses only its own */
    if (j->wall_before > 0)
        SAKD_TRY(sakd_meta_setf(m, "wall_s", "%.3f", j->wall_before));
    else
        SAKD_TRY(sakd_meta_set(m, "wall_s", ""));
    /* this attempt's, once it ends (record_machine_load) */
    static const char *const load_keys[] = {"attempt_wall_s", "cpu_s", "other_cpu_s", "other_load",
                                            "steal_s"};
    for (size_t k = 0; k < sizeof load_keys / sizeof load_keys[0]; k++)
        SAKD_TRY(sakd_meta_set(m, load_keys[k], ""));
    SAKD_TRY(sakd_meta_setf(m, "attempts", "%ld", attempt));
    /* The host threads the run was given, where the environment sets them. */
    for (size_t i = 0; i < sizeof thread_vars / sizeof thread_vars[0]; i++) {
        const char *v = getenv(thread_vars[i]);
        if (v && *v) {
            char key[64];
            snprintf(key, sizeof key, "env.%s", thread_vars[i]);
            SAKD_TRY(sakd_meta_set(m, key, v));
        }
    }
    return sakd_meta_set(m, "error", "");
}

/* Forks `[launcher] r->exe [--device D] train <dir>/config.ini` with stdout and stderr to `out`,
 * stdin from /dev/null and j's lock kept; its pid into *pid. */
static sakd_status spawn(const sakd_runner *r, const job *j, const char *device, int out,
                         pid_t *pid)
{
    char cfg_path[PATH_MAX + 16];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.ini", j->dir);
    /* The launcher's words (at most 32), then sakd's. */
    char launch[1024];
    const char *argv[48];
    int n = 0;
    snprintf(launch, sizeof launch, "%s", r->launcher ? r->launcher : "");
    for (char *save = NULL, *w = strtok_r(launch, " \t", &save); w && n < 32;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    argv[n++] = r->exe;
    if (device) {
        argv[n++] = "--device";
        argv[n++] = device;
    }
    argv[n++] = "train";
    argv[n++] = cfg_path;
    argv[n] = NULL;
    fflush(NULL);
    *pid = fork();
    if (*pid < 0)
        return sakd_error(SAKD_ERR_IO, "cannot start a run: fork: %s", strerror(errno));
    if (*pid == 0) {
        /* The child keeps the run's lock (a copy of the descriptor, without close-on-exec),
         * so that the run stays locked while it lives, even if the sweep dies. */
        int keep = dup(j->lock);
        (void)keep;
        /* A launcher (mpirun, srun) in a process group of its own: Ctrl-C at the terminal
         * reaches only the sweep, which asks it to stop with SIGUSR2, a signal both forward
         * to every rank at once (mpirun answers SIGINT by killing the ranks a second later). */
        if (r->launcher)
            setpgid(0, 0);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execvp(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "sakd: error: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return SAKD_OK;
}

/* Writes config.ini and meta.ini (status running) and starts the child. */
static sakd_status start(const sakd_sweep *s, const sakd_runner *r, job *j, const char *device)
{
    char path[PATH_MAX + 16], when[32];
    snprintf(j->meta_path, sizeof j->meta_path, "%s/meta.ini", j->dir);
    long attempts = previous_attempts(j->dir, j->meta_path, &j->wall_before);
    sakd_error_clear();
    SAKD_TRY(write_config(j));
    SAKD_TRY(fill_meta(s, r, j, device, attempts + 1, when, sizeof when));

    snprintf(path, sizeof path, "%s/stdout.log", j->dir);
    int out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0)
        return sakd_error(SAKD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    dprintf(out, "==== %s attempt %ld: %s\n", when, attempts + 1,
            sakd_meta_get(&j->meta, "run_command"));
    pid_t pid;
    sakd_status st = spawn(r, j, device, out, &pid);
    close(out);
    SAKD_TRY(st);
    j->pid = pid;
    j->t0 = sakd_time_now();
    machine_cpu(&j->busy0, &j->steal0);
    memset(&j->usage, 0, sizeof j->usage);
    SAKD_TRY(sakd_meta_setf(&j->meta, "pid", "%ld", (long)pid));
    return sakd_meta_write(&j->meta, j->meta_path,
                           "sakd run provenance and status (DESIGN.md 3.4)");
}

/* The last line of stdout.log that starts with "sakd: " (the error or interruption). */
static void last_error(const char *dir, char *buf, size_t size)
{
    char path[PATH_MAX + 16], *text;
    size_t n;
    buf[0] = '\0';
    snprintf(path, sizeof path, "%s/stdout.log", dir);
    if (sakd_file_read(path, &text, &n) != SAKD_OK) {
        sakd_error_clear();
        return;
    }
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (!strncmp(p, "==== ", 5))
            buf[0] = '\0'; /* only this attempt's lines */
        if (!strncmp(p, "sakd: ", 6))
            snprintf(buf, size, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
        p = nl ? nl + 1 : NULL;
    }
    free(text);
}

/* Records how the child ended; returns the new status ("done", "failed", "interrupted"). */
static const char *finish(job *j, int wstatus, sakd_sweep_tally *t)
{
    char when[32], err[1024], path[PATH_MAX + 16];
    sakd_meta_now(when, sizeof when);
    last_error(j->dir, err, sizeof err);
    const char *status;
    snprintf(path, sizeof path, "%s/report.ini", j->dir);
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && access(path, F_OK) == 0) {
        status = "done";
        err[0] = '\0';
        t->done++;
        /* The GEMM provider the run used, and its ranks (MPI library, each rank's device)
         * when it had several, as its report names them. */
        static const char *const keys[] = {"gemm_provider", "ranks", "mpi", "rank_devices"};
        sakd_meta rep;
        sakd_meta_init(&rep);
        if (sakd_meta_read(&rep, path) == SAKD_OK)
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
                if (sakd_meta_get(&rep, keys[k]))
                    sakd_meta_set(&j->meta, keys[k], sakd_meta_get(&rep, keys[k]));
        sakd_meta_free(&rep);
        sakd_error_clear();
    } else if ((WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 130) ||
               !strncmp(err, "sakd: interrupted", 17) || /* a launcher's own exit status */
               j->stopped || /* asked to stop: its last checkpoint is where it resumes */
               (WIFSIGNALED(wstatus) &&
                (WTERMSIG(wstatus) == SIGINT || WTERMSIG(wstatus) == SIGTERM ||
                 WTERMSIG(wstatus) == SIGKILL || WTERMSIG(wstatus) == SIGHUP))) {
        status = "interrupted";
        if (WIFSIGNALED(wstatus))
            snprintf(err, sizeof err,
                     "killed by signal %d; the next sweep resumes it from its "
                     "last checkpoint",
                     WTERMSIG(wstatus));
        t->interrupted++;
    } else {
        status = "failed";
        if (!err[0] && WIFEXITED(wstatus))
            snprintf(err, sizeof err, "exit status %d%s", WEXITSTATUS(wstatus),
                     WEXITSTATUS(wstatus) == 0 ? " without a report.ini" : "");
        else if (!err[0])
            snprintf(err, sizeof err, "killed by signal %d", WTERMSIG(wstatus));
        t->failed++;
    }
    sakd_meta_set(&j->meta, "status", status);
    sakd_meta_set(&j->meta, "end", when);
    double wall = sakd_time_now() - j->t0;
    sakd_meta_setf(&j->meta, "wall_s", "%.3f", j->wall_before + wall);
    sakd_meta_setf(&j->meta, "attempt_wall_s", "%.3f", wall);
    record_machine_load(j, wall);
    sakd_meta_setf(&j->meta, "exit", "%d",
                   WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
    sakd_meta_set(&j->meta, "error", err);
    sakd_meta_set(&j->meta, "pid", "");
    if (sakd_meta_write(&j->meta, j->meta_path, "sakd run provenance and status (DESIGN.md 3.4)") !=
        SAKD_OK)
        sakd_error_clear();
    return status;
}

/* Waits for one child, its resource use into its slot; returns the slot or -1 (EINTR or none
 * left). */
static int wait_one(job *slots, int n, int *wstatus)
{
    struct rusage usage;
    pid_t pid = wait4(-1, wstatus, 0, &usage);
    if (pid <= 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (slots[i].pid == pid) {
            slots[i].usage = usage;
            return i;
        }
    return -1;
}

/* The signal that asks a child to save and stop: SIGTERM for `sakd train`, SIGINT through a
 * launcher (mpirun forwards SIGINT to its ranks, which stop after the same step and save; on
 * SIGTERM it ends them at once). */
static int stop_signal(const sakd_runner *r)
{
    return r->launcher ? SIGUSR2 : SIGTERM;
}

/* Asks j's child to stop after its step, with a checkpoint. */
static void stop_job(const sakd_runner *r, job *j)
{
    if (j->pid > 0 && !j->stopped) {
        kill(j->pid, stop_signal(r));
        j->stopped = true;
    }
}

static int running(const job *slots, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += slots[i].pid > 0;
    return c;
}

/* Whether the checkpoint `file` holds teacher t trained to the end: its stored config
 * resolves to t's id and it was saved after the config's last epoch. A file that cannot be
 * read as a checkpoint with a config is an error naming it. */
static sakd_status holds_teacher(const char *file, const sakd_sweep_teacher *t, bool *match)
{
    *match = false;
    sakd_checkpoint *ck = NULL;
    SAKD_TRY(sakd_checkpoint_open(&ck, file));
    sakd_ckpt_meta m;
    memset(&m, 0, sizeof m);
    sakd_status st = sakd_checkpoint_read_meta(ck, &m);
    sakd_checkpoint_close(ck);
    if (st == SAKD_OK && (!m.config || !m.config[0]))
        st = sakd_error(SAKD_ERR_FORMAT,
                        "%s: no stored config (/meta attribute config): cannot tell whose "
                        "weights it holds",
                        file);
    sakd_config c;
    bool have_cfg = false;
    if (st == SAKD_OK && (st = sakd_config_init(&c)) == SAKD_OK) {
        have_cfg = true;
        st = sakd_config_load_string(&c, m.config, file);
    }
    if (st == SAKD_OK) {
        sakd_config_resolve(&c);
        char id[13];
        sakd_config_id(&c, id);
        *match = !strcmp(id, t->id) && m.epoch >= c.train.epochs;
    }
    if (have_cfg)
        sakd_config_free(&c);
    sakd_ckpt_meta_free(&m);
    return st;
}

/* Gives teacher t, done without its weights, the weights of the first r->teacher_weights
 * checkpoint that holds it (copied atomically; meta.ini's weights_from names the file);
 * *adopted says whether one did. */
static sakd_status adopt_teacher_weights(const sakd_runner *r, const sakd_sweep_teacher *t,
                                         const char *weights, bool *adopted)
{
    *adopted = false;
    for (size_t i = 0; i < r->n_teacher_weights && !*adopted; i++) {
        const char *file = r->teacher_weights[i];
        SAKD_TRY(holds_teacher(file, t, adopted));
        if (!*adopted)
            continue;
        if (r->dry_run) {
            say(r, "teacher %s: would take its weights from %s\n", t->id, file);
            return SAKD_OK;
        }
        char *data;
        size_t n;
        SAKD_TRY(sakd_file_read(file, &data, &n));
        sakd_status st = sakd_file_write_atomic(weights, data, n);
        free(data);
        SAKD_TRY(st);
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/meta.ini", t->dir);
        sakd_meta m;
        sakd_meta_init(&m);
        st = sakd_meta_read(&m, path);
        if (st == SAKD_OK)
            st = sakd_meta_set(&m, "weights_from", file);
        if (st == SAKD_OK)
            st = sakd_meta_write(&m, path, "sakd run provenance and status (DESIGN.md 3.4)");
        sakd_meta_free(&m);
        SAKD_TRY(st);
        say(r,
            "teacher %s: done in %s; its weights.h5 copied from %s (the same config, trained "
            "to the end)\n",
            t->id, t->dir, file);
    }
    return SAKD_OK;
}

/* Trains the teacher once: waits for its lock while another process trains it, or with
 * r->no_wait sets *busy and returns. */
static sakd_status ensure_teacher(const sakd_sweep *s, const sakd_runner *r,
                                  const sakd_sweep_teacher *t, sakd_sweep_tally *tally, bool *busy)
{
    *busy = false;
    char status[32], weights[PATH_MAX + 16];
    read_status(t->dir, status, sizeof status);
    snprintf(weights, sizeof weights, "%s/weights.h5", t->dir);
    bool have = access(weights, R_OK) == 0;
    if (!strcmp(status, "done") && have)
        return SAKD_OK;
    if (!strcmp(status, "done")) {
        /* Results are kept (committed, copied) without weights: the runs that distill from it
         * need them, so they come from a checkpoint of the same run when one is given, else
         * it is trained again, from the same config and seed. */
        bool adopted;
        SAKD_TRY(adopt_teacher_weights(r, t, weights, &adopted));
        if (adopted)
            return SAKD_OK;
        say(r, "teacher %s: done in %s, but without its weights.h5: training it again\n", t->id,
            t->dir);
    }
    if (r->dry_run) {
        say(r, "teacher %s: would train (%s) in %s\n", t->id, status[0] ? status : "pending",
            t->dir);
        return SAKD_OK;
    }
    SAKD_TRY(sakd_mkdir_p(t->dir));
    job j = {.cfg = &t->cfg, .dir = t->dir, .lock = -1};
    memcpy(j.id, t->id, sizeof j.id);
    int taken = 0;
    SAKD_TRY(take_lock(&j, false, &taken));
    if (!taken && r->no_wait) {
        say(r, "teacher %s: another process is training it; its runs are skipped\n", t->id);
        *busy = true;
        return SAKD_OK;
    }
    if (!taken) {
        say(r, "teacher %s: another process is training it; waiting\n", t->id);
        SAKD_TRY(take_lock(&j, true, &taken));
    }
    read_status(t->dir, status, sizeof status);
    if (!strcmp(status, "done") && access(weights, R_OK) == 0) {
        release(&j);
        return SAKD_OK;
    }
    say(r, "teacher %s: training in %s\n", t->id, t->dir);
    const char *dev = r->n_devices ? r->devices[0] : NULL;
    sakd_status st = start(s, r, &j, dev);
    if (st != SAKD_OK) {
        release(&j);
        return st;
    }
    int ws = 0;
    pid_t got;
    while ((got = wait4(j.pid, &ws, 0, &j.usage)) < 0 && errno == EINTR)
        if (r->interrupt && *r->interrupt)
            stop_job(r, &j);
    sakd_sweep_tally dummy = {0};
    const char *how = finish(&j, ws, &dummy);
    (void)tally;
    release(&j);
    say(r, "teacher %s: %s\n", t->id, how);
    if (!strcmp(how, "interrupted"))
        return sakd_error(SAKD_ERR_INTERRUPTED, "the teacher in %s was interrupted", t->dir);
    if (strcmp(how, "done"))
        return sakd_error(SAKD_ERR_CHECK,
                          "the teacher %s failed (see %s/stdout.log and meta.ini); the runs "
                          "that distill from it cannot start",
                          t->id, t->dir);
    return SAKD_OK;
}

/* Trains, each once, the teachers that the runs to do (which[0..n), or the first n) distill
 * from; busy[t]: teacher t is being trained by another process (r->no_wait). Stops when the
 * sweep is interrupted. */
static sakd_status ensure_teachers(const sakd_sweep *s, const sakd_runner *r, const size_t *which,
                                   size_t n, sakd_sweep_tally *tally, bool *busy)
{
    for (size_t t = 0; t < s->n_teachers; t++) {
        bool needed = false;
        for (size_t i = 0; i < n && !needed; i++)
            needed = s->runs[which ? which[i] : i].teacher == (int)t;
        if (needed)
            SAKD_TRY(ensure_teacher(s, r, &s->teachers[t], tally, &busy[t]));
        if (r->interrupt && *r->interrupt)
            return sakd_error(SAKD_ERR_INTERRUPTED, "the sweep was interrupted");
    }
    return SAKD_OK;
}

/* The first free slot of slots[0..n), -1 when every one runs a child. */
static int free_slot(const job *slots, int n)
{
    for (int i = 0; i < n; i++)
        if (slots[i].pid == 0)
            return i;
    return -1;
}

/* Asks the child of every busy slot to stop. */
static void terminate_all(const sakd_runner *r, job *slots, int n)
{
    for (int i = 0; i < n; i++)
        stop_job(r, &slots[i]);
}

/* j, emptied, as the job of `run` (not locked, not started). */
static void job_init(job *j, const sakd_sweep_run *run)
{
    memset(j, 0, sizeof *j);
    j->lock = -1;
    j->cfg = &run->cfg;
    j->dir = run->cfg.run.out;
    j->run = run;
    memcpy(j->id, run->id, sizeof j->id);
}

/* Says what the sweep would do with j's run, not done (meta.ini status `status`): copy it from
 * a done twin, or run it. */
static void say_dry_run(const sakd_runner *r, const job *j, const char *status, const char *label)
{
    const sakd_sweep_run *run = j->run;
    char twin[PATH_MAX];
    int twin_found = status[0] ? NO_TWIN : would_reuse(r, j, twin, sizeof twin);
    if (twin_found == DONE_TWIN)
        say(r, "[%zu] %s would be copied from %s (%s)\n", run->index, run->id, twin, label);
    else if (twin_found == RUNNING_TWIN)
        say(r, "[%zu] %s would wait: the same run is running in another process (%s; %s)\n",
            run->index, run->id, twin, label);
    else
        say(r, "[%zu] %s would run (%s): %s%s train %s/config.ini\n", run->index, run->id,
            status[0] ? status : "pending", r->exe, r->n_devices ? " --device ..." : "", j->dir);
}

/* Takes on `run` in the free slot `slot`: skips it when it is done or another process runs
 * it, copies a done twin of it, or starts it (a dry run only says which). */
static sakd_status take_on(const sakd_sweep *s, const sakd_runner *r, const sakd_sweep_run *run,
                           const bool *teacher_busy, job *slots, int slot, sakd_sweep_tally *tally)
{
    job *j = &slots[slot];
    job_init(j, run);
    char status[32], label[1024];
    sakd_sweep_run_label(s, run, label, sizeof label);
    read_status(j->dir, status, sizeof status);
    if (!strcmp(status, "done")) {
        say(r, "[%zu] %s done already (%s)\n", run->index, run->id, label);
        tally->skipped++;
        return SAKD_OK;
    }
    if (r->dry_run) {
        say_dry_run(r, j, status, label);
        return SAKD_OK;
    }
    if (run->teacher >= 0 && teacher_busy[run->teacher]) {
        say(r, "[%zu] %s: its teacher %s is being trained in another process; skipped (%s)\n",
            run->index, run->id, s->teachers[run->teacher].id, label);
        tally->busy++;
        return SAKD_OK;
    }
    int taken = 0;
    SAKD_TRY(sakd_mkdir_p(j->dir));
    SAKD_TRY(take_lock(j, false, &taken));
    if (!taken) {
        say(r, "[%zu] %s is running in another process; skipped\n", run->index, run->id);
        tally->busy++;
        return SAKD_OK;
    }
    /* Another process may have finished it between the first look and the lock. */
    read_status(j->dir, status, sizeof status);
    if (!strcmp(status, "done")) {
        release(j);
        tally->skipped++;
        return SAKD_OK;
    }
    sakd_status st = SAKD_OK;
    if (!status[0]) {
        char from[PATH_MAX];
        int reused = NO_TWIN;
        st = reuse_twin(s, r, j, &reused, from, sizeof from);
        if (st == SAKD_OK && reused == RUNNING_TWIN) {
            /* Training it here too would do the same work twice: a later `sakd sweep` copies
             * it once it is done. */
            say(r, "[%zu] %s: the same run is running in another process (%s); skipped\n",
                run->index, run->id, from);
            tally->busy++;
            release(j);
            return SAKD_OK;
        }
        if (st == SAKD_OK && reused == DONE_TWIN) {
            say(r, "[%zu] %s done: the same run as %s, copied (%s)\n", run->index, run->id, from,
                label);
            tally->reused++;
        }
        if (st != SAKD_OK || reused == DONE_TWIN) {
            release(j);
            return st;
        }
    }
    const char *dev = r->n_devices ? r->devices[slot % (int)r->n_devices] : NULL;
    st = start(s, r, j, dev);
    if (st != SAKD_OK) {
        release(j);
        return st;
    }
    say(r, "[%zu] %s started%s%s (%s%s)\n", run->index, run->id, dev ? " on " : "", dev ? dev : "",
        label, status[0] ? ", resuming" : "");
    return SAKD_OK;
}

/* Records how the child of j ended (wait status ws), says so and frees the slot. */
static void reap(const sakd_runner *r, job *j, int ws, sakd_sweep_tally *tally)
{
    const char *how = finish(j, ws, tally);
    const char *err = sakd_meta_get(&j->meta, "error");
    say(r, "[%zu] %s %s%s%s\n", j->run->index, j->id, how, err && *err ? ": " : "", err ? err : "");
    release(j);
}

/* Runs at once on one machine share its CPUs: unless the user set them, each run's threads are
 * the CPUs this process may use divided by the runs at once (at least 1), so that N runs of k
 * threads do not fight over k CPUs (on 2 cores two processes of 1 thread trained 1.29x as many
 * images per second as one of 2: results/bench/NOTES.md, MPI ranks). Not for runs started by a
 * launcher (its ranks are placed by it) or one at a time. */
static void share_cpus(const sakd_runner *r, int jobs)
{
    if (jobs <= 1 || r->launcher)
        return;
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (cpus <= 0)
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long each = cpus / jobs > 1 ? cpus / jobs : 1;
    char value[32];
    snprintf(value, sizeof value, "%ld", each);
    for (size_t i = 0; i < sizeof thread_vars / sizeof thread_vars[0]; i++) {
        const char *v = getenv(thread_vars[i]);
        if (!v || !*v)
            setenv(thread_vars[i], value, 1);
    }
}

sakd_status sakd_sweep_execute(const sakd_sweep *s, const sakd_runner *r, const size_t *which,
                               size_t n_which, sakd_sweep_tally *tally)
{
    memset(tally, 0, sizeof *tally);
    size_t n = which ? n_which : s->n_runs;
    /* Teachers first, each once. */
    bool *teacher_busy = calloc(s->n_teachers + 1, sizeof *teacher_busy);
    if (!teacher_busy)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    sakd_status tst = ensure_teachers(s, r, which, n, tally, teacher_busy);
    if (tst != SAKD_OK) {
        free(teacher_busy);
        return tst;
    }
    int jobs = r->jobs > 0 ? r->jobs : 1;
    share_cpus(r, jobs); /* after the teachers, which train one at a time */
    job *slots = calloc((size_t)jobs, sizeof *slots);
    if (!slots) {
        free(teacher_busy);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < jobs; i++)
        slots[i].lock = -1;
    sakd_status st = SAKD_OK;
    bool forwarded = false;
    size_t next = 0;
    for (;;) {
        bool stop = (r->interrupt && *r->interrupt) || st != SAKD_OK;
        if (stop && !forwarded) {
            terminate_all(r, slots, jobs);
            forwarded = true;
        }
        int slot = free_slot(slots, jobs);
        if (!stop && next < n && slot >= 0) {
            const sakd_sweep_run *run = &s->runs[which ? which[next] : next];
            next++;
            st = take_on(s, r, run, teacher_busy, slots, slot, tally);
            continue;
        }
        if (!running(slots, jobs))
            break;
        int ws = 0, i = wait_one(slots, jobs, &ws);
        if (i < 0)
            continue; /* a signal: look at the interrupt flag */
        reap(r, &slots[i], ws, tally);
    }
    free(slots);
    free(teacher_busy);
    if (st == SAKD_OK && r->interrupt && *r->interrupt)
        st = sakd_error(SAKD_ERR_INTERRUPTED, "the sweep was interrupted; running it again "
                                              "resumes the unfinished runs");
    return st;
}
