/* test_sweep.c — the experiment harness: sweep expansion and ids, CSV quoting through libcsv,
 * collect on partial and corrupt runs, and `sakd sweep` end to end (skip of done runs, a failing
 * run, resume of a killed run, --only, --dry-run, the Slurm script run locally). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <csv.h>
#include <errno.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/meta.h"
#include "harness/sweep.h"
#include "harness/table.h"
#include "testutil.h"

static char out[1 << 17];

#define RUN(env, ...) test_run_sakd(env, (const char *const[]){__VA_ARGS__, NULL}, out, sizeof out)
#define EXPECT_IN_OUTPUT(text)                                                                     \
    ck_assert_msg(strstr(out, text) != NULL, "output lacks '%s':\n%s", text, out)

/* A run small enough for seconds on a CPU: resnet19 at width 1/16, T = 1, 32 images. */
static const char tiny[] = "[model]\nwidth = 0.0625\nT = 1\n[data]\ntrain_limit = 32\n"
                           "test_limit = 16\n[train]\nepochs = 1\nbatch = 16\n";

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    char *t = NULL;
    size_t n;
    if (sakd_file_read(path, &t, &n) != SAKD_OK)
        return NULL;
    return t;
}

static void meta_of(const char *dir, const char *id, sakd_meta *m)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/runs/%s/meta.ini", dir, id);
    TEST_OK(sakd_meta_read(m, path));
}

/* The id a run should have, computed independently: base file + values + seed. */
static void expected_id(const char *file, const char *const *assign, size_t n, char id[13])
{
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    TEST_OK(sakd_config_load_file(&c, file));
    for (size_t i = 0; i < n; i++)
        TEST_OK(sakd_config_override(&c, assign[i], "test"));
    TEST_OK(sakd_config_validate(&c));
    sakd_config_resolve(&c);
    sakd_config_id(&c, id);
    sakd_config_free(&c);
}

START_TEST(test_expansion_and_ids)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], text[PATH_MAX + 1024];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text,
             "%s[sweep]\nmodel.surrogate = triangle, atan, sigmoid\nmodel.T = 1, 2\n"
             "seeds = 3, 5\nname = exp\n",
             tiny);
    write_file(dir, "s.ini", text);
    snprintf(file, sizeof file, "%s/s.ini", dir);
    sakd_sweep a, b;
    sakd_sweep_options o = {.path = file, .out = "x/one"};
    TEST_OK(sakd_sweep_load(&a, &o));
    o.out = "elsewhere/two";
    TEST_OK(sakd_sweep_load(&b, &o));
    ck_assert_uint_eq(a.n_runs, 12);
    ck_assert_str_eq(a.name, "exp");
    ck_assert_str_eq(a.out, "x/one");
    const char *surr[] = {"triangle", "atan", "sigmoid"}, *ts[] = {"1", "2"};
    unsigned long long seeds[] = {3, 5};
    for (size_t i = 0; i < 12; i++) {
        /* First axis slowest, seeds fastest. */
        const sakd_sweep_run *r = &a.runs[i];
        size_t si = i / 4, ti = (i / 2) % 2, k = i % 2;
        ck_assert_str_eq(r->values[0], surr[si]);
        ck_assert_str_eq(r->values[1], ts[ti]);
        ck_assert_uint_eq(r->seed, seeds[k]);
        char s1[64], s2[64], s3[64], id[13];
        snprintf(s1, sizeof s1, "model.surrogate=%s", surr[si]);
        snprintf(s2, sizeof s2, "model.T=%s", ts[ti]);
        snprintf(s3, sizeof s3, "train.seed=%llu", seeds[k]);
        const char *as[] = {s1, s2, s3};
        expected_id(file, as, 3, id);
        ck_assert_str_eq(r->id, id);
        /* Stable across results directories. */
        ck_assert_str_eq(b.runs[i].id, id);
        char want[PATH_MAX];
        snprintf(want, sizeof want, "x/one/runs/%s", id);
        ck_assert_str_eq(r->cfg.run.out, want);
        size_t found;
        TEST_OK(sakd_sweep_find(&a, id, &found));
        ck_assert_uint_eq(found, i);
    }
    size_t idx;
    TEST_OK(sakd_sweep_find(&a, "7", &idx));
    ck_assert_uint_eq(idx, 7);
    ck_assert_int_eq(sakd_sweep_find(&a, "12", &idx), SAKD_ERR_NOT_FOUND);
    sakd_sweep_free(&a);
    sakd_sweep_free(&b);

    /* `out` under [sweep] places the runs and, beside them, the teachers; -o still wins, and a
     * smoke run appends -smoke to the file's directory as to the default one. */
    snprintf(text, sizeof text,
             "%s[sweep]\nmodel.T = 1, 2\nout = %s/kept/demo/exp/\nteacher = t.ini\n"
             "smoke = model.T=1\n",
             tiny, dir);
    write_file(dir, "o.ini", text);
    write_file(dir, "t.ini", tiny);
    snprintf(file, sizeof file, "%s/o.ini", dir);
    sakd_sweep_options of = {.path = file};
    TEST_OK(sakd_sweep_load(&a, &of));
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/kept/demo/exp", dir);
    ck_assert_str_eq(a.out, want);
    snprintf(want, sizeof want, "%s/kept/demo/exp/runs/%s", dir, a.runs[0].id);
    ck_assert_str_eq(a.runs[0].cfg.run.out, want);
    snprintf(want, sizeof want, "%s/kept/demo/teachers/", dir);
    ck_assert_ptr_nonnull(a.runs[0].cfg.distill.teacher);
    ck_assert_int_eq(strncmp(a.runs[0].cfg.distill.teacher, want, strlen(want)), 0);
    sakd_sweep_free(&a);
    of.smoke = true;
    TEST_OK(sakd_sweep_load(&a, &of));
    snprintf(want, sizeof want, "%s/kept/demo/exp-smoke", dir);
    ck_assert_str_eq(a.out, want);
    sakd_sweep_free(&a);
    of.smoke = false;
    of.out = "x/given";
    TEST_OK(sakd_sweep_load(&a, &of));
    ck_assert_str_eq(a.out, "x/given");
    sakd_sweep_free(&a);
    snprintf(text, sizeof text, "%s[sweep]\nmodel.T = 1, 2\nout =\n", tiny);
    write_file(dir, "o.ini", text);
    of.out = NULL;
    ck_assert_int_eq(sakd_sweep_load(&a, &of), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "sweep.out"));

    /* Unknown axis keys name the closest valid key, the file and the line. */
    snprintf(text, sizeof text, "%s[sweep]\ndistill.tranform = none, proj\n", tiny);
    write_file(dir, "bad.ini", text);
    snprintf(file, sizeof file, "%s/bad.ini", dir);
    o.path = file;
    ck_assert_int_eq(sakd_sweep_load(&a, &o), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "distill.transform"));
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "bad.ini:11"));
    snprintf(text, sizeof text, "%s[sweep]\nseed = 1, 2\n", tiny);
    write_file(dir, "bad.ini", text);
    ck_assert_int_eq(sakd_sweep_load(&a, &o), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "seeds"));
    snprintf(text, sizeof text, "%s[sweep]\nmodel.T = 1, x\n", tiny);
    write_file(dir, "bad.ini", text);
    ck_assert_int_eq(sakd_sweep_load(&a, &o), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "model.T"));
    /* Two values with the same resolved config. */
    snprintf(text, sizeof text, "%s[sweep]\nmodel.width = 0.0625, 0.06250\n", tiny);
    write_file(dir, "bad.ini", text);
    ck_assert_int_eq(sakd_sweep_load(&a, &o), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "same config"));
    test_rmtree(dir);
}
END_TEST

/* libcsv parse callbacks: collect fields of the current row into a table. */
typedef struct parsed {
    char cells[16][8][256];
    size_t rows, col;
} parsed;

static void on_field(void *s, size_t len, void *data)
{
    parsed *p = data;
    if (p->rows < 16 && p->col < 8)
        snprintf(p->cells[p->rows][p->col], 256, "%.*s", (int)len, (const char *)s);
    p->col++;
}

static void on_row(int c, void *data)
{
    (void)c;
    parsed *p = data;
    p->rows++;
    p->col = 0;
}

static void parse_csv(const char *text, parsed *p)
{
    struct csv_parser cp;
    memset(p, 0, sizeof *p);
    ck_assert_int_eq(csv_init(&cp, CSV_STRICT | CSV_APPEND_NULL), 0);
    size_t n = strlen(text);
    ck_assert_uint_eq(csv_parse(&cp, text, n, on_field, on_row, p), n);
    ck_assert_int_eq(csv_fini(&cp, on_field, on_row, p), 0);
    csv_free(&cp);
}

START_TEST(test_csv_roundtrip)
{
    const char *fields[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "", "\"q\",\n,"};
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    sakd_table_write_row(f, fields, 6);
    sakd_table_write_row(f, fields + 1, 2);
    fclose(f);
    parsed p;
    parse_csv(buf, &p);
    ck_assert_uint_eq(p.rows, 2);
    for (size_t i = 0; i < 6; i++)
        ck_assert_str_eq(p.cells[0][i], fields[i]);
    ck_assert_str_eq(p.cells[1][0], "a,b");
    ck_assert_str_eq(p.cells[1][1], "say \"hi\"");
    free(buf);
}
END_TEST

/* A hand-made run directory: meta.ini fields and, for done runs, report.ini. */
static void fake_run(const char *dir, const char *id, const char *index, const char *value,
                     const char *seed, const char *status, double acc, const char *error)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/runs/%s", dir, id);
    TEST_OK(sakd_mkdir_p(path));
    sakd_meta m;
    sakd_meta_init(&m);
    TEST_OK(sakd_meta_set(&m, "index", index));
    TEST_OK(sakd_meta_set(&m, "status", status));
    TEST_OK(sakd_meta_set(&m, "seed", seed));
    TEST_OK(sakd_meta_set(&m, "axes", "distill.transform"));
    TEST_OK(sakd_meta_set(&m, "axis.distill.transform", value));
    TEST_OK(sakd_meta_set(&m, "wall_s", "2"));
    TEST_OK(sakd_meta_set(&m, "error", error));
    snprintf(path, sizeof path, "%s/runs/%s/meta.ini", dir, id);
    TEST_OK(sakd_meta_write(&m, path, NULL));
    sakd_meta_free(&m);
    if (acc < 0)
        return;
    sakd_meta_init(&m);
    TEST_OK(sakd_meta_setf(&m, "test_acc", "%g", acc));
    TEST_OK(sakd_meta_set(&m, "layer.sn1", "0.25"));
    snprintf(path, sizeof path, "%s/runs/%s/report.ini", dir, id);
    TEST_OK(sakd_meta_write(&m, path, NULL));
    sakd_meta_free(&m);
}

START_TEST(test_collect_partial_and_corrupt)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    test_tempdir(dir, sizeof dir);
    fake_run(dir, "aaaa00000001", "0", "proj, \"v2\"", "1", "done", 0.5, "");
    fake_run(dir, "aaaa00000002", "1", "proj, \"v2\"", "2", "done", 0.7, "");
    fake_run(dir, "aaaa00000003", "2", "none", "1", "failed", -1, "bad, \"quoted\" error");
    fake_run(dir, "aaaa00000004", "3", "none", "2", "done", -1, ""); /* report.ini missing */
    snprintf(path, sizeof path, "%s/runs/partial0000", dir);
    TEST_OK(sakd_mkdir_p(path)); /* no meta.ini at all */
    snprintf(path, sizeof path, "%s/runs/corrupt00000", dir);
    TEST_OK(sakd_mkdir_p(path));
    write_file(path, "meta.ini", "this is not\x01 a meta file\n");
    const char *env[] = {"SAKD_GNUPLOT=/nonexistent/gnuplot", NULL};
    ck_assert_int_eq(RUN(env, "collect", dir), 0);
    EXPECT_IN_OUTPUT("partial0000");
    EXPECT_IN_OUTPUT("corrupt00000");
    EXPECT_IN_OUTPUT("aaaa00000004");
    EXPECT_IN_OUTPUT("gnuplot not found");
    EXPECT_IN_OUTPUT("6 runs (2 done, 1 failed, 0 unfinished, 3 unreadable)");
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    char *text = read_text(path);
    ck_assert_ptr_nonnull(text);
    parsed p;
    parse_csv(text, &p);
    free(text);
    ck_assert_uint_eq(p.rows, 7);
    ck_assert_str_eq(p.cells[0][2], "distill.transform");
    ck_assert_str_eq(p.cells[1][1], "aaaa00000001");
    ck_assert_str_eq(p.cells[1][2], "proj, \"v2\"");
    ck_assert_str_eq(p.cells[1][4], "done");
    ck_assert_str_eq(p.cells[1][5], "0.5");
    ck_assert_str_eq(p.cells[3][4], "failed");
    ck_assert_str_eq(p.cells[4][4], "unreadable");
    snprintf(path, sizeof path, "%s/table.csv", dir);
    text = read_text(path);
    ck_assert_ptr_nonnull(text);
    parse_csv(text, &p);
    free(text);
    /* One cell (the failed and broken runs are left out): mean 0.6, sample std 0.1414. */
    ck_assert_uint_eq(p.rows, 2);
    ck_assert_str_eq(p.cells[1][0], "proj, \"v2\"");
    ck_assert_str_eq(p.cells[1][1], "2");
    ck_assert_double_eq_tol(strtod(p.cells[1][2], NULL), 0.6, 1e-9);
    ck_assert_double_eq_tol(strtod(p.cells[1][3], NULL), 0.14142136, 1e-6);
    snprintf(path, sizeof path, "%s/table.md", dir);
    text = read_text(path);
    ck_assert_ptr_nonnull(strstr(text, "| proj, \"v2\" | 2 | 60.00 ± 14.14 |"));
    free(text);
    snprintf(path, sizeof path, "%s/figures/figures.gp", dir);
    text = read_text(path);
    ck_assert_ptr_nonnull(text);
    /* Labels as written (an underscore in distill.init_from_teacher is not a subscript), and
     * the accuracy bars from a whole percent max(1, half the cells' span) below the lowest
     * mean − std: 60 ± 14.14 spans 45.86–74.14, so floor(45.86 − 14.14) = 31; the firing-rate
     * bars from 0. */
    ck_assert_ptr_null(strstr(text, "pngcairo size"));
    ck_assert_ptr_nonnull(strstr(text, "set terminal pngcairo noenhanced"));
    ck_assert_ptr_nonnull(strstr(text, "set yrange [31:*]"));
    ck_assert_ptr_nonnull(strstr(text, "set yrange [0:*]"));
    free(text);
    /* Not a results directory: an error. */
    snprintf(path, sizeof path, "%s/nothing", dir);
    ck_assert_int_eq(RUN(NULL, "collect", path), 1);
    test_rmtree(dir);
}
END_TEST

/* `sakd compare` on hand-made runs of two cells of one sweep: the groups it reads, and its
 * paired test over 2 seeds (1 degree of freedom: p = 1 − 2·atan(|t|)/π in closed form) and
 * Welch's t from the values; bad groups and metrics are errors that name them. */
START_TEST(test_compare_groups)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    test_tempdir(dir, sizeof dir);
    test_rng r = test_rng_new(0xc0a7e);
    double a[2], b[3];
    for (int i = 0; i < 3; i++) {
        char id[16], seed[8];
        b[i] = test_rand_uniform(&r, 0.85, 0.92);
        snprintf(id, sizeof id, "bbbb0000000%d", i);
        snprintf(seed, sizeof seed, "%d", i + 1);
        fake_run(dir, id, seed, "proj", seed, "done", b[i], "");
        if (i == 2)
            continue;
        a[i] = test_rand_uniform(&r, 0.85, 0.92);
        snprintf(id, sizeof id, "aaaa0000000%d", i);
        fake_run(dir, id, seed, "none", seed, "done", a[i], "");
    }
    fake_run(dir, "aaaa00000009", "9", "none", "3", "failed", -1, "no");
    write_file(dir, "sweep.ini", "axes = distill.transform\n");
    char ga[PATH_MAX + 64], gb[PATH_MAX + 64];
    snprintf(ga, sizeof ga, "%s:distill.transform=none", dir);
    snprintf(gb, sizeof gb, "%s:distill.transform=proj", dir);
    ck_assert_int_eq(RUN(NULL, "compare", ga, gb), 0);
    EXPECT_IN_OUTPUT("test_acc (%): B − A");
    EXPECT_IN_OUTPUT("distill.transform=none: 2 runs,");
    EXPECT_IN_OUTPUT("distill.transform=proj: 3 runs,");
    EXPECT_IN_OUTPUT("(seeds 1 2 3)");
    /* Welch's t of the percentages. */
    double ma = 50 * (a[0] + a[1]), mb = 100 * (b[0] + b[1] + b[2]) / 3, va = 0, vb = 0;
    for (int i = 0; i < 2; i++)
        va += (100 * a[i] - ma) * (100 * a[i] - ma);
    for (int i = 0; i < 3; i++)
        vb += (100 * b[i] - mb) * (100 * b[i] - mb);
    double tw = (mb - ma) / sqrt(va / 1 / 2 + vb / 2 / 3);
    const char *p = strstr(out, "Welch t-test      t ");
    ck_assert_ptr_nonnull(p);
    double got = strtod(p + strlen("Welch t-test      t "), NULL);
    ck_assert_msg(fabs(got - tw) <= 0.005 * fabs(tw) + 1e-9, "Welch t %g, want %g", got, tw);
    /* The paired test: seeds 1 and 2. */
    double d0 = 100 * (b[0] - a[0]), d1 = 100 * (b[1] - a[1]);
    double tp = (d0 + d1) / 2 / (fabs(d0 - d1) / sqrt(2) / sqrt(2));
    double pp = 1 - 2 * atan(fabs(tp)) / 3.14159265358979323846;
    p = strstr(out, "paired by seed    2 pairs");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "two-sided p ");
    ck_assert_ptr_nonnull(p);
    got = strtod(p + strlen("two-sided p "), NULL);
    ck_assert_msg(fabs(got - pp) <= 0.05 * pp, "paired p %g, want %g", got, pp);
    /* --cells: the same comparison as the row of cell proj; cell none against itself. */
    const char *w = strstr(out, "Welch t-test");
    p = strstr(w, "two-sided p ") + strlen("two-sided p ");
    char welch_p[32];
    snprintf(welch_p, sizeof welch_p, "%.*s", (int)strcspn(p, "\n"), p);
    ck_assert_int_eq(RUN(NULL, "compare", "--cells", ga, dir), 0);
    EXPECT_IN_OUTPUT("| distill.transform | n | mean ± std | B − A |");
    EXPECT_IN_OUTPUT("| none | 2 | ");
    EXPECT_IN_OUTPUT(
        "| +0 | +0 | 1 | 2 | — |"); /* no spread in the differences of a cell to itself */
    p = strstr(out, "| proj | 3 | ");
    ck_assert_ptr_nonnull(p);
    char row_end[64];
    snprintf(row_end, sizeof row_end, "| %s | 2 | ", welch_p);
    ck_assert_msg(strstr(p, row_end) != NULL, "proj row lacks '%s':\n%s", row_end, out);
    /* The whole directory (5 done runs) against one cell; two metrics. */
    ck_assert_int_eq(RUN(NULL, "compare", "--metric", "test_acc,wall_s", dir, gb), 0);
    EXPECT_IN_OUTPUT(": 5 runs,");
    EXPECT_IN_OUTPUT("wall_s: B − A");
    /* Several cells in a group: said, and no pairing by seed. */
    EXPECT_IN_OUTPUT("note: its runs differ in distill.transform");
    EXPECT_IN_OUTPUT("paired by seed    — (seed 1 repeats in A");
    /* No axes in sweep.ini and partial runs before the others: the runs name the axes. */
    write_file(dir, "sweep.ini", "axes =\n");
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/runs/0partial%d", dir, i);
        TEST_OK(sakd_mkdir_p(path));
    }
    ck_assert_int_eq(RUN(NULL, "compare", "--cells", ga, dir), 0);
    EXPECT_IN_OUTPUT("compare: warning: ");
    EXPECT_IN_OUTPUT("0partial3");
    EXPECT_IN_OUTPUT("| none | 2 | ");
    EXPECT_IN_OUTPUT("| proj | 3 | ");
    write_file(dir, "sweep.ini", "axes = distill.transform\n");
    /* Bad input. */
    snprintf(path, sizeof path, "%s:distill.tranform=none", dir);
    ck_assert_int_eq(RUN(NULL, "compare", path, gb), 2);
    EXPECT_IN_OUTPUT("no axis 'distill.tranform'");
    snprintf(path, sizeof path, "%s:distill.transform=attn", dir);
    ck_assert_int_eq(RUN(NULL, "compare", path, gb), 2);
    EXPECT_IN_OUTPUT("no done run");
    ck_assert_int_eq(RUN(NULL, "compare", "--metric", "acc", ga, gb), 2);
    EXPECT_IN_OUTPUT("unknown metric 'acc'");
    ck_assert_int_eq(RUN(NULL, "compare", ga), 2);
    snprintf(path, sizeof path, "%s/nothing", dir);
    ck_assert_int_eq(RUN(NULL, "compare", path, gb), 1);
    EXPECT_IN_OUTPUT("not a sweep results directory");
    test_rmtree(dir);
}
END_TEST

/* The smoke sweep used below: a teacher, a baseline and a distilled run, one of which fails
 * (CIFAR-10 is not installed here... a missing data.dir makes it fail everywhere). */
static void smoke_files(const char *dir)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[model]\narch = ann\nwidth = 0.0625\n[data]\ntrain_limit = 32\n"
             "test_limit = 16\n[train]\nepochs = 1\nbatch = 16\n");
    write_file(dir, "teacher.ini", text);
    snprintf(text, sizeof text,
             "%s[sweep]\nname = smoke\nteacher = teacher.ini\n"
             "distill.teacher = none, teacher\ndata.dataset = fashion-mnist, cifar10\nseeds = 1\n",
             tiny);
    write_file(dir, "s.ini", text);
}

/* The threads each of `jobs` runs at once gets: the CPUs this process may use / jobs, at
 * least 1 (as text). */
static const char *share_of_cpus(long jobs)
{
    static char text[32];
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (cpus <= 0)
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(text, sizeof text, "%ld", cpus / jobs > 1 ? cpus / jobs : 1);
    return text;
}

START_TEST(test_sweep_end_to_end)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], teachers[PATH_MAX + 16],
        path[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    smoke_files(dir);
    snprintf(file, sizeof file, "%s/s.ini", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(teachers, sizeof teachers, "%s/teachers", dir);
    /* --list: one line per run, id first. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--list", "--out", res), 0);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .out = res, .teachers = teachers};
    TEST_OK(sakd_sweep_load(&s, &o));
    ck_assert_uint_eq(s.n_runs, 4);
    ck_assert_uint_eq(s.n_teachers, 1);
    for (size_t i = 0; i < 4; i++) {
        char line[256];
        snprintf(line, sizeof line, "%s %zu distill.teacher=%s", s.runs[i].id, i,
                 s.runs[i].values[0]);
        EXPECT_IN_OUTPUT(line);
    }
    /* --dry-run writes nothing. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--dry-run", "--out", res, "--teachers", teachers),
                     0);
    EXPECT_IN_OUTPUT("would train");
    EXPECT_IN_OUTPUT("would run");
    ck_assert_int_ne(access(res, F_OK), 0);
    /* The whole sweep, two at a time: CIFAR-10 is not installed: two runs fail. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "-j", "2", "--out", res, "--teachers", teachers), 1);
    EXPECT_IN_OUTPUT("2 done now, 0 done before, 2 failed");
    for (size_t i = 0; i < 4; i++) {
        sakd_meta m;
        meta_of(res, s.runs[i].id, &m);
        bool fails = !strcmp(s.runs[i].values[1], "cifar10");
        ck_assert_str_eq(sakd_meta_get(&m, "status"), fails ? "failed" : "done");
        if (fails)
            ck_assert_ptr_nonnull(strstr(sakd_meta_get(&m, "error"), "sakd: error"));
        const char *keys[] = {
            "seed",          "config_hash",   "command", "git",   "sakd_version", "opencl_platform",
            "opencl_device", "opencl_driver", "clblast", "hdf5",  "compiler",     "host",
            "start",         "end",           "wall_s",  "cpu_s", "other_cpu_s",  "other_load",
            "steal_s"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            ck_assert_msg(sakd_meta_get(&m, keys[k]) && *sakd_meta_get(&m, keys[k]),
                          "meta.ini lacks %s", keys[k]);
        /* What the machine did beside the run: numbers, never negative (two ran at once). */
        ck_assert_double_ge(sakd_meta_number(&m, "other_load"), 0.0);
        ck_assert_double_ge(sakd_meta_number(&m, "other_cpu_s"), 0.0);
        if (!fails)
            ck_assert_double_gt(sakd_meta_number(&m, "cpu_s"), 0.0);
        ck_assert_str_eq(sakd_meta_get(&m, "config_hash"), s.runs[i].id);
        /* Two runs at once share the CPUs: each got half of them (at least 1), unless the
         * environment had set its threads already. */
        const char *vars[] = {"SAKD_BLAS_THREADS", "POCL_MAX_PTHREAD_COUNT", "OMP_NUM_THREADS"};
        for (size_t k = 0; k < 3; k++) {
            char key[64], want[32];
            snprintf(key, sizeof key, "env.%s", vars[k]);
            const char *set = getenv(vars[k]);
            snprintf(want, sizeof want, "%s", set && *set ? set : share_of_cpus(2));
            ck_assert_msg(sakd_meta_get(&m, key) && !strcmp(sakd_meta_get(&m, key), want),
                          "meta.ini %s = %s, want %s", key,
                          sakd_meta_get(&m, key) ? sakd_meta_get(&m, key) : "(none)", want);
        }
        sakd_meta_free(&m);
        const char *files[] = {"config.ini", "meta.ini", "stdout.log"};
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/runs/%s/%s", res, s.runs[i].id, files[k]);
            ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
        }
    }
    snprintf(path, sizeof path, "%s/%s/weights.h5", teachers, s.teachers[0].id);
    ck_assert_int_eq(access(path, F_OK), 0);
    const char *tables[] = {"summary.csv",          "table.csv",           "table.md", "layers.csv",
                            "figures/accuracy.svg", "figures/accuracy.png"};
    for (size_t k = 0; k < 6; k++) {
        snprintf(path, sizeof path, "%s/%s", res, tables[k]);
        ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
    }
    snprintf(path, sizeof path, "%s/summary.csv", res);
    char *summary = read_text(path);
    ck_assert_ptr_nonnull(summary);
    ck_assert_ptr_nonnull(strstr(summary, "other_load"));
    free(summary);
    /* Again: the done runs and the teacher are skipped, the failed ones retried. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers), 1);
    EXPECT_IN_OUTPUT("0 done now, 2 done before, 2 failed");
    ck_assert_ptr_null(strstr(out, "training in"));
    sakd_meta m;
    meta_of(res, s.runs[1].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "attempts"), "2");
    sakd_meta_free(&m);
    /* A sweep of ANNs over seeds whose seed-1 run is the teacher's config copies the teacher
     * instead of training it again. */
    char text[1024], anns[PATH_MAX + 16], anns_out[PATH_MAX + 16];
    snprintf(text, sizeof text,
             "[model]\narch = ann\nwidth = 0.0625\n[data]\ntrain_limit = 32\ntest_limit = 16\n"
             "[train]\nepochs = 1\nbatch = 16\n[sweep]\nname = anns\nseeds = 1, 2\n");
    write_file(dir, "anns.ini", text);
    snprintf(anns, sizeof anns, "%s/anns.ini", dir);
    snprintf(anns_out, sizeof anns_out, "%s/anns", dir);
    ck_assert_int_eq(RUN(NULL, "sweep", anns, "--out", anns_out), 0);
    EXPECT_IN_OUTPUT("1 done now");
    EXPECT_IN_OUTPUT("1 reused from other sweeps");
    EXPECT_IN_OUTPUT(s.teachers[0].id);
    /* Results kept without weights (a clone of committed results): the teacher is trained
     * again before the runs that distill from it, not taken as done. */
    snprintf(path, sizeof path, "%s/%s/weights.h5", teachers, s.teachers[0].id);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_str_eq(s.runs[2].values[0], "teacher");
    ck_assert_str_eq(s.runs[2].values[1], "fashion-mnist");
    snprintf(path, sizeof path, "%s/runs/%s", res, s.runs[2].id);
    test_rmtree(path); /* the fashion-mnist run that distils: to be trained again */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers), 1);
    EXPECT_IN_OUTPUT("without its weights.h5: training it again");
    EXPECT_IN_OUTPUT("1 done now, 1 done before, 2 failed");
    snprintf(path, sizeof path, "%s/%s/weights.h5", teachers, s.teachers[0].id);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* trained from scratch: the attempts that made the lost weights do not count */
    snprintf(path, sizeof path, "%s/%s/meta.ini", teachers, s.teachers[0].id);
    TEST_OK(sakd_meta_read(&m, path));
    ck_assert_str_eq(sakd_meta_get(&m, "attempts"), "1");
    ck_assert_msg(fabs(sakd_meta_number(&m, "wall_s") - sakd_meta_number(&m, "attempt_wall_s")) <
                      0.01,
                  "wall_s %s is not the one attempt's %s", sakd_meta_get(&m, "wall_s"),
                  sakd_meta_get(&m, "attempt_wall_s"));
    sakd_meta_free(&m);
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_sweep_resume_killed_run)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], text[1024], path[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text,
             "[model]\nwidth = 0.0625\nT = 1\n[data]\ntrain_limit = 64\ntest_limit = 16\n"
             "[train]\nepochs = 6\nbatch = 16\n[sweep]\nseeds = 1, 2\n");
    write_file(dir, "r.ini", text);
    snprintf(file, sizeof file, "%s/r.ini", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .out = res};
    TEST_OK(sakd_sweep_load(&s, &o));
    const char *bin = getenv("SAKD_BIN") ? getenv("SAKD_BIN") : "./sakd";
    pid_t sweep = fork();
    ck_assert_int_ge(sweep, 0);
    if (sweep == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, "sweep", file, "--out", res, (char *)NULL);
        _exit(127);
    }
    /* Wait for run 0's first checkpoint (weights.h5, written after log.csv), then kill it. */
    char log_path[PATH_MAX + 64], ckpt[PATH_MAX + 64];
    snprintf(log_path, sizeof log_path, "%s/runs/%s/log.csv", res, s.runs[0].id);
    snprintf(ckpt, sizeof ckpt, "%s/runs/%s/weights.h5", res, s.runs[0].id);
    long child = 0;
    for (int i = 0; i < 6000 && !child; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        if (access(ckpt, F_OK) != 0)
            continue;
        sakd_meta m;
        snprintf(path, sizeof path, "%s/runs/%s/meta.ini", res, s.runs[0].id);
        if (sakd_meta_read(&m, path) == SAKD_OK) {
            const char *pid = sakd_meta_get(&m, "pid");
            if (pid && *pid)
                child = strtol(pid, NULL, 10);
            sakd_meta_free(&m);
        }
    }
    ck_assert_msg(child > 0, "run 0 never wrote its first epoch");
    ck_assert_int_eq(kill((pid_t)child, SIGKILL), 0);
    int ws;
    ck_assert_int_eq(waitpid(sweep, &ws, 0), sweep);
    ck_assert(WIFEXITED(ws));
    ck_assert_int_eq(WEXITSTATUS(ws), 1); /* one run interrupted */
    sakd_meta m;
    meta_of(res, s.runs[0].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "interrupted");
    double first = sakd_meta_number(&m, "wall_s");
    ck_assert_double_gt(first, 0.0);
    sakd_meta_free(&m);
    meta_of(res, s.runs[1].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "done"); /* the sweep went on */
    sakd_meta_free(&m);
    /* Again: run 0 resumes from its checkpoint; run 1 is skipped. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res), 0);
    EXPECT_IN_OUTPUT("1 done now, 1 done before, 0 failed");
    snprintf(path, sizeof path, "%s/runs/%s/stdout.log", res, s.runs[0].id);
    char *log = read_text(path);
    ck_assert_ptr_nonnull(strstr(log, "resuming the unfinished run"));
    free(log);
    meta_of(res, s.runs[0].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
    /* wall_s: both attempts; attempt_wall_s: the last one */
    double last = sakd_meta_number(&m, "attempt_wall_s"), total = sakd_meta_number(&m, "wall_s");
    ck_assert_msg(last > 0 && fabs(total - (first + last)) < 0.01,
                  "wall_s %g is not the first attempt's %g + the last's %g", total, first, last);
    sakd_meta_free(&m);
    char *csv = read_text(log_path);
    size_t lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    ck_assert_uint_eq(lines, 7); /* header + 6 epochs */
    free(csv);
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

/* An attempt killed outright with its sweep (a session's end: no `end`, status still running)
 * recorded no wall time of its own; the next attempt counts it from its start to the last file it
 * wrote. One that ended (interrupted) keeps the wall_s it wrote. Both faked here with a meta.ini
 * and a stdout.log of known times. */
START_TEST(test_sweep_counts_attempt_killed_with_sweep)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], text[1024], path[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s[sweep]\nseeds = 1, 2\n", tiny);
    write_file(dir, "k.ini", text);
    snprintf(file, sizeof file, "%s/k.ini", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .out = res};
    TEST_OK(sakd_sweep_load(&s, &o));
    /* started 1000 s ago, last wrote 137 s after its start, 40.5 s of attempts before it */
    time_t start = time(NULL) - 1000;
    struct tm tm;
    char when[32];
    gmtime_r(&start, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *status[2] = {"running", "interrupted"};
    const char *end[2] = {"", when};
    for (int r = 0; r < 2; r++) {
        char rundir[PATH_MAX + 64];
        snprintf(rundir, sizeof rundir, "%s/runs", res);
        ck_assert(mkdir(res, 0755) == 0 || errno == EEXIST);
        ck_assert(mkdir(rundir, 0755) == 0 || errno == EEXIST);
        snprintf(rundir, sizeof rundir, "%s/runs/%s", res, s.runs[r].id);
        ck_assert_int_eq(mkdir(rundir, 0755), 0);
        snprintf(text, sizeof text,
                 "id = %s\nrole = run\nstatus = %s\nstart = %s\nend = %s\nwall_s = 40.5\n"
                 "attempts = 2\n",
                 s.runs[r].id, status[r], when, end[r]);
        write_file(rundir, "meta.ini", text);
        write_file(rundir, "stdout.log", "==== the killed attempt\n");
        snprintf(path, sizeof path, "%s/stdout.log", rundir);
        struct timespec times[2] = {{start + 137, 0}, {start + 137, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    }
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res), 0);
    EXPECT_IN_OUTPUT("2 done now, 0 done before, 0 failed");
    const double before[2] = {40.5 + 137, 40.5};
    for (int r = 0; r < 2; r++) {
        sakd_meta m;
        meta_of(res, s.runs[r].id, &m);
        ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
        ck_assert_str_eq(sakd_meta_get(&m, "attempts"), "3");
        double last = sakd_meta_number(&m, "attempt_wall_s"),
               total = sakd_meta_number(&m, "wall_s");
        ck_assert_msg(last > 0 && fabs(total - (before[r] + last)) < 0.01,
                      "run %d (%s before): wall_s %g is not %g before + %g", r, status[r], total,
                      before[r], last);
        sakd_meta_free(&m);
    }
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

static int same_bytes(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    TEST_OK(sakd_file_read(a, &x, &nx));
    TEST_OK(sakd_file_read(b, &y, &ny));
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

START_TEST(test_sweep_reuses_twin_runs)
{
    /* Two sweeps side by side share one cell (the defaults: triangle surrogate, T = 1): the
     * second copies it from the first instead of training it, with its own axis values and
     * the source named; --no-reuse trains it again. */
    char dir[PATH_MAX], fa[PATH_MAX + 16], fb[PATH_MAX + 16], ra[PATH_MAX + 16], rb[PATH_MAX + 16],
        rc[PATH_MAX + 16], text[1024], pa[PATH_MAX + 128], pb[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s[sweep]\nname = a\nmodel.surrogate = triangle, atan\n", tiny);
    write_file(dir, "a.ini", text);
    snprintf(text, sizeof text, "%s[sweep]\nname = b\nmodel.T = 2, 1\n", tiny);
    write_file(dir, "b.ini", text);
    snprintf(fa, sizeof fa, "%s/a.ini", dir);
    snprintf(fb, sizeof fb, "%s/b.ini", dir);
    snprintf(ra, sizeof ra, "%s/res/a", dir);
    snprintf(rb, sizeof rb, "%s/res/b", dir);
    snprintf(rc, sizeof rc, "%s/res/c", dir);
    sakd_sweep sa, sb;
    sakd_sweep_options oa = {.path = fa, .out = ra}, ob = {.path = fb, .out = rb};
    TEST_OK(sakd_sweep_load(&sa, &oa));
    TEST_OK(sakd_sweep_load(&sb, &ob));
    const char *twin = sa.runs[0].id;
    ck_assert_str_eq(twin, sb.runs[1].id); /* the same resolved config, the same id */
    ck_assert_str_ne(sa.runs[1].id, sb.runs[0].id);
    ck_assert_int_eq(RUN(NULL, "sweep", fa, "--out", ra), 0);
    EXPECT_IN_OUTPUT("2 done now");
    /* The source as an older sakd wrote it, without a key added since at its default, and
     * once resumed (train.resume names its checkpoint): still the same config. */
    snprintf(pa, sizeof pa, "%s/runs/%s/config.ini", ra, twin);
    char *old = read_text(pa), *line = strstr(old, "\ndropout = auto\n");
    ck_assert_ptr_nonnull(line);
    memmove(line + 1, line + strlen("\ndropout = auto\n"),
            strlen(line + strlen("\ndropout = auto\n")) + 1);
    char *resume = strstr(old, "\nresume =\n");
    ck_assert_ptr_nonnull(resume);
    *resume = '\0';
    FILE *f = fopen(pa, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\nresume = %s/runs/%s/weights.h5\n%s", old, ra, twin,
            resume + strlen("\nresume =\n"));
    fclose(f);
    free(old);
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", rb, "--dry-run"), 0);
    EXPECT_IN_OUTPUT("would be copied from");
    EXPECT_IN_OUTPUT("would run");
    ck_assert_int_ne(access(rb, F_OK), 0);
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", rb), 0);
    EXPECT_IN_OUTPUT("1 done now");
    EXPECT_IN_OUTPUT("1 reused from other sweeps");
    EXPECT_IN_OUTPUT("the same run as");
    sakd_meta ma, mb;
    meta_of(ra, twin, &ma);
    meta_of(rb, twin, &mb);
    ck_assert_str_eq(sakd_meta_get(&mb, "status"), "done");
    ck_assert_str_eq(sakd_meta_get(&mb, "sweep"), "b");
    ck_assert_str_eq(sakd_meta_get(&mb, "index"), "1");
    ck_assert_str_eq(sakd_meta_get(&mb, "axes"), "model.T");
    ck_assert_str_eq(sakd_meta_get(&mb, "axis.model.T"), "1");
    ck_assert_ptr_null(sakd_meta_get(&mb, "axis.model.surrogate"));
    ck_assert_ptr_nonnull(strstr(sakd_meta_get(&mb, "reused_from"), "/a/runs/"));
    /* the provenance is the source's: when, where and with what it was trained */
    const char *kept[] = {"start", "end", "wall_s", "git", "opencl_device", "attempts"};
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++)
        ck_assert_str_eq(sakd_meta_get(&mb, kept[k]), sakd_meta_get(&ma, kept[k]));
    sakd_meta_free(&ma);
    sakd_meta_free(&mb);
    const char *same[] = {"weights.h5", "report.ini", "log.csv"};
    for (size_t k = 0; k < 3; k++) {
        snprintf(pa, sizeof pa, "%s/runs/%s/%s", ra, twin, same[k]);
        snprintf(pb, sizeof pb, "%s/runs/%s/%s", rb, twin, same[k]);
        ck_assert_msg(same_bytes(pa, pb), "%s differs from its source", pb);
    }
    snprintf(pb, sizeof pb, "%s/runs/%s/config.ini", rb, twin);
    char *cfg = read_text(pb);
    snprintf(pa, sizeof pa, "out = %s/runs/%s\n", rb, twin);
    ck_assert_msg(strstr(cfg, pa) != NULL, "config.ini does not name its own run:\n%s", cfg);
    free(cfg);
    snprintf(pb, sizeof pb, "%s/runs/%s/stdout.log", rb, twin);
    cfg = read_text(pb);
    ck_assert_ptr_nonnull(strstr(cfg, "reused by sweep b"));
    free(cfg);
    /* the tables of b hold both of its cells */
    snprintf(pb, sizeof pb, "%s/summary.csv", rb);
    cfg = read_text(pb);
    ck_assert_ptr_nonnull(strstr(cfg, twin));
    ck_assert_ptr_nonnull(strstr(cfg, sb.runs[0].id));
    free(cfg);
    /* a third copy names the run that was trained, whichever copy it was made from */
    char rd[PATH_MAX + 16];
    snprintf(rd, sizeof rd, "%s/res/d", dir);
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", rd), 0);
    EXPECT_IN_OUTPUT("2 reused from other sweeps");
    sakd_meta md;
    meta_of(rd, twin, &md);
    ck_assert_ptr_nonnull(strstr(sakd_meta_get(&md, "reused_from"), "/a/runs/"));
    sakd_meta_free(&md);
    /* --no-reuse: trained again */
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", rc, "--no-reuse"), 0);
    EXPECT_IN_OUTPUT("2 done now");
    EXPECT_IN_OUTPUT("0 reused from other sweeps");
    sakd_meta mc;
    meta_of(rc, twin, &mc);
    ck_assert_ptr_null(sakd_meta_get(&mc, "reused_from"));
    sakd_meta_free(&mc);
    /* A twin another process is training (its lock held, status running) is neither trained
     * again nor copied half-done: skipped as running elsewhere; once done, a later sweep
     * copies it. Without the lock the same status is a stale one: the run trains. */
    char re[PATH_MAX + 16], lockp[PATH_MAX + 128], metap[PATH_MAX + 128];
    snprintf(re, sizeof re, "%s/res/e", dir);
    test_rmtree(rb); /* a's run the only twin left */
    test_rmtree(rc);
    test_rmtree(rd);
    snprintf(metap, sizeof metap, "%s/runs/%s/meta.ini", ra, twin);
    snprintf(lockp, sizeof lockp, "%s/runs/%s/.lock", ra, twin);
    sakd_meta mr;
    TEST_OK(sakd_meta_read(&mr, metap));
    TEST_OK(sakd_meta_set(&mr, "status", "running"));
    TEST_OK(sakd_meta_write(&mr, metap, "test"));
    int held = open(lockp, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(held, 0);
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", re, "--dry-run"), 0);
    EXPECT_IN_OUTPUT("would wait: the same run is running in another process");
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", re), 0);
    EXPECT_IN_OUTPUT("the same run is running in another process");
    EXPECT_IN_OUTPUT("1 done now");
    EXPECT_IN_OUTPUT("1 running elsewhere");
    EXPECT_IN_OUTPUT("0 reused from other sweeps");
    snprintf(pb, sizeof pb, "%s/runs/%s/meta.ini", re, twin);
    ck_assert_int_ne(access(pb, F_OK), 0);
    TEST_OK(sakd_meta_set(&mr, "status", "done"));
    TEST_OK(sakd_meta_write(&mr, metap, "test"));
    close(held);
    sakd_meta_free(&mr);
    ck_assert_int_eq(RUN(NULL, "sweep", fb, "--out", re), 0);
    EXPECT_IN_OUTPUT("1 reused from other sweeps");
    meta_of(re, twin, &mc);
    ck_assert_str_eq(sakd_meta_get(&mc, "status"), "done");
    ck_assert_ptr_nonnull(strstr(sakd_meta_get(&mc, "reused_from"), "/a/runs/"));
    sakd_meta_free(&mc);
    sakd_sweep_free(&sa);
    sakd_sweep_free(&sb);
    test_rmtree(dir);
}
END_TEST

/* A run beside a process that keeps a CPU busy throughout is recorded as such: its other_load
 * (the CPUs busy with other work, on average) is well above 0, its own CPU time apart. */
START_TEST(test_sweep_records_other_work)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], text[1024];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s[sweep]\nname = load\nseeds = 1\n", tiny);
    write_file(dir, "l.ini", text);
    snprintf(file, sizeof file, "%s/l.ini", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    pid_t spinner = fork();
    ck_assert_int_ge(spinner, 0);
    if (spinner == 0) {
        volatile unsigned long spin = 0;
        for (;;)
            spin++;
    }
    int rc = RUN(NULL, "sweep", file, "--out", res);
    kill(spinner, SIGKILL);
    waitpid(spinner, NULL, 0);
    ck_assert_msg(rc == 0, "the sweep failed:\n%s", out);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .out = res};
    TEST_OK(sakd_sweep_load(&s, &o));
    sakd_meta m;
    meta_of(res, s.runs[0].id, &m);
    double load = sakd_meta_number(&m, "other_load"), cpu = sakd_meta_number(&m, "cpu_s"),
           wall = sakd_meta_number(&m, "wall_s");
    ck_assert_msg(load > 0.3, "other_load %g beside a busy CPU (cpu_s %g, wall_s %g)", load, cpu,
                  wall);
    ck_assert_msg(cpu > 0 && wall > 0, "cpu_s %g wall_s %g", cpu, wall);
    sakd_meta_free(&m);
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

/* A sweep `name` of tiny SNNs over `seeds` that distil from a tiny ANN teacher, written into
 * dir (teacher.ini, <name>.ini), loaded into *s with its file, results and teachers paths. */
static void teacher_sweep(const char *dir, const char *name, const char *seeds, sakd_sweep *s,
                          char *file, char *res, char *teachers, size_t size)
{
    char text[2048], ini[64];
    snprintf(text, sizeof text,
             "[model]\narch = ann\nwidth = 0.0625\n[data]\ntrain_limit = 32\n"
             "test_limit = 16\n[train]\nepochs = 1\nbatch = 16\n");
    write_file(dir, "teacher.ini", text);
    snprintf(text, sizeof text, "%s[sweep]\nname = %s\nteacher = teacher.ini\nseeds = %s\n", tiny,
             name, seeds);
    snprintf(ini, sizeof ini, "%s.ini", name);
    write_file(dir, ini, text);
    snprintf(file, size, "%s/%s", dir, ini);
    snprintf(res, size, "%s/res", dir);
    snprintf(teachers, size, "%s/teachers", dir);
    sakd_sweep_options o = {.path = file, .out = res, .teachers = teachers};
    TEST_OK(sakd_sweep_load(s, &o));
    ck_assert_uint_eq(s->n_teachers, 1);
}

/* --no-wait: while another process trains the teacher (its lock held), the runs that distill
 * from it are skipped as running elsewhere, not waited for; once it is free, they run. */
START_TEST(test_sweep_no_wait_for_busy_teacher)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], teachers[PATH_MAX + 16],
        lockp[PATH_MAX + 64];
    test_tempdir(dir, sizeof dir);
    sakd_sweep s;
    teacher_sweep(dir, "nw", "1, 2", &s, file, res, teachers, sizeof file);
    char tdir[PATH_MAX + 32];
    snprintf(tdir, sizeof tdir, "%s/%s", teachers, s.teachers[0].id);
    ck_assert_int_eq(mkdir(teachers, 0755), 0);
    ck_assert_int_eq(mkdir(tdir, 0755), 0);
    snprintf(lockp, sizeof lockp, "%s/.lock", tdir);
    int held = open(lockp, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(held, 0);
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    int rc = RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers, "--no-wait");
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    EXPECT_IN_OUTPUT("another process is training it; its runs are skipped");
    EXPECT_IN_OUTPUT("0 done now, 0 done before, 0 failed, 0 interrupted, 2 running elsewhere");
    for (size_t i = 0; i < s.n_runs; i++) {
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%s/runs/%s/meta.ini", res, s.runs[i].id);
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    close(held);
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers, "--no-wait"),
                     0);
    EXPECT_IN_OUTPUT("training in");
    EXPECT_IN_OUTPUT("2 done now");
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_slurm_script_and_only)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], text[1024], path[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s[sweep]\nmodel.T = 1, 2\nseeds = 1, 2\n", tiny);
    write_file(dir, "j.ini", text);
    snprintf(file, sizeof file, "%s/j.ini", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--slurm", "-j", "3"), 0);
    snprintf(path, sizeof path, "%s/slurm/array.sbatch", res);
    char *script = read_text(path);
    ck_assert_ptr_nonnull(script);
    ck_assert_ptr_nonnull(strstr(script, "#SBATCH --array=0-3%3\n"));
    ck_assert_ptr_nonnull(strstr(script, "%A_%a.out"));
    ck_assert_ptr_nonnull(strstr(script, "--only \"$SLURM_ARRAY_TASK_ID\""));
    ck_assert_ptr_nonnull(strstr(script, "sweep '"));
    free(script);
    snprintf(path, sizeof path, "%s/slurm/submit.sh", res);
    script = read_text(path);
    ck_assert_ptr_nonnull(strstr(script, "--dependency=afterany:"));
    ck_assert_ptr_nonnull(strstr(script, "collect.sbatch"));
    free(script);
    snprintf(path, sizeof path, "%s/slurm/collect.sbatch", res);
    script = read_text(path);
    ck_assert_ptr_nonnull(strstr(script, " collect '"));
    free(script);
    /* One array task, executed here: it runs run 2 only. */
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .out = res};
    TEST_OK(sakd_sweep_load(&s, &o));
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=2 sh '%s/slurm/array.sbatch' >/dev/null 2>&1",
             res);
    ck_assert_int_eq(system(cmd), 0);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/runs/%s/meta.ini", res, s.runs[i].id);
        ck_assert_int_eq(access(path, F_OK) == 0, i == 2);
    }
    sakd_meta m;
    meta_of(res, s.runs[2].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
    sakd_meta_free(&m);
    /* --only by id does the same for another run; collect sees two done. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--only", s.runs[0].id), 0);
    ck_assert_int_eq(RUN(NULL, "collect", res), 0);
    EXPECT_IN_OUTPUT("2 runs (2 done");
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--only", "4"), 2);
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

/* Multi-rank runs: --slurm --ntasks N asks Slurm for N tasks a run and starts each run by srun;
 * --launcher puts a command before every child's (here `env SAKD_LAUNCHED=1`, which runs it). */
START_TEST(test_sweep_ranks_and_launcher)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], text[1024], path[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s[sweep]\nseeds = 1, 2\n", tiny);
    write_file(dir, "r.ini", text);
    snprintf(file, sizeof file, "%s/r.ini", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--slurm", "--ntasks", "4"), 0);
    snprintf(path, sizeof path, "%s/slurm/array.sbatch", res);
    char *script = read_text(path);
    ck_assert_ptr_nonnull(script);
    ck_assert_ptr_nonnull(strstr(script, "#SBATCH --ntasks=4\n"));
    ck_assert_ptr_nonnull(strstr(script, " --launcher srun "));
    free(script);
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--ntasks", "2"), 2);
    EXPECT_IN_OUTPUT("--ntasks goes with --slurm");
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--slurm", "--launcher", "srun"), 2);
    ck_assert_int_eq(
        RUN(NULL, "sweep", file, "--out", res, "--only", "0", "--launcher", "env SAKD_LAUNCHED=1"),
        0);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .out = res};
    TEST_OK(sakd_sweep_load(&s, &o));
    sakd_meta m;
    meta_of(res, s.runs[0].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
    ck_assert_ptr_nonnull(strstr(sakd_meta_get(&m, "run_command"), "env SAKD_LAUNCHED=1 /"));
    sakd_meta_free(&m);
    /* A launcher that does not exist fails the run with a message, and the sweep goes on. */
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--only", "1", "--launcher",
                         "/nonexistent/mpirun -np 2"),
                     1);
    meta_of(res, s.runs[1].id, &m);
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "failed");
    ck_assert_ptr_nonnull(strstr(sakd_meta_get(&m, "error"), "/nonexistent/mpirun"));
    sakd_meta_free(&m);
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

/* --teacher-weights: a teacher whose results are kept without weights.h5 takes a given
 * checkpoint of the same config instead of training again; a checkpoint of another config is
 * passed over, and one that is not a checkpoint stops the sweep with its name, the teacher's
 * directory untouched. */
START_TEST(test_sweep_teacher_weights)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], res[PATH_MAX + 16], teachers[PATH_MAX + 16],
        tw[PATH_MAX + 64], kept[PATH_MAX + 16], student[PATH_MAX + 16], bad[PATH_MAX + 16],
        path[PATH_MAX + 128];
    test_tempdir(dir, sizeof dir);
    sakd_sweep s;
    teacher_sweep(dir, "tw", "1", &s, file, res, teachers, sizeof file);
    ck_assert_uint_eq(s.n_runs, 1);
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers), 0);
    snprintf(tw, sizeof tw, "%s/%s/weights.h5", teachers, s.teachers[0].id);
    snprintf(kept, sizeof kept, "%s/kept.h5", dir);
    snprintf(student, sizeof student, "%s/student.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    char *data;
    size_t n;
    TEST_OK(sakd_file_read(tw, &data, &n));
    TEST_OK(sakd_file_write_atomic(kept, data, n));
    free(data);
    snprintf(path, sizeof path, "%s/runs/%s/weights.h5", res, s.runs[0].id);
    TEST_OK(sakd_file_read(path, &data, &n));
    TEST_OK(sakd_file_write_atomic(student, data, n));
    free(data);
    TEST_OK(sakd_file_write_atomic(bad, "not a checkpoint\n", 17));
    /* The state of a clone of committed results: the teacher done, no weights, the run that
     * distils from it to do. */
    ck_assert_int_eq(unlink(tw), 0);
    snprintf(path, sizeof path, "%s/runs/%s", res, s.runs[0].id);
    test_rmtree(path);
    ck_assert_int_eq(RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers, "--dry-run",
                         "--teacher-weights", student, "--teacher-weights", kept),
                     0);
    EXPECT_IN_OUTPUT("would take its weights from");
    EXPECT_IN_OUTPUT(kept);
    ck_assert_int_ne(access(tw, F_OK), 0);
    int rc =
        RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers, "--teacher-weights", bad);
    ck_assert_msg(rc != 0, "a file that is not a checkpoint was accepted:\n%s", out);
    EXPECT_IN_OUTPUT(bad);
    ck_assert_int_ne(access(tw, F_OK), 0);
    sakd_meta m;
    snprintf(path, sizeof path, "%s/%s/meta.ini", teachers, s.teachers[0].id);
    sakd_meta_init(&m);
    TEST_OK(sakd_meta_read(&m, path));
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
    ck_assert_ptr_null(sakd_meta_get(&m, "weights_from"));
    sakd_meta_free(&m);
    /* The student's checkpoint (another config) is passed over, the teacher's taken. */
    rc = RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers, "--teacher-weights",
             student, "--teacher-weights", kept);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    EXPECT_IN_OUTPUT("weights.h5 copied from");
    EXPECT_IN_OUTPUT("1 done now");
    ck_assert_ptr_null(strstr(out, "training in"));
    ck_assert_ptr_null(strstr(out, "training it again"));
    ck_assert(same_bytes(tw, kept));
    sakd_meta_init(&m);
    TEST_OK(sakd_meta_read(&m, path));
    ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
    ck_assert_ptr_nonnull(sakd_meta_get(&m, "weights_from"));
    ck_assert_str_eq(sakd_meta_get(&m, "weights_from"), kept);
    sakd_meta_free(&m);
    /* A missing file is refused before anything runs. */
    snprintf(path, sizeof path, "%s/none.h5", dir);
    ck_assert_int_eq(
        RUN(NULL, "sweep", file, "--out", res, "--teachers", teachers, "--teacher-weights", path),
        2);
    EXPECT_IN_OUTPUT("none.h5");
    sakd_sweep_free(&s);
    test_rmtree(dir);
}
END_TEST

Suite *suite_sweep(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_expansion_and_ids);
    tcase_add_test(tc, test_csv_roundtrip);
    tcase_add_test(tc, test_collect_partial_and_corrupt);
    tcase_add_test(tc, test_compare_groups);
    tcase_add_test(tc, test_sweep_end_to_end);
    tcase_add_test(tc, test_sweep_resume_killed_run);
    tcase_add_test(tc, test_sweep_counts_attempt_killed_with_sweep);
    tcase_add_test(tc, test_sweep_records_other_work);
    tcase_add_test(tc, test_sweep_no_wait_for_busy_teacher);
    tcase_add_test(tc, test_sweep_teacher_weights);
    tcase_add_test(tc, test_slurm_script_and_only);
    tcase_add_test(tc, test_sweep_ranks_and_launcher);
    tcase_add_test(tc, test_sweep_reuses_twin_runs);
    suite_add_tcase(s, tc);
    return s;
}
