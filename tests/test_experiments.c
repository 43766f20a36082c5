/* test_experiments.c — the shipped sweep files of experiments/: every one loads and expands (at
 * full size and as its smoke variant) into the product of its axes and seeds, mirrors its
 * ablation of DESIGN.md §4, and two smoke sweeps run end to end sharing one teacher. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/meta.h"
#include "harness/sweep.h"
#include "io/checkpoint.h"
#include "testutil.h"

/* What each shipped sweep must be: the paper's ablation as cells (axis combinations), the
 * axis keys in order, and the teachers it trains. */
typedef struct shipped {
    const char *file;
    size_t cells;
    const char *axes; /* the axis keys, space-separated, in file order */
    size_t teachers;
} shipped;

static const shipped experiments[] = {
    {"demo/table7_knowledge.ini", 8, "distill.init_from_teacher distill.gamma distill.beta", 1},
    {"demo/fig7_transform.ini", 4, "distill.transform", 1},
    {"demo/fig8_distance.ini", 9, "distill.distance distill.beta", 1},
    {"demo/table6_position.ini", 4, "distill.position", 1},
    {"demo/fig11_timesteps.ini", 10, "model.T distill.teacher", 1},
    {"demo/fig12_surrogate.ini", 6, "model.surrogate distill.teacher", 1},
    {"demo/fig10_weights.ini", 8, "distill.gamma distill.beta distill.alpha", 1},
    {"demo/table9_arch.ini", 6, "teacher.model.name model.name", 3},
    {"demo/fig13_firing.ini", 2, "distill.teacher", 1},
    {"headline_ann.ini", 1, "", 0},
    {"headline_snn.ini", 1, "", 0},
    {"headline_sakd.ini", 4, "distill.alpha distill.init_from_teacher", 1},
    {"headline_table7.ini", 8, "distill.init_from_teacher distill.gamma distill.beta", 1},
    {"headline_fig7.ini", 4, "distill.transform", 1},
    {"headline_fig11.ini", 8, "model.T distill.teacher", 1},
    {"short_fig8.ini", 9, "distill.distance distill.beta", 1},
    {"short_fig12.ini", 6, "model.surrogate distill.teacher", 1},
    {"short_table6.ini", 4, "distill.position", 1},
    {"short_fig10.ini", 8, "distill.gamma distill.beta distill.alpha", 1},
    {"short_table9.ini", 6, "teacher.model.name model.name", 3},
    {"short_table9_base.ini", 2, "model.name", 0},
};
#define N_EXPERIMENTS (sizeof experiments / sizeof experiments[0])

/* The largest smoke run: a test runs smoke sweeps, so these bound its time. */
#define SMOKE_MAX_IMAGES 64
#define SMOKE_MAX_WIDTH 0.0625
/* The smoke runs take a few seconds each on a quiet 2-core CPU; a loaded machine stretches
 * that several times. A run over this bound means the smoke variant no longer is one. */
#define SMOKE_MAX_RUN_S 90.0

static char out[1 << 17];

#define RUN(...) test_run_sakd(NULL, (const char *const[]){__VA_ARGS__, NULL}, out, sizeof out)

static void experiment_path(const char *file, char *path, size_t size)
{
    snprintf(path, size, "%s/experiments/%s", SAKD_SRCDIR, file);
}

/* Does the INI file have a [sweep] section? */
static bool has_sweep_section(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = !strncmp(line, "[sweep]", 7);
    fclose(f);
    return found;
}

START_TEST(test_every_sweep_file_is_listed)
{
    /* Every .ini of experiments/ and experiments/demo/ with a [sweep] section is in the table
     * above, and back. */
    static const char *const dirs[] = {"", "demo/"};
    size_t found = 0;
    for (size_t k = 0; k < 2; k++) {
        char dir[PATH_MAX], path[PATH_MAX + 256], name[300];
        snprintf(dir, sizeof dir, "%s/experiments/%s", SAKD_SRCDIR, dirs[k]);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "cannot open %s", dir);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 4, ".ini"))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (!has_sweep_section(path))
                continue;
            snprintf(name, sizeof name, "%s%s", dirs[k], e->d_name);
            bool listed = false;
            for (size_t i = 0; i < N_EXPERIMENTS; i++)
                listed |= !strcmp(experiments[i].file, name);
            ck_assert_msg(listed, "%s is a sweep file this test does not know", path);
            found++;
        }
        closedir(d);
    }
    ck_assert_uint_eq(found, N_EXPERIMENTS);
}
END_TEST

/* Is the shipped sweep `file` one of the demonstration size's (experiments/demo/)? */
static bool is_demo(const char *file)
{
    return !strncmp(file, "demo/", 5);
}

/* Loads one shipped sweep and checks its expansion against its table entry. */
static void check_expansion(const shipped *x, bool smoke, const char *res)
{
    char file[PATH_MAX], o_out[PATH_MAX + 64], o_teachers[PATH_MAX + 64];
    experiment_path(x->file, file, sizeof file);
    snprintf(o_out, sizeof o_out, "%s/%s", res, x->file);
    snprintf(o_teachers, sizeof o_teachers, "%s/teachers", res);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .smoke = smoke, .out = o_out, .teachers = o_teachers};
    TEST_OK(sakd_sweep_load(&s, &o));
    const char *variant = smoke ? "smoke" : "full";
    /* The axes, in order. */
    char keys[512] = "";
    size_t used = 0, product = 1;
    for (size_t a = 0; a < s.n_axes; a++) {
        used +=
            (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", a ? " " : "", s.axes[a].key);
        product *= s.axes[a].n_values;
    }
    ck_assert_msg(!strcmp(keys, x->axes), "%s: axes `%s`, expected `%s`", x->file, keys, x->axes);
    ck_assert_msg(product == x->cells, "%s: %zu cells, expected %zu", x->file, product, x->cells);
    ck_assert_msg(s.n_seeds >= 1 && (!smoke || s.n_seeds == 1), "%s (%s): %zu seeds", x->file,
                  variant, s.n_seeds);
    ck_assert_msg(s.n_runs == product * s.n_seeds, "%s (%s): %zu runs, expected %zu x %zu", x->file,
                  variant, s.n_runs, product, s.n_seeds);
    ck_assert_msg(s.n_teachers == x->teachers, "%s (%s): %zu teachers, expected %zu", x->file,
                  variant, s.n_teachers, x->teachers);
    for (size_t i = 0; i < s.n_runs; i++) {
        const sakd_sweep_run *r = &s.runs[i];
        const sakd_config *c = &r->cfg;
        /* A run distils exactly when its sweep has a teacher and its teacher axis (if any)
         * says so. */
        bool baseline = x->teachers == 0;
        for (size_t a = 0; a < s.n_axes; a++)
            baseline |= !strcmp(s.axes[a].key, "distill.teacher") && !strcmp(r->values[a], "none");
        /* Table 7's all-off cell uses nothing of the teacher: the directly trained run. */
        bool all_off = true;
        for (size_t a = 0; a < s.n_axes; a++)
            all_off &= (!strcmp(s.axes[a].key, "distill.init_from_teacher") &&
                        !strcmp(r->values[a], "false")) ||
                       ((!strcmp(s.axes[a].key, "distill.gamma") ||
                         !strcmp(s.axes[a].key, "distill.beta")) &&
                        !strcmp(r->values[a], "0"));
        baseline |= s.n_axes == 3 && all_off;
        ck_assert_msg((r->teacher < 0) == baseline && (c->distill.teacher[0] == '\0') == baseline,
                      "%s: run %zu distils %s", x->file, i, baseline ? "but should not" : "not");
        ck_assert_int_eq(c->data.dataset, SAKD_DATASET_FASHION_MNIST);
        if (smoke) {
            ck_assert_msg(c->data.train_limit > 0 && c->data.train_limit <= SMOKE_MAX_IMAGES &&
                              c->data.test_limit > 0 && c->data.test_limit <= SMOKE_MAX_IMAGES &&
                              c->train.epochs == 1 && c->model.width <= SMOKE_MAX_WIDTH,
                          "%s: smoke run %zu is not small: %lld/%lld images, %d epochs, width %g",
                          x->file, i, c->data.train_limit, c->data.test_limit, c->train.epochs,
                          c->model.width);
        } else {
            /* The shipped size: a subset that learns for several epochs, or all of it (the
             * one-epoch size), not the smoke size; the numbers of the headline and one-epoch
             * sizes come from the whole test set. */
            ck_assert_msg((c->data.train_limit == 0 && c->train.epochs >= 1) ||
                              (c->data.train_limit > SMOKE_MAX_IMAGES && c->train.epochs >= 2),
                          "%s: run %zu is smoke-sized at full size", x->file, i);
            if (!is_demo(x->file))
                ck_assert_msg(c->data.train_limit == 0 && c->data.test_limit == 0,
                              "%s: run %zu subsamples the data", x->file, i);
        }
    }
    for (size_t t = 0; t < s.n_teachers; t++) {
        const sakd_config *c = &s.teachers[t].cfg;
        ck_assert_int_eq(c->model.arch, SAKD_ARCH_ANN);
        ck_assert_msg(!smoke || (c->data.train_limit <= SMOKE_MAX_IMAGES && c->train.epochs == 1),
                      "%s: the smoke teacher is not small", x->file);
    }
    sakd_sweep_free(&s);
}

START_TEST(test_shipped_expansions)
{
    char res[PATH_MAX];
    test_tempdir(res, sizeof res);
    for (size_t i = 0; i < N_EXPERIMENTS; i++) {
        check_expansion(&experiments[i], false, res);
        check_expansion(&experiments[i], true, res);
    }
    /* The sweeps whose teacher does not vary share one per size: the demonstration size's
     * (experiments/demo/teacher.ini), and the headline teacher for the headline and one-epoch
     * sizes; each is trained once. The demonstration sweeps write under results/demo/. */
    char ids[2][13] = {"", ""}, file[PATH_MAX];
    for (size_t i = 0; i < N_EXPERIMENTS; i++) {
        experiment_path(experiments[i].file, file, sizeof file);
        sakd_sweep s;
        sakd_sweep_options o = {.path = file};
        TEST_OK(sakd_sweep_load(&s, &o));
        const char *base = strrchr(experiments[i].file, '/');
        char want[PATH_MAX];
        snprintf(want, sizeof want, "results/%s%.*s", is_demo(experiments[i].file) ? "demo/" : "",
                 (int)strlen(base ? base + 1 : experiments[i].file) - 4,
                 base ? base + 1 : experiments[i].file);
        ck_assert_msg(!strcmp(s.out, want), "%s writes to %s, not %s", experiments[i].file, s.out,
                      want);
        if (experiments[i].teachers == 1) {
            char *id = ids[is_demo(experiments[i].file)];
            if (!id[0])
                memcpy(id, s.teachers[0].id, 13);
            ck_assert_msg(!strcmp(id, s.teachers[0].id), "%s trains teacher %s, the others %s",
                          experiments[i].file, s.teachers[0].id, id);
        }
        sakd_sweep_free(&s);
    }
    ck_assert_str_ne(ids[0], ids[1]);
    /* The headline ANN sweep's seed-1 run is the headline SAKD sweep's teacher (copied, not
     * trained twice): the same resolved config, the same id. */
    sakd_sweep ann, sakd;
    char ann_file[PATH_MAX];
    experiment_path("headline_ann.ini", ann_file, sizeof ann_file);
    experiment_path("headline_sakd.ini", file, sizeof file);
    sakd_sweep_options oa = {.path = ann_file, .out = res}, os = {.path = file, .out = res};
    TEST_OK(sakd_sweep_load(&ann, &oa));
    TEST_OK(sakd_sweep_load(&sakd, &os));
    ck_assert_str_eq(ann.runs[0].id, sakd.teachers[0].id);
    /* The shipped checkpoint experiments/quick/teacher/weights.h5 is that teacher, trained to
     * the end (experiments/headline.sh gives it to `sakd sweep --teacher-weights`): its stored
     * config resolves to the teacher's id. */
    experiment_path("quick/teacher/weights.h5", ann_file, sizeof ann_file);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, ann_file));
    sakd_ckpt_meta cm;
    memset(&cm, 0, sizeof cm);
    TEST_OK(sakd_checkpoint_read_meta(ck, &cm));
    sakd_checkpoint_close(ck);
    ck_assert_ptr_nonnull(cm.config);
    sakd_config shipped_cfg;
    TEST_OK(sakd_config_init(&shipped_cfg));
    TEST_OK(sakd_config_load_string(&shipped_cfg, cm.config, ann_file));
    sakd_config_resolve(&shipped_cfg);
    char shipped_id[13];
    sakd_config_id(&shipped_cfg, shipped_id);
    ck_assert_str_eq(shipped_id, sakd.teachers[0].id);
    ck_assert_int_eq(cm.epoch, shipped_cfg.train.epochs);
    sakd_config_free(&shipped_cfg);
    sakd_ckpt_meta_free(&cm);
    /* The headline-size ablations share their default cells with the headline sweeps (the
     * same configs, copied by `sakd sweep`): each names the cells it must find there. */
    /* The one-epoch sweeps share their default cell with short_fig8.ini's l2/100 cell. */
    static const struct {
        const char *file;
        const char *cell; /* the run's axis values, space-separated */
        const char *in;   /* the sweep that trains it */
    } shared[] = {
        {"headline_table7.ini", "false 1 100", "headline_sakd.ini"},
        {"headline_table7.ini", "false 0 0", "headline_snn.ini"},
        {"headline_table7.ini", "true 1 100", "headline_sakd.ini"},
        {"headline_fig7.ini", "proj", "headline_sakd.ini"},
        {"headline_fig11.ini", "4 none", "headline_snn.ini"},
        {"headline_fig11.ini", "4 teacher", "headline_sakd.ini"},
        {"short_fig12.ini", "triangle teacher", "short_fig8.ini"},
        {"short_table6.ini", "stage_after_spike", "short_fig8.ini"},
        {"short_fig10.ini", "1 100 0", "short_fig8.ini"},
    };
    for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++) {
        sakd_sweep ab, home_sweep;
        experiment_path(shared[k].file, file, sizeof file);
        sakd_sweep_options oab = {.path = file, .out = res};
        TEST_OK(sakd_sweep_load(&ab, &oab));
        experiment_path(shared[k].in, ann_file, sizeof ann_file);
        sakd_sweep_options oh = {.path = ann_file, .out = res};
        TEST_OK(sakd_sweep_load(&home_sweep, &oh));
        const sakd_sweep *home = &home_sweep;
        size_t found = 0;
        for (size_t i = 0; i < ab.n_runs; i++) {
            char cell[256] = "";
            size_t used = 0;
            for (size_t a = 0; a < ab.n_axes; a++)
                used += (size_t)snprintf(cell + used, sizeof cell - used, "%s%s", a ? " " : "",
                                         ab.runs[i].values[a]);
            if (strcmp(cell, shared[k].cell))
                continue;
            bool same = false;
            for (size_t j = 0; j < home->n_runs && !same; j++)
                same = !strcmp(home->runs[j].id, ab.runs[i].id);
            ck_assert_msg(same, "%s cell '%s' (run %s) is no run of %s", shared[k].file,
                          shared[k].cell, ab.runs[i].id, shared[k].in);
            found++;
        }
        ck_assert_msg(found == ab.n_seeds, "%s has %zu runs of cell '%s'", shared[k].file, found,
                      shared[k].cell);
        sakd_sweep_free(&ab);
        sakd_sweep_free(&home_sweep);
    }
    sakd_sweep_free(&ann);
    sakd_sweep_free(&sakd);
    /* The runs are the smoke ones once more, listed by the command as well. */
    experiment_path("demo/fig8_distance.ini", file, sizeof file);
    ck_assert_int_eq(RUN("sweep", file, "--smoke", "--list", "--out", res), 0);
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, 9);
    test_rmtree(res);
}
END_TEST

/* Runs a shipped smoke sweep and checks every run finished, fast, into the tables; `reused`
 * of them are the same runs as an earlier sweep's, copied. */
static void run_smoke(const char *name, const char *res, const char *teachers, size_t runs,
                      size_t reused, bool teacher_before)
{
    char file[PATH_MAX], dir[PATH_MAX + 64], path[PATH_MAX + 128], want[128];
    experiment_path(name, file, sizeof file);
    snprintf(dir, sizeof dir, "%s/%s", res, name);
    ck_assert_msg(RUN("sweep", file, "--smoke", "-j", "2", "--out", dir, "--teachers", teachers) ==
                      0,
                  "sakd sweep %s --smoke failed:\n%s", name, out);
    snprintf(want, sizeof want, "%zu done now, 0 done before, 0 failed", runs - reused);
    ck_assert_msg(strstr(out, want) != NULL, "%s: output lacks '%s':\n%s", name, want, out);
    snprintf(want, sizeof want, "%zu reused from other sweeps", reused);
    ck_assert_msg(strstr(out, want) != NULL, "%s: output lacks '%s':\n%s", name, want, out);
    /* The second sweep finds the first one's teacher. */
    ck_assert_msg((strstr(out, "training in") == NULL) == teacher_before,
                  "%s: the teacher was %strained:\n%s", name, teacher_before ? "" : "not ", out);
    sakd_sweep s;
    sakd_sweep_options o = {.path = file, .smoke = true, .out = dir, .teachers = teachers};
    TEST_OK(sakd_sweep_load(&s, &o));
    ck_assert_uint_eq(s.n_runs, runs);
    for (size_t i = 0; i < s.n_runs; i++) {
        snprintf(path, sizeof path, "%s/runs/%s/meta.ini", dir, s.runs[i].id);
        sakd_meta m;
        TEST_OK(sakd_meta_read(&m, path));
        ck_assert_str_eq(sakd_meta_get(&m, "status"), "done");
        double wall = strtod(sakd_meta_get(&m, "wall_s"), NULL);
        ck_assert_msg(wall > 0 && wall < SMOKE_MAX_RUN_S, "%s run %zu took %.1f s", name, i, wall);
        sakd_meta_free(&m);
        snprintf(path, sizeof path, "%s/runs/%s/report.ini", dir, s.runs[i].id);
        TEST_OK(sakd_meta_read(&m, path));
        double acc = strtod(sakd_meta_get(&m, "test_acc"), NULL);
        ck_assert_msg(acc >= 0 && acc <= 1, "%s run %zu: test_acc %g", name, i, acc);
        sakd_meta_free(&m);
    }
    sakd_sweep_free(&s);
    const char *tables[] = {"summary.csv", "table.csv", "table.md", "layers.csv"};
    for (size_t k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, tables[k]);
        ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
    }
}

START_TEST(test_smoke_sweeps_run)
{
    char res[PATH_MAX], teachers[PATH_MAX + 16], path[PATH_MAX + 64];
    test_tempdir(res, sizeof res);
    snprintf(teachers, sizeof teachers, "%s/teachers", res);
    run_smoke("demo/fig13_firing.ini", res, teachers, 2, 0, false);
    /* fig7's proj cell is fig13's distilled arm: the same config, trained once */
    run_smoke("demo/fig7_transform.ini", res, teachers, 4, 1, true);
    /* Fig. 13's table: per-layer firing rates of both arms, every one a rate. */
    snprintf(path, sizeof path, "%s/demo/fig13_firing.ini/layers.csv", res);
    char *text = NULL;
    size_t n;
    TEST_OK(sakd_file_read(path, &text, &n));
    size_t rows = 0;
    for (char *p = text; *p; p++)
        rows += *p == '\n';
    ck_assert_msg(rows >= 3, "layers.csv has %zu lines:\n%s", rows, text);
    ck_assert_msg(strstr(text, "none") && strstr(text, "teacher"), "layers.csv lacks an arm:\n%s",
                  text);
    free(text);
    test_rmtree(res);
}
END_TEST

Suite *suite_experiments(void)
{
    Suite *s = suite_create("experiments");
    TCase *tc = tcase_create("experiments");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_every_sweep_file_is_listed);
    tcase_add_test(tc, test_shipped_expansions);
    tcase_add_test(tc, test_smoke_sweeps_run);
    suite_add_tcase(s, tc);
    return s;
}
