/* test_loading.c — checkpoints are loaded strictly and teachers are built from their own
 * description: a teacher of another depth (with /meta, and without it through
 * distill.teacher_model), refusals that name the missing or unexpected tensor on every load
 * path, distillation heads tolerated only where a mode says so, and feature KD across depths
 * (resnet18 <- resnet34 and <- resnet50) against a double-precision evaluation of the proj
 * path. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char dir[PATH_MAX];

static void setup(void)
{
    test_tempdir(dir, sizeof dir);
}

static void teardown(void)
{
    test_rmtree(dir);
}

enum { CLASSES = 3, SIDE = 8, B = 8 };

static void make_config(sakd_config *c, const char *const *overrides)
{
    TEST_OK(sakd_config_init(c));
    const char *base[] = {
        "model.width=0.0625", "model.T=2",           "train.batch=8", "train.epochs=1",
        "data.flip=false",    "data.crop_padding=0", "train.seed=5",  NULL};
    for (const char *const *o = base; *o; o++)
        TEST_OK(sakd_config_override(c, *o, "test"));
    for (const char *const *o = overrides; o && *o; o++)
        TEST_OK(sakd_config_override(c, *o, "test"));
}

static sakd_status new_trainer(const sakd_config *c, const char *out, sakd_trainer **t)
{
    sakd_dataset tr, te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 32, 16, 1, SIDE, SIDE, CLASSES, 9));
    return sakd_trainer_new(t, c, out, &tr, &te, NULL);
}

/* Trains a tiny ANN of `model` into dir/<name> (one epoch) and returns its weights' path. */
static const char *teacher(const char *model, const char *name, char *path, size_t size)
{
    char m[64], out[2 * PATH_MAX];
    snprintf(m, sizeof m, "model.name=%s", model);
    const char *o[] = {m, "model.arch=ann", NULL};
    sakd_config c;
    make_config(&c, o);
    snprintf(out, sizeof out, "%.4000s/%s", dir, name);
    sakd_trainer *t;
    TEST_OK(new_trainer(&c, out, &t));
    sakd_report r;
    TEST_OK(sakd_trainer_run(t, &r));
    sakd_trainer_free(t);
    sakd_config_free(&c);
    snprintf(path, size, "%.4000s/weights.h5", out);
    return path;
}

/* Copies checkpoint `from` to `to`: /model only (no /meta, no /optim), leaving out the tensor
 * named `drop` (every tensor under it when it ends in '.') and adding a zero tensor named `add`
 * (either may be NULL). */
static void copy_model(const char *from, const char *to, const char *drop, const char *add)
{
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, from));
    size_t n = sakd_checkpoint_model_count(ck), k = 0;
    sakd_ckpt_tensor *ts = calloc(n + 1, sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        const sakd_ckpt_tensor *ti = sakd_checkpoint_model_info(ck, i);
        size_t dn = drop ? strlen(drop) : 0;
        if (drop &&
            (drop[dn - 1] == '.' ? strncmp(ti->name, drop, dn) == 0 : strcmp(ti->name, drop) == 0))
            continue;
        ts[k] = *ti;
        size_t m = 1;
        for (int j = 0; j < ti->ndim; j++)
            m *= ti->shape[j];
        ts[k].data = malloc(m * sizeof(float));
        TEST_OK(sakd_checkpoint_read_model(ck, ti->name, ti->ndim, ti->shape, ts[k].data));
        k++;
    }
    sakd_checkpoint_close(ck);
    if (add) {
        snprintf(ts[k].name, sizeof ts[k].name, "%s", add);
        ts[k].ndim = 1;
        ts[k].shape[0] = 4;
        ts[k].data = calloc(4, sizeof(float));
        k++;
    }
    TEST_OK(sakd_checkpoint_write(to, ts, k, NULL, 0, NULL));
    for (size_t i = 0; i < k; i++)
        free(ts[i].data);
    free(ts);
}

static void expect_refusal(sakd_status st, const char *needle, const char *what)
{
    ck_assert_msg(st != SAKD_OK, "%s was accepted", what);
    ck_assert_msg(strstr(sakd_error_detail(), needle) != NULL,
                  "%s: the message \"%s\" does not name %s", what, sakd_error_detail(), needle);
    sakd_error_clear();
}

/* Every teacher tensor equals the file's. */
static void expect_teacher_is(sakd_trainer *t, const char *path)
{
    sakd_model *tm = sakd_trainer_teacher(t);
    ck_assert_ptr_nonnull(tm);
    const sakd_params *p = tm->graph.params;
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, path));
    ck_assert_uint_eq(p->count, sakd_checkpoint_model_count(ck));
    for (size_t i = 0; i < p->count; i++) {
        const sakd_param *e = &p->items[i];
        float *a = malloc(e->numel * sizeof *a), *b = malloc(e->numel * sizeof *b);
        TEST_OK(sakd_checkpoint_read_model(ck, e->name, e->ndim, e->shape, a));
        TEST_OK(sakd_tensor_download(&e->value, b));
        ck_assert_msg(memcmp(a, b, e->numel * sizeof *a) == 0, "teacher %s differs from %s",
                      e->name, path);
        free(a);
        free(b);
    }
    sakd_checkpoint_close(ck);
}

static float *download_all(const sakd_tensor *t)
{
    float *h = malloc(sakd_tensor_numel(t) * sizeof *h);
    TEST_OK(sakd_tensor_download(t, h));
    return h;
}

static float *param(sakd_params *p, const char *name)
{
    long i = sakd_params_find(p, name);
    ck_assert_msg(i >= 0, "no parameter %s", name);
    return download_all(&p->items[i].value);
}

/* The feature loss of one forward, recomputed in double from the student's time-mean at each
 * tap, the proj heads' parameters (conv1x1 Cs -> Ct, train-mode BN, ReLU) and the teacher's
 * features: Σ_k mean((proj(s_k) − t_k)²). */
static double reference_feature_loss(sakd_trainer *t)
{
    sakd_distill *d = sakd_trainer_distill(t);
    sakd_model *tm = sakd_trainer_teacher(t);
    double total = 0.0;
    for (size_t k = 0; k < d->n_taps; k++) {
        const sakd_tap *tp = &d->taps[k];
        const sakd_act *ta = sakd_graph_act_get(&tm->graph, tp->t_id);
        size_t cs = tp->s_mean.shape[1], ct = ta->shape[1], hw = ta->shape[2] * ta->shape[3];
        ck_assert_uint_eq(tp->s_mean.shape[2] * tp->s_mean.shape[3], hw);
        char name[96];
        float *s = download_all(&tp->s_mean), *tf = download_all(&ta->value);
        snprintf(name, sizeof name, "distill.proj.%zu.conv.weight", k);
        float *w = param(sakd_trainer_params(t), name);
        snprintf(name, sizeof name, "distill.proj.%zu.bn.weight", k);
        float *g = param(sakd_trainer_params(t), name);
        snprintf(name, sizeof name, "distill.proj.%zu.bn.bias", k);
        float *bb = param(sakd_trainer_params(t), name);
        double *y = malloc((size_t)B * ct * hw * sizeof *y), sum = 0.0;
        for (size_t b = 0; b < B; b++)
            for (size_t o = 0; o < ct; o++)
                for (size_t j = 0; j < hw; j++) {
                    double acc = 0.0;
                    for (size_t i = 0; i < cs; i++)
                        acc += (double)w[o * cs + i] * s[(b * cs + i) * hw + j];
                    y[(b * ct + o) * hw + j] = acc;
                }
        for (size_t o = 0; o < ct; o++) {
            double m = 0.0, v = 0.0, n = (double)(B * hw);
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < hw; j++)
                    m += y[(b * ct + o) * hw + j];
            m /= n;
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < hw; j++) {
                    double e = y[(b * ct + o) * hw + j] - m;
                    v += e * e;
                }
            v /= n;
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < hw; j++) {
                    size_t i = (b * ct + o) * hw + j;
                    double z = (y[i] - m) / sqrt(v + 1e-5) * g[o] + bb[o];
                    double e = (z > 0 ? z : 0) - tf[i];
                    sum += e * e;
                }
        }
        total += sum / (double)(B * ct * hw);
        free(s);
        free(tf);
        free(w);
        free(g);
        free(bb);
        free(y);
    }
    return total;
}

/* A resnet18 SNN distilled from the teacher at `path`: set-up, one forward, and the feature loss
 * against the double-precision proj path. */
static void distil_from(const char *path, const char *expect_model, const char *const *more)
{
    char assign[2 * PATH_MAX], out[2 * PATH_MAX];
    snprintf(assign, sizeof assign, "distill.teacher=%.4000s", path);
    const char *o[8] = {"model.name=resnet18", assign, "distill.transform=proj",
                        "distill.position=stage_after_spike"};
    size_t n = 4;
    for (const char *const *m = more; m && *m && n < 7; m++)
        o[n++] = *m;
    o[n] = NULL;
    sakd_config c;
    make_config(&c, o);
    snprintf(out, sizeof out, "%.4000s/student-%s", dir, expect_model);
    sakd_trainer *t;
    TEST_OK(new_trainer(&c, out, &t));
    ck_assert_str_eq(sakd_trainer_teacher(t)->desc.name, expect_model);
    expect_teacher_is(t, path);
    sakd_distill *d = sakd_trainer_distill(t);
    ck_assert_uint_eq(d->n_taps, 4);
    /* one forward of teacher, student and losses on a random batch */
    test_rng r = test_rng_new(1500);
    float x[B * SIDE * SIDE];
    int32_t y[B];
    test_fill_uniform(&r, x, B * SIDE * SIDE, -1, 1);
    for (int i = 0; i < B; i++)
        y[i] = i % CLASSES;
    sakd_model *s = sakd_trainer_student(t), *tm = sakd_trainer_teacher(t);
    TEST_OK(sakd_tensor_upload(&sakd_graph_act_get(&s->graph, s->input)->value, x));
    TEST_OK(sakd_tensor_upload(&sakd_graph_act_get(&tm->graph, tm->input)->value, x));
    TEST_OK(sakd_distill_set_labels(d, y));
    TEST_OK(sakd_graph_forward(&tm->graph, 0));
    TEST_OK(sakd_graph_forward(&s->graph, 1));
    TEST_OK(sakd_distill_forward(d, 100.0, 0));
    double ref = reference_feature_loss(t);
    ck_assert_msg(fabs(d->loss_feature - ref) <= 1e-4 * fabs(ref) + 1e-6,
                  "feature loss from %s: %.9g, double-precision proj path %.9g", expect_model,
                  d->loss_feature, ref);
    ck_assert(isfinite(d->loss_logit) && d->loss_logit >= 0.0);
    /* and the step trains */
    TEST_OK(sakd_trainer_step(t, 0));
    sakd_trainer_free(t);
    sakd_config_free(&c);
}

START_TEST(test_teacher_of_another_depth)
{
    char p34[2 * PATH_MAX], p50[2 * PATH_MAX];
    teacher("resnet34", "t34", p34, sizeof p34);
    teacher("resnet50", "t50", p50, sizeof p50);
    distil_from(p34, "resnet34", NULL); /* same stage channels, more blocks */
    distil_from(p50, "resnet50", NULL); /* Bottleneck: 4x the channels at every stage tap */
}
END_TEST

START_TEST(test_teacher_without_meta)
{
    char p34[2 * PATH_MAX], bare[2 * PATH_MAX];
    teacher("resnet34", "t34", p34, sizeof p34);
    snprintf(bare, sizeof bare, "%.4000s/t34-bare.h5", dir);
    copy_model(p34, bare, NULL, NULL);
    /* Told nothing, the teacher is the student's architecture: resnet34's extra blocks are
     * refused by name instead of being dropped. */
    char assign[2 * PATH_MAX], out[2 * PATH_MAX];
    snprintf(assign, sizeof assign, "distill.teacher=%.4000s", bare);
    snprintf(out, sizeof out, "%.4000s/s", dir);
    const char *o[] = {"model.name=resnet18", assign, NULL};
    sakd_config c;
    make_config(&c, o);
    sakd_trainer *t = NULL;
    expect_refusal(new_trainer(&c, out, &t), "layer1.2.", "a resnet34 file as a resnet18 teacher");
    sakd_trainer_free(t);
    sakd_config_free(&c);
    /* Told, it is built as resnet34 and loads every tensor. */
    const char *keys[] = {"distill.teacher_model=resnet34", NULL};
    distil_from(bare, "resnet34", keys);
    /* An SNN checkpoint is not a teacher. */
    {
        const char *so[] = {"model.name=resnet18", NULL};
        sakd_config sc;
        make_config(&sc, so);
        char sout[2 * PATH_MAX], spath[3 * PATH_MAX];
        snprintf(sout, sizeof sout, "%.4000s/snn-run", dir);
        sakd_trainer *st;
        TEST_OK(new_trainer(&sc, sout, &st));
        sakd_report sr;
        TEST_OK(sakd_trainer_run(st, &sr));
        sakd_trainer_free(st);
        sakd_config_free(&sc);
        snprintf(spath, sizeof spath, "distill.teacher=%.4000s/weights.h5", sout);
        const char *o3[] = {"model.name=resnet18", spath, NULL};
        make_config(&sc, o3);
        st = NULL;
        expect_refusal(new_trainer(&sc, out, &st), "must be an ANN",
                       "an SNN checkpoint as teacher");
        sakd_trainer_free(st);
        sakd_config_free(&sc);
    }
    /* A key that contradicts /meta is refused. */
    const char *o2[] = {"model.name=resnet18", assign, NULL};
    snprintf(assign, sizeof assign, "distill.teacher=%.4000s", p34);
    make_config(&c, o2);
    TEST_OK(sakd_config_override(&c, "distill.teacher_model=resnet50", "test"));
    t = NULL;
    expect_refusal(new_trainer(&c, out, &t), "resnet34", "teacher_model contradicting /meta");
    sakd_trainer_free(t);
    sakd_config_free(&c);
}
END_TEST

/* A tensor too many, or one missing, is refused on every path a checkpoint is read by. */
START_TEST(test_strict_everywhere)
{
    char p18[2 * PATH_MAX], extra[2 * PATH_MAX], missing[2 * PATH_MAX];
    teacher("resnet18", "t18", p18, sizeof p18);
    snprintf(extra, sizeof extra, "%.4000s/extra.h5", dir);
    snprintf(missing, sizeof missing, "%.4000s/missing.h5", dir);
    copy_model(p18, extra, NULL, "features.9.bias");
    copy_model(p18, missing, "layer3.1.bn2.running_var", NULL);
    const char *files[2] = {extra, missing},
               *names[2] = {"features.9.bias", "layer3.1.bn2.running_var"};
    for (int f = 0; f < 2; f++) {
        char assign[2 * PATH_MAX], out[2 * PATH_MAX];
        sakd_config c;
        sakd_trainer *t = NULL;
        /* as a teacher */
        snprintf(assign, sizeof assign, "distill.teacher=%.4000s", files[f]);
        const char *ot[] = {"model.name=resnet18", assign, NULL};
        make_config(&c, ot);
        snprintf(out, sizeof out, "%.4000s/as-teacher", dir);
        expect_refusal(new_trainer(&c, out, &t), names[f], "distill.teacher");
        sakd_trainer_free(t);
        sakd_config_free(&c);
        /* as weights (eval, trace --weights) */
        const char *ow[] = {"model.name=resnet18", "model.arch=ann", NULL};
        make_config(&c, ow);
        t = NULL;
        TEST_OK(new_trainer(&c, NULL, &t));
        expect_refusal(sakd_trainer_load_weights(t, files[f]), names[f], "--weights");
        sakd_trainer_free(t);
        sakd_config_free(&c);
        /* to resume */
        snprintf(assign, sizeof assign, "train.resume=%.4000s", files[f]);
        const char *orr[] = {"model.name=resnet18", "model.arch=ann", assign, NULL};
        make_config(&c, orr);
        t = NULL;
        snprintf(out, sizeof out, "%.4000s/resumed", dir);
        expect_refusal(new_trainer(&c, out, &t), names[f], "train.resume");
        sakd_trainer_free(t);
        sakd_config_free(&c);
    }
}
END_TEST

/* Distillation heads: a SAKD student's weights evaluate without them (ignored, reported), and
 * a plain checkpoint serves a distilling trace (heads left as initialized). */
START_TEST(test_heads_where_a_mode_allows)
{
    char p18[2 * PATH_MAX], assign[2 * PATH_MAX], out[2 * PATH_MAX];
    teacher("resnet18", "t18", p18, sizeof p18);
    snprintf(assign, sizeof assign, "distill.teacher=%.4000s", p18);
    const char *o[] = {"model.name=resnet18", assign, NULL};
    sakd_config c;
    make_config(&c, o);
    snprintf(out, sizeof out, "%.4000s/student", dir);
    sakd_trainer *t;
    TEST_OK(new_trainer(&c, out, &t));
    sakd_report r;
    TEST_OK(sakd_trainer_run(t, &r));
    sakd_trainer_free(t);
    sakd_config_free(&c);
    char student[2 * PATH_MAX];
    snprintf(student, sizeof student, "%.4000s/weights.h5", out);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, student));
    ck_assert(sakd_checkpoint_has_model(ck, "distill.proj.0.conv.weight"));
    sakd_checkpoint_close(ck);
    /* evaluated as a plain SNN: the heads are not the model's, and that is allowed */
    const char *plain[] = {"model.name=resnet18", NULL};
    make_config(&c, plain);
    TEST_OK(new_trainer(&c, NULL, &t));
    TEST_OK(sakd_trainer_load_weights(t, student));
    sakd_trainer_free(t);
    sakd_config_free(&c);
    /* a distilling config from a plain SNN checkpoint: heads missing, allowed */
    char bare[2 * PATH_MAX];
    snprintf(bare, sizeof bare, "%.4000s/no-heads.h5", dir);
    copy_model(student, bare, "distill.", NULL);
    make_config(&c, o);
    TEST_OK(new_trainer(&c, NULL, &t));
    TEST_OK(sakd_trainer_load_weights(t, bare));
    sakd_trainer_free(t);
    sakd_config_free(&c);
}
END_TEST

Suite *suite_loading(void)
{
    Suite *s = suite_create("loading");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_teacher_of_another_depth);
    tcase_add_test(tc, test_teacher_without_meta);
    tcase_add_test(tc, test_strict_everywhere);
    tcase_add_test(tc, test_heads_where_a_mode_allows);
    suite_add_tcase(s, tc);
    return s;
}
