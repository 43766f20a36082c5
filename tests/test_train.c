/* test_train.c — training runs on a small generated dataset: the loss falls (ANN, SNN, SAKD),
 * checkpoints round-trip exactly, resume equals an uninterrupted run, the same seed gives
 * bit-identical weights, level-1 initialization copies the teacher's tensors, and the sakd
 * train / eval / trace commands work and reject bad input by name. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/meta.h"
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

/* A tiny resnet19 config; extra "section.key=value" overrides follow. */
static void make_config(sakd_config *c, const char *const *overrides)
{
    TEST_OK(sakd_config_init(c));
    const char *base[] = {"model.width=0.0625", "model.T=2",     "train.batch=16",
                          "train.epochs=3",     "train.lr=0.05", "data.crop_padding=0",
                          "data.flip=false",    "train.seed=11", NULL};
    for (const char *const *o = base; *o; o++)
        TEST_OK(sakd_config_override(c, *o, "test"));
    for (const char *const *o = overrides; o && *o; o++)
        TEST_OK(sakd_config_override(c, *o, "test"));
}

/* A trainer of `cfg` on synthetic 3-class 8x8 data, writing to dir/name. */
static sakd_trainer *new_trainer(const sakd_config *cfg, const char *name)
{
    sakd_dataset tr, te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    char out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    sakd_trainer *t;
    TEST_OK(sakd_trainer_new(&t, cfg, out, &tr, &te, NULL));
    return t;
}

/* Trains `cfg` on synthetic 3-class 8x8 data in dir/name and returns the report. */
static sakd_report train(const sakd_config *cfg, const char *name)
{
    sakd_trainer *t = new_trainer(cfg, name);
    sakd_report r;
    TEST_OK(sakd_trainer_run(t, &r));
    sakd_trainer_free(t);
    return r;
}

/* Drops the quotes libcsv puts around every field (these fields hold no commas). */
static void unquote(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++)
        if (*r != '"')
            *w++ = *r;
    *w = '\0';
}

/* The first and last loss_total of dir/name/log.csv. */
static void log_losses(const char *name, double *first, double *last, int *rows)
{
    char path[PATH_MAX + 64], line[512];
    snprintf(path, sizeof path, "%s/%s/log.csv", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    *rows = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    unquote(line);
    ck_assert_msg(strncmp(line, "epoch,lr,beta,loss_total", 24) == 0, "header: %s", line);
    while (fgets(line, sizeof line, f)) {
        unquote(line);
        double epoch, lr, beta, loss;
        ck_assert_int_eq(sscanf(line, "%lf,%lf,%lf,%lf", &epoch, &lr, &beta, &loss), 4);
        if (*rows == 0)
            *first = loss;
        *last = loss;
        (*rows)++;
    }
    fclose(f);
}

/* The bytes of every /model tensor of a checkpoint, concatenated in name order. */
static float *model_bytes(const char *path, size_t *n)
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
    float *all = malloc(total * sizeof *all), *p = all;
    for (size_t i = 0; i < sakd_checkpoint_model_count(ck); i++) {
        const sakd_ckpt_tensor *ti = sakd_checkpoint_model_info(ck, i);
        size_t m = 1;
        for (int j = 0; j < ti->ndim; j++)
            m *= ti->shape[j];
        TEST_OK(sakd_checkpoint_read_model(ck, ti->name, ti->ndim, ti->shape, p));
        p += m;
    }
    sakd_checkpoint_close(ck);
    *n = total;
    return all;
}

/* The weights of runs dir/a and dir/b, *n floats each. */
static void load_pair(const char *a, const char *b, float **wa, float **wb, size_t *n)
{
    char pa[PATH_MAX + 64], pb[PATH_MAX + 64];
    snprintf(pa, sizeof pa, "%s/%s/weights.h5", dir, a);
    snprintf(pb, sizeof pb, "%s/%s/weights.h5", dir, b);
    size_t nb;
    *wa = model_bytes(pa, n);
    *wb = model_bytes(pb, &nb);
    ck_assert_uint_eq(*n, nb);
}

static void expect_same_weights(const char *a, const char *b)
{
    size_t na;
    float *wa, *wb;
    load_pair(a, b, &wa, &wb, &na);
    ck_assert_msg(memcmp(wa, wb, na * sizeof *wa) == 0, "weights of %s and %s differ", a, b);
    free(wa);
    free(wb);
}

START_TEST(test_loss_falls)
{
    /* _i = 0: ANN; 1: SNN by BPTT. */
    sakd_config c;
    /* Width 0.25: at 4 channels a spiking net barely fires; resnet18's head has no LIF after
     * a linear layer, which starts silent and wakes up only after tens of steps. */
    const char *ann[] = {"model.arch=ann", "model.width=0.25", "train.epochs=4", NULL};
    const char *snn[] = {"model.name=resnet18", "model.width=0.25", "train.epochs=6", NULL};
    make_config(&c, _i ? snn : ann);
    sakd_report r = train(&c, "run");
    double first, last;
    int rows;
    log_losses("run", &first, &last, &rows);
    ck_assert_int_eq(rows, _i ? 6 : 4);
    ck_assert_msg(last < 0.8 * first, "%s loss %g -> %g did not fall", _i ? "SNN" : "ANN", first,
                  last);
    ck_assert_msg(r.test_acc > 0.5, "test accuracy %g on a 3-class task", r.test_acc);
    if (_i) {
        ck_assert_uint_gt(r.n_layers, 5);
        ck_assert(r.mean_firing_rate > 0.0 && r.mean_firing_rate < 1.0);
        ck_assert(r.sops_per_image > 0.0 && r.macs_per_image > 0.0);
    } else {
        ck_assert_uint_eq(r.n_layers, 0);
        ck_assert(r.sops_per_image == 0.0);
    }
    sakd_config_free(&c);
}
END_TEST

/* sum(v) / n in double. */
static double host_mean(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s / (double)n;
}

START_TEST(test_measure_rates_and_sops)
{
    /* The report's firing rates, SOPs and MACs against a host recomputation from the spikes
     * of the same eval-mode forward passes, on a network where spiking layers feed two convs
     * (a block's conv1 and its downsample), each counted once. _i = 0: resnet19; 1:
     * sew_resnet18 (ADD connections: conv inputs of 0, 1 or 2). */
    sakd_config c;
    const char *r19[] = {"model.threshold=0.5", NULL};
    const char *sew[] = {"model.name=sew_resnet18", "model.width=0.125", "model.threshold=0.5",
                         NULL};
    make_config(&c, _i ? sew : r19);
    sakd_dataset tr, te, ref_tr, ref_te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 32, 48, 1, 8, 8, 3, 5));
    TEST_OK(sakd_dataset_synthetic_split(&ref_tr, &ref_te, 32, 48, 1, 8, 8, 3, 5));
    sakd_trainer *t;
    TEST_OK(sakd_trainer_new(&t, &c, NULL, &tr, &te, NULL));
    sakd_report r;
    memset(&r, 0, sizeof r);
    TEST_OK(sakd_trainer_measure(t, 48, &r)); /* 3 batches of 16 */

    sakd_model *m = sakd_trainer_student(t);
    sakd_graph *g = &m->graph;
    const size_t B = 16, batches = 3;
    double *mean = calloc(g->n_acts, sizeof *mean);
    size_t largest = 1, idx[16];
    for (size_t i = 0; i < g->n_acts; i++) {
        size_t n = sakd_tensor_numel(&g->acts[i].value);
        largest = n > largest ? n : largest;
    }
    float *h = malloc(largest * sizeof *h), *x = malloc(B * 64 * sizeof *x);
    int32_t y[16];
    for (size_t bi = 0; bi < batches; bi++) {
        for (size_t b = 0; b < B; b++)
            idx[b] = bi * B + b;
        sakd_dataset_batch(&ref_te, idx, B, 0, 0, 0, 0, x, y);
        TEST_OK(sakd_tensor_upload(&g->acts[m->input].value, x));
        TEST_OK(sakd_graph_forward(g, 0));
        for (size_t i = 0; i < g->n_acts; i++) {
            size_t n = sakd_tensor_numel(&g->acts[i].value);
            TEST_OK(sakd_tensor_download(&g->acts[i].value, h));
            mean[i] += host_mean(h, n) / (double)batches;
        }
        /* Spiking layers put out 0 or 1 only. */
        for (size_t i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i].kind != SAKD_NODE_LIF)
                continue;
            const sakd_tensor *v = &g->acts[g->nodes[i].out].value;
            TEST_OK(sakd_tensor_download(v, h));
            for (size_t k = 0; k < sakd_tensor_numel(v); k++)
                ck_assert_msg(h[k] == 0.0f || h[k] == 1.0f, "%s[%zu] = %g", g->nodes[i].name, k,
                              h[k]);
        }
    }
    size_t layers = 0, shared = 0;
    double rate_sum = 0.0, sops = 0.0, macs = 0.0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const sakd_node *n = &g->nodes[i];
        if (n->kind == SAKD_NODE_LIF) {
            ck_assert_uint_lt(layers, r.n_layers);
            ck_assert_str_eq(r.layer_name[layers], n->name);
            double want = mean[n->out];
            ck_assert_msg(want > 0.0, "%s silent: the check would be vacuous", n->name);
            ck_assert_msg(
                r.layer_rate[layers] <= 1.0 && fabs(r.layer_rate[layers] - want) <= 1e-9 * want,
                "%s: reported %.12g, spikes give %.12g", n->name, r.layer_rate[layers], want);
            rate_sum += want;
            layers++;
        }
        if (n->kind != SAKD_NODE_CONV && n->kind != SAKD_NODE_LINEAR)
            continue;
        /* MACs of one image at one step: outputs per image x weights per output. */
        const sakd_act *out = &g->acts[n->out], *in = &g->acts[n->in[0]];
        const sakd_param *w = &sakd_trainer_params(t)->items[n->param[0]];
        double outputs = 1.0, fan_in = 1.0;
        for (int j = 1; j < out->ndim; j++)
            outputs *= (double)out->shape[j];
        for (int j = 1; j < w->ndim; j++)
            fan_in *= (double)w->shape[j];
        if (n->in[0] == m->input) {
            macs += outputs * fan_in;
        } else {
            double steps = in->time_major ? (double)out->shape[0] / (double)B : 1.0;
            sops += mean[n->in[0]] * outputs * fan_in * steps *
                    (in->time_major ? 1.0 : (double)c.model.T);
        }
    }
    ck_assert_uint_eq(layers, r.n_layers);
    /* The case that was counted twice: an activation that is a spiking layer's output and a
     * conv's input, or the input of two convs. */
    for (size_t a = 0; a < g->n_acts; a++) {
        size_t uses = 0;
        for (size_t j = 0; j < g->n_nodes; j++) {
            const sakd_node *n = &g->nodes[j];
            uses +=
                (n->kind == SAKD_NODE_LIF && n->out == (int)a) ||
                ((n->kind == SAKD_NODE_CONV || n->kind == SAKD_NODE_LINEAR) && n->in[0] == (int)a);
        }
        shared += uses >= 2;
    }
    ck_assert_uint_gt(shared, 0);
    ck_assert(fabs(r.mean_firing_rate - rate_sum / (double)layers) <= 1e-9);
    ck_assert_msg(fabs(r.sops_per_image - sops) <= 1e-9 * sops, "SOPs %.12g, want %.12g",
                  r.sops_per_image, sops);
    ck_assert_msg(fabs(r.macs_per_image - macs) <= 1e-9 * macs, "MACs %.12g, want %.12g",
                  r.macs_per_image, macs);
    free(mean);
    free(h);
    free(x);
    sakd_trainer_free(t);
    sakd_dataset_free(&ref_tr);
    sakd_dataset_free(&ref_te);
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_deterministic_and_resume)
{
    /* Two identical runs give identical weights; a run interrupted after epoch 1 and resumed
     * from its checkpoint reaches the same weights as the uninterrupted one. */
    sakd_config c;
    make_config(&c, NULL);
    train(&c, "a");
    train(&c, "b");
    expect_same_weights("a", "b");
    /* Interrupted after epoch 1 of 3, then resumed from its checkpoint. */
    sakd_dataset tr, te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    char out[PATH_MAX + 64], assign[PATH_MAX + 96];
    snprintf(out, sizeof out, "%s/c", dir);
    sakd_trainer *t;
    TEST_OK(sakd_trainer_new(&t, &c, out, &tr, &te, NULL));
    sakd_trainer_stop_after(t, 1);
    sakd_report r;
    TEST_OK(sakd_trainer_run(t, &r));
    ck_assert_int_eq(r.epochs_done, 1);
    sakd_trainer_free(t);
    /* A kill after epoch 2's log row and before its checkpoint leaves a row the checkpoint
     * does not account for: the resumed run writes epoch 2's row over it. */
    char log_path[PATH_MAX + 64];
    snprintf(log_path, sizeof log_path, "%s/c/log.csv", dir);
    FILE *f = fopen(log_path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "2,0.1,0,9,9,0,0,0.5,0.5,9,1,1\n");
    fclose(f);
    snprintf(assign, sizeof assign, "train.resume=%s/c/weights.h5", dir);
    TEST_OK(sakd_config_override(&c, assign, "test"));
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    TEST_OK(sakd_trainer_new(&t, &c, out, &tr, &te, NULL));
    TEST_OK(sakd_trainer_run(t, &r));
    ck_assert_int_eq(r.epochs_done, 3);
    sakd_trainer_free(t);
    expect_same_weights("a", "c");
    double first, last;
    int rows;
    log_losses("c", &first, &last, &rows);
    ck_assert_int_eq(rows, 3); /* the log continues, one row per epoch, the stale one gone */
    ck_assert_msg(last < 9.0, "the stale row is still last (loss %g)", last);
    sakd_config_free(&c);
}
END_TEST

/* Relative L2 distance of two checkpoints' weights, all tensors together. */
static double weight_distance(const char *a, const char *b)
{
    size_t na;
    float *wa, *wb;
    load_pair(a, b, &wa, &wb, &na);
    double d = 0.0, ref = 0.0;
    for (size_t i = 0; i < na; i++) {
        d += ((double)wa[i] - wb[i]) * ((double)wa[i] - wb[i]);
        ref += (double)wa[i] * wa[i];
    }
    free(wa);
    free(wb);
    return sqrt(d / (ref > 0 ? ref : 1.0));
}

/* Each provider trains to the same weights as itself (bit for bit) and close to the other's:
 * their GEMMs, convolutions and BN sum in other orders, so the weights drift apart by rounding
 * — in an SNN also by the odd spike a rounding moves across the threshold — over 6 SGD steps. */
#define PROVIDER_RTOL_ANN 1e-5 /* measured 5.6e-8 */
#define PROVIDER_RTOL_SNN 1e-3 /* measured 3.1e-8: no spike moved; room for a few that do */
START_TEST(test_providers_agree)
{
    if (test_providers() < 2)
        return; /* built without a host BLAS: one provider only */
    const char *arch = _i ? "model.arch=snn" : "model.arch=ann";
    const char *cl[] = {arch, "train.epochs=1", "run.gemm_provider=clblast", NULL};
    const char *host[] = {arch, "train.epochs=1", "run.gemm_provider=host", NULL};
    sakd_config c;
    make_config(&c, cl);
    train(&c, "clblast");
    sakd_config_free(&c);
    make_config(&c, host);
    train(&c, "host1");
    train(&c, "host2");
    sakd_config_free(&c);
    expect_same_weights("host1", "host2");
    double d = weight_distance("clblast", "host1");
    printf("%s weights after 6 steps, host vs clblast: relative L2 distance %.3g\n",
           _i ? "SNN" : "ANN", d);
    ck_assert_msg(d > 0.0, "the providers gave bit-identical weights: was the host one used?");
    ck_assert_msg(d <= (_i ? PROVIDER_RTOL_SNN : PROVIDER_RTOL_ANN),
                  "host and clblast weights differ by %.3g (relative L2)", d);
}
END_TEST

START_TEST(test_sakd_and_init)
{
    /* An ANN teacher, then an SNN by SAKD (init + logit + feature KD with proj). */
    sakd_config c;
    const char *teacher[] = {"model.name=resnet18", "model.width=0.25", "model.arch=ann",
                             "train.epochs=3", NULL};
    make_config(&c, teacher);
    train(&c, "teacher");
    sakd_config_free(&c);
    char assign[PATH_MAX + 64], path[PATH_MAX + 64];
    snprintf(assign, sizeof assign, "distill.teacher=%s/teacher/weights.h5", dir);
    const char *student[] = {"model.name=resnet18",
                             "model.width=0.25",
                             "train.epochs=4",
                             assign,
                             "distill.init_from_teacher=true",
                             "distill.transform=proj",
                             NULL};
    make_config(&c, student);
    /* Level-1 initialization: every model tensor equals the teacher's right after set-up;
     * the proj heads exist only in the student. */
    sakd_trainer *t = new_trainer(&c, "student");
    sakd_params *sp = sakd_trainer_params(t);
    sakd_checkpoint *ck;
    snprintf(path, sizeof path, "%s/teacher/weights.h5", dir);
    TEST_OK(sakd_checkpoint_open(&ck, path));
    size_t copied = 0, heads = 0;
    for (size_t i = 0; i < sp->count; i++) {
        const sakd_param *e = &sp->items[i];
        if (strncmp(e->name, "distill.proj.", 13) == 0) {
            heads++;
            ck_assert(!sakd_checkpoint_has_model(ck, e->name));
            continue;
        }
        float *a = malloc(e->numel * sizeof *a), *b = malloc(e->numel * sizeof *b);
        TEST_OK(sakd_checkpoint_read_model(ck, e->name, e->ndim, e->shape, a));
        TEST_OK(sakd_tensor_download(&e->value, b));
        ck_assert_msg(memcmp(a, b, e->numel * sizeof *a) == 0, "%s not copied", e->name);
        copied++;
        free(a);
        free(b);
    }
    sakd_checkpoint_close(ck);
    ck_assert_uint_gt(copied, 50);
    ck_assert_uint_eq(heads, 4 * 5); /* 4 stage taps x (conv weight, BN weight, bias, 2 stats) */
    sakd_report r;
    TEST_OK(sakd_trainer_run(t, &r));
    sakd_trainer_free(t);
    ck_assert_msg(r.loss_feature > 0.0 && r.loss_logit > 0.0 && isfinite(r.loss_total),
                  "feature %g logit %g total %g", r.loss_feature, r.loss_logit, r.loss_total);
    ck_assert_msg(r.test_acc > 0.5, "SAKD student at %g", r.test_acc);
    sakd_config_free(&c);
}
END_TEST

/* Distillation through the layout plan (channel-blocked activations on the host provider:
 * taps read through plain copies, their gradient seeds spread over T in the tap's layout) trains
 * to the weights of the all-plain graph bit for bit, for each feature transform, taps after and
 * before the spikes, at stage and block ends. */
START_TEST(test_sakd_layouts)
{
    sakd_config c;
    const char *teacher[] = {"model.width=0.25", "model.arch=ann", "train.epochs=1", NULL};
    make_config(&c, teacher);
    train(&c, "teacher");
    sakd_config_free(&c);
    static const char *const variants[][2] = {
        {"distill.transform=none", "distill.position=stage_after_spike"},
        {"distill.transform=proj", "distill.position=block_before_spike"},
        {"distill.transform=norm", "distill.position=stage_before_spike"},
        {"distill.transform=attn", "distill.position=block_after_spike"}};
    char assign[PATH_MAX + 64];
    snprintf(assign, sizeof assign, "distill.teacher=%s/teacher/weights.h5", dir);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const char *student[] = {
            "model.width=0.25", "train.epochs=1", assign,         "distill.alpha=1",
            "distill.gamma=1",  variants[v][0],   variants[v][1], NULL};
        make_config(&c, student);
        char plain[32], planned[32];
        snprintf(plain, sizeof plain, "plain%zu", v);
        snprintf(planned, sizeof planned, "planned%zu", v);
        setenv("SAKD_LAYOUT", "plain", 1);
        train(&c, plain);
        setenv("SAKD_LAYOUT", "auto", 1);
        train(&c, planned);
        unsetenv("SAKD_LAYOUT");
        expect_same_weights(plain, planned);
        sakd_config_free(&c);
    }
}
END_TEST

/* A step without feature KD (β = 0: init and logit KD only, Table 7's cells) leaves the proj
 * heads out of the backward: their gradients are zeroed, not left as whatever the buffer held
 * (filled with NaN here before the step), so no update or clipping norm reads garbage. */
START_TEST(test_sakd_without_feature_kd)
{
    sakd_config c;
    const char *teacher[] = {"model.arch=ann", "train.epochs=1", NULL};
    make_config(&c, teacher);
    train(&c, "teacher");
    sakd_config_free(&c);
    char assign[PATH_MAX + 64];
    snprintf(assign, sizeof assign, "distill.teacher=%s/teacher/weights.h5", dir);
    const char *student[] = {assign,
                             "distill.init_from_teacher=true",
                             "distill.beta=0",
                             "distill.gamma=1",
                             "train.epochs=1",
                             "train.grad_clip=1",
                             NULL};
    make_config(&c, student);
    sakd_trainer *t = new_trainer(&c, "student");
    sakd_params *sp = sakd_trainer_params(t);
    TEST_OK(sakd_tensor_fill(&sp->grads, NAN));
    TEST_OK(sakd_trainer_step(t, 0));
    float *g = malloc(sp->n_trainable * sizeof *g);
    TEST_OK(sakd_tensor_download(&sp->grads, g));
    size_t heads = 0;
    for (size_t i = 0; i < sp->count; i++) {
        const sakd_param *e = &sp->items[i];
        if (!e->trainable)
            continue;
        int head = strncmp(e->name, "distill.proj.", 13) == 0;
        heads += head;
        for (size_t k = 0; k < e->numel; k++) {
            float v = g[e->offset + k];
            ck_assert_msg(isfinite(v), "gradient of %s[%zu] is %g after a step", e->name, k,
                          (double)v);
            if (head)
                ck_assert_msg(v == 0.0f, "proj head %s[%zu] got gradient %g with beta 0", e->name,
                              k, (double)v);
        }
    }
    ck_assert_uint_gt(heads, 0);
    free(g);
    sakd_report r;
    TEST_OK(sakd_trainer_run(t, &r));
    ck_assert(isfinite(r.loss_total));
    sakd_trainer_free(t);
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_interrupt_mid_epoch)
{
    /* Stopped after step 4 of epoch 1 (6 steps an epoch), then resumed: the same weights as
     * the uninterrupted run, and one log row per epoch. */
    sakd_config c;
    make_config(&c, NULL);
    train(&c, "whole");
    sakd_dataset tr, te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    char out_dir[PATH_MAX + 64], assign[PATH_MAX + 96];
    snprintf(out_dir, sizeof out_dir, "%s/cut", dir);
    sakd_trainer *t;
    TEST_OK(sakd_trainer_new(&t, &c, out_dir, &tr, &te, NULL));
    sakd_trainer_stop_at_step(t, 4);
    sakd_report r;
    ck_assert_int_eq(sakd_trainer_run(t, &r), SAKD_ERR_INTERRUPTED);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "step 4 of 6"));
    sakd_trainer_free(t);
    snprintf(assign, sizeof assign, "train.resume=%s/cut/weights.h5", dir);
    TEST_OK(sakd_config_override(&c, assign, "test"));
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    TEST_OK(sakd_trainer_new(&t, &c, out_dir, &tr, &te, NULL));
    TEST_OK(sakd_trainer_run(t, &r));
    sakd_trainer_free(t);
    expect_same_weights("whole", "cut");
    double first, last;
    int rows;
    log_losses("cut", &first, &last, &rows);
    ck_assert_int_eq(rows, 3);
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_interrupt_at_epoch_end)
{
    /* Stopped at step 6, the last of epoch 1 (6 steps an epoch): the epoch still ends (its log
     * row and checkpoint), the run stops after it, and resuming gives the uninterrupted run's
     * weights. (A SIGINT at that step once left a checkpoint no resume accepted.) */
    sakd_config c;
    make_config(&c, NULL);
    train(&c, "whole6");
    sakd_dataset tr, te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    char out_dir[PATH_MAX + 64], assign[PATH_MAX + 96];
    snprintf(out_dir, sizeof out_dir, "%s/cut6", dir);
    sakd_trainer *t;
    TEST_OK(sakd_trainer_new(&t, &c, out_dir, &tr, &te, NULL));
    sakd_trainer_stop_at_step(t, 6);
    sakd_report r;
    ck_assert_int_eq(sakd_trainer_run(t, &r), SAKD_ERR_INTERRUPTED);
    ck_assert_msg(strstr(sakd_error_detail(), "stopped after epoch 1"), "%s", sakd_error_detail());
    sakd_trainer_free(t);
    double first, last;
    int rows;
    log_losses("cut6", &first, &last, &rows);
    ck_assert_int_eq(rows, 1);
    snprintf(assign, sizeof assign, "train.resume=%s/cut6/weights.h5", dir);
    TEST_OK(sakd_config_override(&c, assign, "test"));
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 96, 48, 1, 8, 8, 3, 5));
    TEST_OK(sakd_trainer_new(&t, &c, out_dir, &tr, &te, NULL));
    TEST_OK(sakd_trainer_run(t, &r));
    sakd_trainer_free(t);
    expect_same_weights("whole6", "cut6");
    log_losses("cut6", &first, &last, &rows);
    ck_assert_int_eq(rows, 3);
    ck_assert(isfinite(first) && isfinite(last));
    sakd_config_free(&c);
}
END_TEST

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char out[1 << 16];
#define RUN(env, ...) test_run_sakd(env, (const char *const[]){__VA_ARGS__, NULL}, out, sizeof out)
#define EXPECT_IN_OUTPUT(text)                                                                     \
    ck_assert_msg(strstr(out, text) != NULL, "output lacks '%s':\n%s", text, out)

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_cli_config_errors)
{
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/bad.ini", dir);
    write_file(cfg, "[model]\nname = resnet19\nwidht = 0.5\n");
    ck_assert_int_eq(RUN(NULL, "train", cfg), 2);
    EXPECT_IN_OUTPUT("bad.ini");
    EXPECT_IN_OUTPUT(":3");
    EXPECT_IN_OUTPUT("model.width");
    write_file(cfg, "[model]\nT = four\n");
    ck_assert_int_eq(RUN(NULL, "train", cfg), 2);
    EXPECT_IN_OUTPUT("model.T");
    write_file(cfg, "[model]\nwidth = 0.25\n[distill]\nteacher = /nonexistent/teacher.h5\n"
                    "[data]\ntrain_limit = 64\ntest_limit = 64\n[train]\nbatch = 16\n");
    ck_assert_int_ne(RUN(NULL, "train", cfg, "train.epochs=1"), 0);
    EXPECT_IN_OUTPUT("/nonexistent/teacher.h5");
    ck_assert_int_eq(RUN(NULL, "train", cfg, "model.nosuchkey=1"), 2);
    EXPECT_IN_OUTPUT("model.nosuchkey");
    ck_assert_int_eq(RUN(NULL, "eval", "--weights", "/nonexistent/w.h5"), 1);
    EXPECT_IN_OUTPUT("/nonexistent/w.h5");
    ck_assert_int_eq(RUN(NULL, "train"), 2);
}
END_TEST

/* `sakd eval --run` on the finished run in `run`: it restores firing rates and SOPs that a
 * report got wrong (to what training measured), keeps the training metrics, drops stale
 * layers; it refuses a report whose accuracy the weights do not give, leaving it as it was,
 * and a config override. */
static void check_eval_run(const char *run)
{
    char report[PATH_MAX + 64];
    snprintf(report, sizeof report, "%s/report.ini", run);
    sakd_meta good, bad, now;
    sakd_meta_init(&good);
    sakd_meta_init(&bad);
    TEST_OK(sakd_meta_read(&good, report));
    size_t layers = 0;
    for (size_t i = 0; i < good.count; i++) {
        int layer = strncmp(good.keys[i], "layer.", 6) == 0;
        layers += layer;
        int measured = layer || strcmp(good.keys[i], "mean_firing_rate") == 0 ||
                       strcmp(good.keys[i], "sops_per_image") == 0 ||
                       strcmp(good.keys[i], "energy_uj") == 0;
        TEST_OK(sakd_meta_set(&bad, good.keys[i], measured ? "5" : good.values[i]));
    }
    ck_assert_uint_gt(layers, 5);
    TEST_OK(sakd_meta_set(&bad, "layer.gone", "0.5"));
    TEST_OK(sakd_meta_write(&bad, report, "corrupted by the test"));
    ck_assert_msg(RUN(NULL, "eval", "--run", run) == 0, "eval --run failed:\n%s", out);
    EXPECT_IN_OUTPUT("report.ini");
    sakd_meta_init(&now);
    TEST_OK(sakd_meta_read(&now, report));
    ck_assert_ptr_null(sakd_meta_get(&now, "layer.gone"));
    ck_assert_ptr_nonnull(sakd_meta_get(&now, "metrics_measured_by"));
    ck_assert_ptr_nonnull(sakd_meta_get(&now, "metrics_measured_at"));
    for (size_t i = 0; i < good.count; i++) {
        double want = sakd_meta_number(&good, good.keys[i]);
        double got = sakd_meta_number(&now, good.keys[i]);
        if (isnan(want)) { /* a text value (gemm_provider): kept as it was */
            const char *w = sakd_meta_get(&good, good.keys[i]),
                       *g = sakd_meta_get(&now, good.keys[i]);
            ck_assert_msg(g && strcmp(g, w) == 0, "%s: '%s' after eval --run, '%s' after training",
                          good.keys[i], g ? g : "(none)", w);
            continue;
        }
        ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want),
                      "%s: %.9g after eval --run, %.9g "
                      "after training",
                      good.keys[i], got, want);
    }
    sakd_meta_free(&now);
    /* A report of other weights: refused, the file untouched. */
    char acc[32], *before, *after;
    size_t nb, na;
    snprintf(acc, sizeof acc, "%.9g", sakd_meta_number(&good, "test_acc") + 0.25);
    TEST_OK(sakd_meta_set(&bad, "test_acc", acc));
    TEST_OK(sakd_meta_write(&bad, report, "other weights"));
    TEST_OK(sakd_file_read(report, &before, &nb));
    ck_assert_int_eq(RUN(NULL, "eval", "--run", run), 2);
    EXPECT_IN_OUTPUT("report.ini");
    EXPECT_IN_OUTPUT("left as it was");
    TEST_OK(sakd_file_read(report, &after, &na));
    ck_assert(na == nb && memcmp(before, after, nb) == 0);
    free(before);
    free(after);
    ck_assert_int_eq(RUN(NULL, "eval", "--run", run, "data.test_limit=16"), 2);
    EXPECT_IN_OUTPUT("data.test_limit");
    ck_assert_int_eq(RUN(NULL, "train", "--run", run, "x.ini"), 2);
    EXPECT_IN_OUTPUT("--run is an option of 'sakd eval'");
    ck_assert_int_eq(RUN(NULL, "eval", "--run", run, "--weights", "w.h5"), 2);
    EXPECT_IN_OUTPUT("not both");
    /* A run without report.ini is not finished: refused by name, nothing written. */
    char moved[PATH_MAX + 128];
    snprintf(moved, sizeof moved, "%s.away", report);
    ck_assert_int_eq(rename(report, moved), 0);
    ck_assert_int_eq(RUN(NULL, "eval", "--run", run), 1);
    EXPECT_IN_OUTPUT("report.ini");
    EXPECT_IN_OUTPUT("not finished");
    ck_assert_int_ne(access(report, F_OK), 0);
    ck_assert_int_eq(rename(moved, report), 0);
    TEST_OK(sakd_meta_write(&good, report, "restored by the test"));
    sakd_meta_free(&good);
    sakd_meta_free(&bad);
}

/* `sakd eval --batch` of checkpoint w on 4 images x, y, then on the first 2 of them: eval mode
 * normalizes by the running statistics, so an image's logits do not depend on the rest of its
 * batch (a train-mode forward's would); the printed count is that of the logits' argmax. */
static void check_eval_batch(const char *w, const float *x, const int32_t *y)
{
    char b4[PATH_MAX + 32], b2[PATH_MAX + 32], o4[PATH_MAX + 32], o2[PATH_MAX + 32];
    snprintf(b4, sizeof b4, "%s/eval4.h5", dir);
    snprintf(b2, sizeof b2, "%s/eval2.h5", dir);
    snprintf(o4, sizeof o4, "%s/logits4.h5", dir);
    snprintf(o2, sizeof o2, "%s/logits2.h5", dir);
    TEST_OK(sakd_batch_file_write(b4, x, (size_t[]){4, 1, 28, 28}, y));
    TEST_OK(sakd_batch_file_write(b2, x, (size_t[]){2, 1, 28, 28}, y));
    ck_assert_msg(RUN(NULL, "eval", "--weights", w, "--batch", b2, "--out", o2) == 0, "%s", out);
    ck_assert_msg(RUN(NULL, "eval", "--weights", w, "--batch", b4, "--out", o4) == 0, "%s", out);
    float l4[40], l2[20];
    sakd_h5_file f;
    TEST_OK(sakd_h5_open(o4, &f));
    TEST_OK(sakd_h5_read_float(f, "/logits", 2, (size_t[]){4, 10}, l4));
    ck_assert(sakd_h5_exists(f, "/firing/sn1"));
    sakd_h5_close(f);
    TEST_OK(sakd_h5_open(o2, &f));
    TEST_OK(sakd_h5_read_float(f, "/logits", 2, (size_t[]){2, 10}, l2));
    sakd_h5_close(f);
    size_t correct = 0;
    for (int i = 0; i < 4; i++) {
        int best = 0;
        for (int k = 0; k < 10; k++) {
            ck_assert(isfinite(l4[i * 10 + k]));
            best = l4[i * 10 + k] > l4[i * 10 + best] ? k : best;
            if (i < 2) /* GEMM blocking may differ with the batch: a few ulps */
                ck_assert_msg(fabsf(l4[i * 10 + k] - l2[i * 10 + k]) <=
                                  1e-5f * (1.0f + fabsf(l4[i * 10 + k])),
                              "image %d logit %d: %.9g in a batch of 4, %.9g in a batch of 2", i, k,
                              l4[i * 10 + k], l2[i * 10 + k]);
        }
        correct += best == y[i];
    }
    char want[64];
    snprintf(want, sizeof want, "(%zu correct)", correct);
    EXPECT_IN_OUTPUT(want);
    /* --batch needs --out, and not --run. */
    ck_assert_int_eq(RUN(NULL, "eval", "--weights", w, "--batch", b4), 2);
    EXPECT_IN_OUTPUT("--out");
}

/* `sakd export nir` of the SNN checkpoint w: the graph's nodes and edges are there, a LIF's
 * time constant is dt/(1 − λ) (λ = 0.5) and its R 1/(1 − λ); a non-positive --dt is refused.
 * (tests/nir_export.py reads such files with the `nir` package and simulates them.) */
static void check_export_nir(const char *w)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/snn.nir", dir);
    ck_assert_msg(RUN(NULL, "export", "nir", "--weights", w, path, "--dt", "0.5") == 0, "%s", out);
    sakd_h5_file f;
    TEST_OK(sakd_h5_open(path, &f));
    const char *must[] = {"/version",
                          "/node/type",
                          "/node/edges",
                          "/node/nodes/input/shape",
                          "/node/nodes/conv1/weight",
                          "/node/nodes/conv1/bias",
                          "/node/nodes/layer2.0.downsample.0/weight",
                          "/node/nodes/fc/weight",
                          "/node/nodes/output/shape",
                          "/node/metadata/dt"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(sakd_h5_exists(f, must[i]), "the NIR file lacks %s", must[i]);
    ck_assert(!sakd_h5_exists(f, "/node/nodes/bn1")); /* folded into conv1 */
    float tau[8 * 28 * 28], r[8 * 28 * 28];
    TEST_OK(sakd_h5_read_float(f, "/node/nodes/sn1/tau", 3, (size_t[]){8, 28, 28}, tau));
    TEST_OK(sakd_h5_read_float(f, "/node/nodes/sn1/r", 3, (size_t[]){8, 28, 28}, r));
    ck_assert_float_eq_tol(tau[0], 0.5f / (1.0f - 0.5f), 1e-6f);
    ck_assert_float_eq_tol(r[8 * 28 * 28 - 1], 1.0f / (1.0f - 0.5f), 1e-6f);
    sakd_h5_close(f);
    ck_assert_int_eq(RUN(NULL, "export", "nir", "--weights", w, path, "--dt", "0"), 2);
    EXPECT_IN_OUTPUT("--dt");
}

/* report.ini of an SNN run counts the training passes of its spike-fed convolutions: two per
 * layer and step (forward, weight gradient), how many ran spike-driven, and the operations
 * those executed against the dense ones they replaced. */
static void check_spike_counters(const char *run, unsigned steps)
{
    char report[PATH_MAX + 64];
    snprintf(report, sizeof report, "%s/report.ini", run);
    sakd_meta m;
    sakd_meta_init(&m);
    TEST_OK(sakd_meta_read(&m, report));
    const char *keys[] = {"spike_fed_passes", "spike_driven_passes", "spike_sops_executed",
                          "spike_macs_replaced"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(sakd_meta_get(&m, keys[i]), "report.ini lacks %s", keys[i]);
    double fed = sakd_meta_number(&m, "spike_fed_passes");
    double driven = sakd_meta_number(&m, "spike_driven_passes");
    double sops = sakd_meta_number(&m, "spike_sops_executed");
    double macs = sakd_meta_number(&m, "spike_macs_replaced");
    ck_assert_msg(fed > 0 && fmod(fed, 2.0 * steps) == 0.0, "spike_fed_passes %g", fed);
    ck_assert(driven >= 0 && driven <= fed);
    ck_assert_msg(driven > 0 ? macs > 0 && sops <= macs : macs == 0 && sops == 0,
                  "%g passes spike-driven: %g SOPs for %g MACs", driven, sops, macs);
    sakd_meta_free(&m);
}

START_TEST(test_cli_train_eval_trace)
{
    /* A real (tiny) run on the installed Fashion-MNIST, its evaluation and a trace. */
    char cfg[PATH_MAX + 32], run[PATH_MAX + 32], w[PATH_MAX + 64], batch[PATH_MAX + 32],
        trace[PATH_MAX + 32], text[PATH_MAX + 512];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(text, sizeof text,
             "[model]\nname = resnet18\nwidth = 0.125\nT = 2\n[data]\ntrain_limit = 64\n"
             "test_limit = 32\n[train]\nepochs = 1\nbatch = 16\n[run]\nout = %s\n",
             run);
    write_file(cfg, text);
    int rc = RUN(NULL, "train", cfg);
    if (strstr(out, "dataset-fashion-mnist")) /* the dataset package is not installed */
        return;
    ck_assert_msg(rc == 0, "train failed:\n%s", out);
    EXPECT_IN_OUTPUT("test accuracy");
    EXPECT_IN_OUTPUT("firing rates");
    EXPECT_IN_OUTPUT("SOPs");
    snprintf(w, sizeof w, "%s/weights.h5", run);
    ck_assert_int_eq(RUN(NULL, "eval", "--weights", w), 0);
    EXPECT_IN_OUTPUT("test accuracy");
    check_spike_counters(run, 64 / 16);
    check_eval_run(run);
    /* Trace: a batch file of 4 samples. */
    snprintf(batch, sizeof batch, "%s/batch.h5", dir);
    snprintf(trace, sizeof trace, "%s/trace.h5", dir);
    float x[4 * 28 * 28];
    int32_t y[4] = {0, 3, 9, 1};
    test_rng r = test_rng_new(950);
    test_fill_uniform(&r, x, 4 * 28 * 28, -1, 2);
    size_t shape[4] = {4, 1, 28, 28};
    TEST_OK(sakd_batch_file_write(batch, x, shape, y));
    ck_assert_int_eq(RUN(NULL, "trace", cfg, "--batch", batch, "--out", trace, "--weights", w), 0);
    sakd_h5_file f;
    TEST_OK(sakd_h5_open(trace, &f));
    const char *must[] = {"/logits",
                          "/loss/ce",
                          "/loss/total",
                          "/grad/conv1.weight",
                          "/grad/fc.bias",
                          "/firing/sn1",
                          "/grad/layer4.1.bn2.weight"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(sakd_h5_exists(f, must[i]), "trace lacks %s", must[i]);
    float logits[40];
    TEST_OK(sakd_h5_read_float(f, "/logits", 2, (size_t[]){4, 10}, logits));
    for (int i = 0; i < 40; i++)
        ck_assert(isfinite(logits[i]));
    sakd_h5_close(f);
    check_eval_batch(w, x, y);
    check_export_nir(w);
}
END_TEST

START_TEST(test_cli_sigint_and_resume)
{
    /* SIGINT during `sakd train`: exit 130 with the checkpoint named; the same command again
     * resumes and finishes; a third time reports the run complete. */
    char cfg[PATH_MAX + 32], run[PATH_MAX + 32], text[PATH_MAX + 512], log[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/sig.ini", dir);
    snprintf(run, sizeof run, "%s/sigrun", dir);
    snprintf(log, sizeof log, "%s/sig.out", dir);
    snprintf(text, sizeof text,
             "[model]\nname = resnet18\nwidth = 0.125\nT = 2\n[data]\ntrain_limit = 256\n"
             "test_limit = 32\n[train]\nepochs = 4\nbatch = 16\n[run]\nout = %s\n",
             run);
    write_file(cfg, text);
    const char *bin = getenv("SAKD_BIN");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        (void)f;
        dup2(1, 2);
        execl(bin, bin, "train", cfg, (char *)NULL);
        _exit(127);
    }
    /* Wait until training has started (the first step line or epoch), then interrupt. */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/config.ini", run);
    for (int i = 0; i < 600 && access(path, F_OK) != 0; i++)
        sleep_ms(100);
    sleep_ms(1500);
    kill(pid, SIGINT);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    char *text_out;
    size_t n;
    TEST_OK(sakd_file_read(log, &text_out, &n));
    if (strstr(text_out, "dataset-fashion-mnist")) { /* no dataset here */
        free(text_out);
        return;
    }
    ck_assert_msg(WEXITSTATUS(status) == 130, "exit %d after SIGINT:\n%s", WEXITSTATUS(status),
                  text_out);
    ck_assert_ptr_nonnull(strstr(text_out, "run the same command again"));
    int rc = RUN(NULL, "train", cfg);
    /* (The interrupted run's output goes with a failure: a resume once exited 2 with no output
     * of its own in a parallel `make check`, not reproduced since.) */
    ck_assert_msg(rc == 0, "the resume exited %d:\n%s\nafter the interrupted run's:\n%s", rc, out,
                  text_out);
    free(text_out);
    EXPECT_IN_OUTPUT("resuming the unfinished run");
    EXPECT_IN_OUTPUT("test accuracy");
    ck_assert_int_eq(RUN(NULL, "train", cfg), 0);
    EXPECT_IN_OUTPUT("is complete");
    /* Another config aimed at the same run.out is refused. */
    ck_assert_int_eq(RUN(NULL, "train", cfg, "model.T=3"), 2);
    EXPECT_IN_OUTPUT("another config");
}
END_TEST

Suite *suite_train(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_loss_falls, 0, 2);
    tcase_add_loop_test(tc, test_measure_rates_and_sops, 0, 2);
    tcase_add_test(tc, test_deterministic_and_resume);
    tcase_add_loop_test(tc, test_providers_agree, 0, 2);
    tcase_add_test(tc, test_sakd_and_init);
    tcase_add_test(tc, test_sakd_layouts);
    tcase_add_test(tc, test_sakd_without_feature_kd);
    tcase_add_test(tc, test_cli_config_errors);
    tcase_add_test(tc, test_cli_train_eval_trace);
    tcase_add_test(tc, test_interrupt_mid_epoch);
    tcase_add_test(tc, test_interrupt_at_epoch_end);
    tcase_add_test(tc, test_cli_sigint_and_resume);
    suite_add_tcase(s, tc);
    return s;
}
