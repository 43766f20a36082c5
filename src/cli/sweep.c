/* sweep.c — `sakd sweep FILE.ini`: expands a sweep into runs, runs them as child processes
 * (-j N at once), lists them, writes a Slurm array script, and collects the results. */
#define _DEFAULT_SOURCE /* strsep */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "harness/meta.h"
#include "harness/runner.h"
#include "harness/sweep.h"
#include "runtime/file.h"
#include "runtime/strbuf.h"

void help_sweep(void)
{
    printf(
        "usage: sakd sweep FILE.ini [section.key=value ...] [OPTIONS]\n\n"
        "Expands the [sweep] axes of FILE.ini (`section.key = v1, v2`, `teacher.section.key =\n"
        "...`, `seeds = 1, 2, 3`) into runs, each with the id of its resolved config, trains the\n"
        "teachers they need (`teacher = T.ini`, once) and runs every run as a child\n"
        "`sakd train` into OUT/runs/<id>/ (config.ini, meta.ini, log.csv, weights.h5,\n"
        "report.ini, stdout.log); then writes OUT/summary.csv, table.csv, table.md and\n"
        "figures (as `sakd collect OUT`). Done runs are skipped, interrupted ones resume\n"
        "from their checkpoint, failed ones are marked and the sweep goes on. A run with the\n"
        "same id done by another sweep beside OUT (OUT/../<sweep>/runs/<id>: the same resolved\n"
        "config) is copied, its meta.ini naming the source (reused_from), not trained again;\n"
        "one another process is training at the moment is skipped, to be copied by a later\n"
        "sweep.\n\n"
        "Options:\n"
        "  -j, --jobs N        runs at once, each a separate process (1), each with\n"
        "                      CPUs/N host threads unless SAKD_BLAS_THREADS,\n"
        "                      POCL_MAX_PTHREAD_COUNT or OMP_NUM_THREADS are set\n"
        "      --devices LIST  comma-separated --device of the job slots (slot k: item k %% n)\n"
        "  -l, --list          print `ID INDEX axis=value ... seed=S`, one run a line\n"
        "      --only ID|INDEX run only this run (an id from --list, or its index); no collect\n"
        "  -n, --dry-run       print what would run; write nothing\n"
        "  -o, --out DIR       results directory (the file's `out = DIR` under [sweep],\n"
        "                      else results/<sweep name>)\n"
        "      --teachers DIR  where teachers are trained (OUT/../teachers)\n"
        "      --no-reuse      train every run here, even one another sweep has done\n"
        "      --no-wait       skip the runs whose teacher another process is training\n"
        "                      (running elsewhere) instead of waiting for it\n"
        "      --teacher-weights FILE  a checkpoint of a finished teacher (repeatable): a\n"
        "                      teacher whose results are kept without weights.h5 takes\n"
        "                      FILE when its stored config resolves to that teacher's id\n"
        "                      and it was saved after the last epoch, instead of training\n"
        "                      again (meta.ini: weights_from)\n"
        "      --smoke         the sweep's smoke variant (`smoke = key=value ...`, first seed,\n"
        "                      OUT results/<name>-smoke): seconds, for tests\n"
        "      --slurm         write OUT/slurm/{array.sbatch,collect.sbatch,submit.sh}: one\n"
        "                      array task per run (-j N caps the tasks at once)\n"
        "      --ntasks N      with --slurm: each run over N ranks (#SBATCH --ntasks=N, the\n"
        "                      runs started by srun; a sakd built with MPI)\n"
        "      --launcher CMD  start every run as `CMD sakd train ...` (words split at spaces),\n"
        "                      e.g. 'mpirun -np 2': each run over several ranks; Ctrl-C\n"
        "                      asks the launcher to stop them with SIGUSR2\n"
        "  -d, --device SPEC   device of every run (default: as `sakd train`)\n\n"
        "Exit status: 0 every run done, 1 a run or teacher failed, 2 bad input, 130\n"
        "interrupted (run the same command again to resume).\n"
        "GNU parallel: sakd sweep F --list | cut -d' ' -f1 | parallel -j4 sakd sweep F --only "
        "{}\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Appends `arg` single-quoted for sh. */
static void shell_quote(sakd_strbuf *b, const char *arg)
{
    sakd_strbuf_append(b, "'", 1);
    for (const char *p = arg; *p; p++) {
        if (*p == '\'')
            sakd_strbuf_append(b, "'\\''", 4);
        else
            sakd_strbuf_append(b, p, 1);
    }
    sakd_strbuf_append(b, "'", 1);
}

static void absolute(const char *path, char *out, size_t size)
{
    if (path[0] == '/') {
        snprintf(out, size, "%s", path);
        return;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(out, size, "%s", path);
    else if ((size_t)snprintf(out, size, "%s/%s", cwd, path) >= size)
        snprintf(out, size, "%s", path); /* too long to make absolute: keep it relative */
}

/* The options of sakd sweep. */
typedef struct sweep_opts {
    int jobs, jobs_given, list, dry, smoke, slurm, reuse, no_wait;
    long ntasks;                     /* --slurm: ranks per run (0: one) */
    const char *teacher_weights[16]; /* --teacher-weights, in the order given */
    size_t n_teacher_weights;
    const char *devices, *only, *out, *teachers, *launcher;
} sweep_opts;

/* The sweep's command line as one task runs it (absolute paths), shell-quoted into cmd. */
static void slurm_command(sakd_strbuf *cmd, const char *exe, const char *device,
                          const char *abs_file, const char *abs_out, const sweep_opts *o,
                          char **overrides, int n_overrides)
{
    const char *teachers = o->teachers;
    shell_quote(cmd, exe);
    if (device) {
        sakd_strbuf_printf(cmd, " --device ");
        shell_quote(cmd, device);
    }
    sakd_strbuf_printf(cmd, " sweep ");
    shell_quote(cmd, abs_file);
    sakd_strbuf_printf(cmd, " --out ");
    shell_quote(cmd, abs_out);
    if (teachers) {
        char abs_t[PATH_MAX];
        absolute(teachers, abs_t, sizeof abs_t);
        sakd_strbuf_printf(cmd, " --teachers ");
        shell_quote(cmd, abs_t);
    }
    for (size_t i = 0; i < o->n_teacher_weights; i++) {
        char abs_w[PATH_MAX];
        absolute(o->teacher_weights[i], abs_w, sizeof abs_w);
        sakd_strbuf_printf(cmd, " --teacher-weights ");
        shell_quote(cmd, abs_w);
    }
    if (o->smoke)
        sakd_strbuf_printf(cmd, " --smoke");
    if (o->ntasks > 1) /* each run over the task's ranks, started by srun */
        sakd_strbuf_printf(cmd, " --launcher srun");
    for (int i = 0; i < n_overrides; i++) {
        sakd_strbuf_append(cmd, " ", 1);
        shell_quote(cmd, overrides[i]);
    }
}

/* array.sbatch: task i runs `cmd --only i` in cwd, at most `jobs` at a time (when > 0). */
static void array_script(sakd_strbuf *arr, const sakd_sweep *s, int jobs, long ntasks,
                         const char *abs_out, const char *cwd, const char *cmd)
{
    sakd_strbuf_printf(arr,
                       "#!/bin/sh\n"
                       "# Slurm array of the sweep %s: task i runs run i of `sakd sweep --list`.\n"
                       "#SBATCH --job-name=sakd-%s\n"
                       "#SBATCH --array=0-%zu",
                       s->name, s->name, s->n_runs ? s->n_runs - 1 : 0);
    if (jobs > 0)
        sakd_strbuf_printf(arr, "%%%d", jobs);
    sakd_strbuf_printf(arr,
                       "\n#SBATCH --output=%s/slurm/%%A_%%a.out\n"
                       "#SBATCH --error=%s/slurm/%%A_%%a.err\n"
                       "#SBATCH --ntasks=%ld\n"
                       "set -eu\ncd '%s'\n"
                       "exec %s --only \"$SLURM_ARRAY_TASK_ID\"\n",
                       abs_out, abs_out, ntasks > 1 ? ntasks : 1, cwd, cmd);
}

/* collect.sbatch: `sakd collect` of the results in cwd. */
static void collect_script(sakd_strbuf *col, const sakd_sweep *s, const char *exe,
                           const char *abs_out, const char *cwd)
{
    sakd_strbuf_printf(col,
                       "#!/bin/sh\n"
                       "# Collects the sweep %s once its array is over (submit.sh chains it).\n"
                       "#SBATCH --job-name=sakd-%s-collect\n"
                       "#SBATCH --output=%s/slurm/collect_%%j.out\n"
                       "#SBATCH --ntasks=1\n"
                       "set -eu\ncd '%s'\nexec ",
                       s->name, s->name, abs_out, cwd);
    shell_quote(col, exe);
    sakd_strbuf_printf(col, " collect ");
    shell_quote(col, abs_out);
    sakd_strbuf_printf(col, "\n");
}

/* submit.sh: submits the array, then the collect job after it. */
static void submit_script(sakd_strbuf *sub, const sakd_sweep *s)
{
    sakd_strbuf_printf(sub,
                       "#!/bin/sh\n"
                       "# Submits the array of the sweep %s, then its collect job after it.\n"
                       "set -eu\nhere=$(cd \"$(dirname \"$0\")\" && pwd)\n"
                       "jid=$(sbatch --parsable \"$here/array.sbatch\")\n"
                       "jid=${jid%%%%;*}\n"
                       "sbatch --dependency=afterany:\"$jid\" \"$here/collect.sbatch\"\n"
                       "echo \"submitted array $jid ($(( %zu )) tasks) and its collect job\"\n",
                       s->name, s->n_runs);
}

/* Writes the three scripts into dir, executable. */
static sakd_status write_scripts(const char *dir, sakd_strbuf *arr, sakd_strbuf *col,
                                 sakd_strbuf *sub)
{
    char path[PATH_MAX + 64];
    const struct {
        const char *name;
        sakd_strbuf *b;
    } files[] = {{"array.sbatch", arr}, {"collect.sbatch", col}, {"submit.sh", sub}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        SAKD_TRY(sakd_file_write_atomic(path, files[i].b->data, files[i].b->size));
        if (chmod(path, 0755) != 0)
            return sakd_error(SAKD_ERR_IO, "chmod %s: %s", path, strerror(errno));
    }
    return SAKD_OK;
}

/* OUT/slurm/array.sbatch (one task per run), collect.sbatch and submit.sh. */
static sakd_status write_slurm(const sakd_sweep *s, const char *exe, const char *file,
                               const sweep_opts *o, const char *device, char **overrides,
                               int n_overrides)
{
    int jobs = o->jobs_given ? o->jobs : 0;
    char dir[PATH_MAX + 16], abs_file[PATH_MAX], abs_out[PATH_MAX], cwd[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/slurm", s->out);
    SAKD_TRY(sakd_mkdir_p(dir));
    absolute(file, abs_file, sizeof abs_file);
    absolute(s->out, abs_out, sizeof abs_out);
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    sakd_strbuf cmd = {0}, arr = {0}, col = {0}, sub = {0};
    slurm_command(&cmd, exe, device, abs_file, abs_out, o, overrides, n_overrides);
    array_script(&arr, s, jobs, o->ntasks, abs_out, cwd, cmd.data);
    collect_script(&col, s, exe, abs_out, cwd);
    submit_script(&sub, s);
    sakd_status st = SAKD_OK;
    if (cmd.failed || arr.failed || col.failed || sub.failed)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory writing the Slurm scripts");
    if (st == SAKD_OK)
        st = write_scripts(dir, &arr, &col, &sub);
    free(cmd.data);
    free(arr.data);
    free(col.data);
    free(sub.data);
    if (st == SAKD_OK)
        printf("wrote %s/array.sbatch (%zu tasks), collect.sbatch and submit.sh; submit with "
               "%s/submit.sh\n",
               dir, s->n_runs, dir);
    return st;
}

/* OUT/sweep.ini: the sweep's name, axes and figure hints, for `sakd collect`. */
static sakd_status write_hints(const sakd_sweep *s)
{
    sakd_meta m;
    sakd_meta_init(&m);
    char axes[4096] = "";
    size_t used = 0;
    for (size_t a = 0; a < s->n_axes && used < sizeof axes; a++)
        used += (size_t)snprintf(axes + used, sizeof axes - used, "%s%s", a ? ", " : "",
                                 s->axes[a].key);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sweep.ini", s->out);
    sakd_status st = sakd_meta_set(&m, "name", s->name);
    if (st == SAKD_OK)
        st = sakd_meta_set(&m, "sweep_file", s->path);
    if (st == SAKD_OK)
        st = sakd_meta_set(&m, "axes", axes);
    if (st == SAKD_OK)
        st = sakd_meta_setf(&m, "seeds", "%zu", s->n_seeds);
    if (st == SAKD_OK)
        st = sakd_meta_set(&m, "plot", s->plot ? s->plot : "");
    if (st == SAKD_OK)
        st = sakd_meta_set(&m, "x", s->x ? s->x : "");
    if (st == SAKD_OK)
        st = sakd_meta_setf(&m, "runs", "%zu", s->n_runs);
    if (st == SAKD_OK)
        st = sakd_mkdir_p(s->out);
    if (st == SAKD_OK)
        st = sakd_meta_write(&m, path, "sakd sweep: what `sakd collect` needs to know");
    sakd_meta_free(&m);
    return st;
}

/* Parses sweep's options into *o; -1 to go on, else the exit code. */
static int parse_sweep_opts(cli_opts *opts, int argc, char **argv, sweep_opts *o)
{
    enum {
        OPT_DEVICES = 256,
        OPT_ONLY,
        OPT_SMOKE,
        OPT_SLURM,
        OPT_TEACHERS,
        OPT_NO_REUSE,
        OPT_NTASKS,
        OPT_LAUNCHER,
        OPT_NO_WAIT,
        OPT_TEACHER_WEIGHTS
    };
    static const struct option long_opts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"devices", required_argument, NULL, OPT_DEVICES},
        {"list", no_argument, NULL, 'l'},
        {"only", required_argument, NULL, OPT_ONLY},
        {"dry-run", no_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"smoke", no_argument, NULL, OPT_SMOKE},
        {"slurm", no_argument, NULL, OPT_SLURM},
        {"teachers", required_argument, NULL, OPT_TEACHERS},
        {"no-reuse", no_argument, NULL, OPT_NO_REUSE},
        {"ntasks", required_argument, NULL, OPT_NTASKS},
        {"launcher", required_argument, NULL, OPT_LAUNCHER},
        {"no-wait", no_argument, NULL, OPT_NO_WAIT},
        {"teacher-weights", required_argument, NULL, OPT_TEACHER_WEIGHTS},
        {"device", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (sweep_opts){.jobs = 1, .reuse = 1};
    int c;
    long v;
    optind = 0;
    while ((c = getopt_long(argc, argv, "j:lno:d:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (!cli_parse_long("sweep", "--jobs", optarg, 1, 1024, &v))
                return SAKD_EXIT_USAGE;
            o->jobs = (int)v;
            o->jobs_given = 1;
            break;
        case OPT_DEVICES: o->devices = optarg; break;
        case 'l': o->list = 1; break;
        case OPT_ONLY: o->only = optarg; break;
        case 'n': o->dry = 1; break;
        case 'o': o->out = optarg; break;
        case OPT_SMOKE: o->smoke = 1; break;
        case OPT_SLURM: o->slurm = 1; break;
        case OPT_TEACHERS: o->teachers = optarg; break;
        case OPT_NO_REUSE: o->reuse = 0; break;
        case OPT_NTASKS:
            if (!cli_parse_long("sweep", "--ntasks", optarg, 1, 1 << 20, &o->ntasks))
                return SAKD_EXIT_USAGE;
            break;
        case OPT_LAUNCHER: o->launcher = optarg; break;
        case OPT_NO_WAIT: o->no_wait = 1; break;
        case OPT_TEACHER_WEIGHTS:
            if (o->n_teacher_weights == sizeof o->teacher_weights / sizeof *o->teacher_weights) {
                fprintf(stderr, "sakd: error: --teacher-weights: at most %zu files\n",
                        sizeof o->teacher_weights / sizeof *o->teacher_weights);
                return SAKD_EXIT_USAGE;
            }
            if (access(optarg, R_OK) != 0) {
                fprintf(stderr, "sakd: error: --teacher-weights %s: %s\n", optarg, strerror(errno));
                return SAKD_EXIT_USAGE;
            }
            o->teacher_weights[o->n_teacher_weights++] = optarg;
            break;
        case 'd': opts->device = optarg; break;
        case 'h': help_sweep(); return SAKD_EXIT_OK;
        default: fprintf(stderr, "sakd: 'sakd sweep --help' shows the options\n"); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "sakd: error: sweep needs a sweep file ('sakd sweep --help')\n");
        return SAKD_EXIT_USAGE;
    }
    if (o->ntasks && !o->slurm) {
        fprintf(stderr, "sakd: error: --ntasks goes with --slurm; without Slurm, --launcher "
                        "'mpirun -np N' runs each run over N ranks\n");
        return SAKD_EXIT_USAGE;
    }
    if (o->launcher && o->slurm) {
        fprintf(stderr, "sakd: error: --launcher does not go with --slurm (--ntasks N starts the "
                        "runs by srun)\n");
        return SAKD_EXIT_USAGE;
    }
    for (int i = optind + 1; i < argc; i++)
        if (!strchr(argv[i], '=')) {
            fprintf(stderr, "sakd: error: `%s`: expected section.key=value after the sweep file\n",
                    argv[i]);
            return SAKD_EXIT_USAGE;
        }
    return -1;
}

/* Prints `ID INDEX axis=value ... seed=S`, one run a line (only `only` when given). */
static void list_runs(const sakd_sweep *s, const char *only, size_t only_index)
{
    for (size_t i = 0; i < s->n_runs; i++) {
        if (only && i != only_index)
            continue;
        char label[2048];
        sakd_sweep_run_label(s, &s->runs[i], label, sizeof label);
        printf("%s %zu %s\n", s->runs[i].id, i, label);
    }
}

/* The device of each job slot: --devices (comma-separated, into `copy`), else --device. */
static size_t slot_devices(const char *devices, const char *device, char **copy, const char **list,
                           size_t cap)
{
    size_t n = 0;
    *copy = devices ? strdup(devices) : NULL;
    if (*copy) {
        char *rest = *copy, *tok;
        while ((tok = strsep(&rest, ",")) != NULL && n < cap)
            if (*tok)
                list[n++] = tok;
    } else if (device) {
        list[n++] = device;
    }
    return n;
}

/* Where sweeps side by side share their identical runs: the directory above `out`. */
static void results_root(const char *out, char *root, size_t size)
{
    snprintf(root, size, "%s", out);
    char *slash = strrchr(root, '/');
    if (slash && slash != root)
        *slash = '\0';
    else
        snprintf(root, size, "%s", slash ? "/" : ".");
}

/* Runs the sweep (or the --only run) with signals forwarded to the children, says how it went
 * and collects the tables; the exit code. */
static int run_sweep(sakd_sweep *s, const sweep_opts *o, size_t only_index, const char *exe,
                     const cli_opts *opts, int argc, char **argv)
{
    char *dev_copy;
    const char *dev_list[64];
    size_t n_dev = slot_devices(o->devices, opts->device, &dev_copy, dev_list, 64);
    sakd_strbuf cmdline = {0};
    for (int i = 0; i < argc; i++)
        sakd_strbuf_printf(&cmdline, "%s%s", i ? " " : "sakd ", argv[i]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waitpid returns to look at the flag */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char root[PATH_MAX];
    results_root(s->out, root, sizeof root);
    sakd_runner r = {.exe = exe,
                     .jobs = o->jobs,
                     .devices = dev_list,
                     .n_devices = n_dev,
                     .command_line = cmdline.data,
                     .log = stdout,
                     .interrupt = &interrupted,
                     .dry_run = o->dry,
                     .reuse_root = o->reuse ? root : NULL,
                     .launcher = o->launcher,
                     .no_wait = o->no_wait,
                     .teacher_weights = o->teacher_weights,
                     .n_teacher_weights = o->n_teacher_weights};
    printf("sweep %s: %zu runs (%zu axes x %zu seeds), %zu teacher%s, results in %s\n", s->name,
           s->n_runs, s->n_axes, s->n_seeds, s->n_teachers, s->n_teachers == 1 ? "" : "s", s->out);
    sakd_status st = o->dry ? SAKD_OK : write_hints(s);
    sakd_sweep_tally t = {0};
    if (st == SAKD_OK)
        st = sakd_sweep_execute(s, &r, o->only ? &only_index : NULL, o->only ? 1 : 0, &t);
    int rc = SAKD_EXIT_OK;
    if (st == SAKD_ERR_INTERRUPTED) {
        fprintf(stderr, "sakd: interrupted: %s\n", sakd_error_detail());
        rc = 130;
    } else if (st != SAKD_OK) {
        rc = cli_fail(st, "sweep");
    } else if (!o->dry) {
        printf("sweep %s: %zu done now, %zu done before, %zu failed, %zu interrupted, %zu "
               "running elsewhere, %zu reused from other sweeps\n",
               s->name, t.done, t.skipped, t.failed, t.interrupted, t.busy, t.reused);
        if (t.failed || t.interrupted)
            rc = SAKD_EXIT_FAIL;
    }
    char runs_dir[PATH_MAX + 16];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", s->out);
    if (!o->dry && !o->only && st != SAKD_ERR_NOMEM && access(runs_dir, F_OK) != 0) {
        /* every run skipped before it made a directory (its teacher busy elsewhere) */
        printf("sweep %s: no run directory yet, nothing to collect\n", s->name);
    } else if (!o->dry && !o->only && st != SAKD_ERR_NOMEM) {
        int crc = cli_collect(s->out);
        if (rc == SAKD_EXIT_OK)
            rc = crc;
    }
    free(cmdline.data);
    free(dev_copy);
    return rc;
}

int cmd_sweep(cli_opts *opts, int argc, char **argv)
{
    sweep_opts o;
    int rc = parse_sweep_opts(opts, argc, argv, &o);
    if (rc >= 0)
        return rc;
    const char *file = argv[optind];
    char **overrides = argv + optind + 1;
    int n_overrides = argc - optind - 1;
    sakd_sweep_options so = {.path = file,
                             .overrides = (const char *const *)overrides,
                             .n_overrides = (size_t)n_overrides,
                             .smoke = o.smoke,
                             .out = o.out,
                             .teachers = o.teachers};
    sakd_sweep s;
    sakd_status st = sakd_sweep_load(&s, &so);
    if (st != SAKD_OK) {
        cli_fail(st, "sweep");
        return SAKD_EXIT_USAGE;
    }
    size_t only_index = 0;
    if (o.only && (st = sakd_sweep_find(&s, o.only, &only_index)) != SAKD_OK) {
        sakd_sweep_free(&s);
        cli_fail(st, "--only");
        return SAKD_EXIT_USAGE;
    }
    if (o.list) {
        list_runs(&s, o.only, only_index);
        sakd_sweep_free(&s);
        return SAKD_EXIT_OK;
    }
    /* A libtool wrapper runs the real binary from .libs/lt-sakd: the children run that too. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        sakd_sweep_free(&s);
        fprintf(stderr, "sakd: error: cannot find the sakd binary (/proc/self/exe): %s\n",
                strerror(errno));
        return SAKD_EXIT_FAIL;
    }
    exe[n] = '\0';
    if (o.slurm) {
        st = write_slurm(&s, exe, file, &o, opts->device, overrides, n_overrides);
        sakd_sweep_free(&s);
        return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "writing the Slurm scripts");
    }
    rc = run_sweep(&s, &o, only_index, exe, opts, argc, argv);
    sakd_sweep_free(&s);
    return rc;
}
