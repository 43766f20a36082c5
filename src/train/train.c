/* train.c — the training loop, evaluation, checkpoints, resume and the run report. */
#include "train/train.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/csv_file.h"
#include "io/file.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/optim.h"
#include "runtime/log.h"
#include "runtime/rng.h"
#include "runtime/timer.h"
#include "version.h"

/* Adam's constants (PyTorch defaults). */
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f
#define PI 3.14159265358979323846

struct sakd_trainer {
    sakd_config cfg;
    int perm_ready; /* perm holds epoch 0's order (sakd_trainer_step) */
    char out_dir[PATH_MAX];
    int lock; /* fd holding the flock on out_dir/.train.lock, -1 none */
    FILE *log;
    sakd_ctx *ctx;
    sakd_dataset train, test;
    sakd_params sp, tp; /* student (+ proj heads) and teacher parameters */
    sakd_model student, teacher;
    int has_teacher;
    sakd_distill dist;
    sakd_tensor opt_a, opt_b; /* SGD momentum; AdamW exp_avg and exp_avg_sq */
    sakd_tensor grad_norm;    /* [1] for clipping */
    size_t B, steps_per_epoch;
    long next_epoch; /* first epoch still to train (0-based) */
    long long step;  /* optimizer steps taken */
    double best_acc;
    long stop_after;                  /* stop once this many epochs are done (0: run them all) */
    long long stop_at_step;           /* interrupt once this many steps are done (0: never) */
    volatile sig_atomic_t *interrupt; /* set by a signal handler: save and stop */
    float *x;                         /* [B, C, H, W] host batch */
    int32_t *y;                       /* [B] */
    size_t *perm;                     /* [n train] */
    float *logits;                    /* [B, K] host copy */
};

sakd_model *sakd_trainer_student(sakd_trainer *t)
{
    return &t->student;
}

sakd_params *sakd_trainer_params(sakd_trainer *t)
{
    return &t->sp;
}

sakd_distill *sakd_trainer_distill(sakd_trainer *t)
{
    return &t->dist;
}

sakd_model *sakd_trainer_teacher(sakd_trainer *t)
{
    return t->has_teacher ? &t->teacher : NULL;
}

size_t sakd_trainer_test_size(const sakd_trainer *t)
{
    return t->test.n;
}

static void say(sakd_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(sakd_trainer *t, const char *fmt, ...)
{
    if (!t->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->log, fmt, ap);
    va_end(ap);
    fflush(t->log);
}

/* The model description of the config for a dataset; `snn` overrides the arch. */
static void describe(const sakd_config *c, const sakd_dataset *d, int snn, size_t batch,
                     sakd_model_desc *m)
{
    sakd_model_desc_default(m, sakd_model_name_str(c->model.name));
    m->snn = snn;
    m->width = c->model.width;
    m->stem_imagenet = c->model.stem == SAKD_STEM_IMAGENET;
    m->connect = c->model.connect;
    m->T = (size_t)c->model.T;
    m->lif.decay = (float)c->model.decay;
    m->lif.threshold = (float)c->model.threshold;
    m->lif.reset = c->model.reset;
    m->lif.detach_reset = c->model.detach_reset;
    m->lif.surrogate = c->model.surrogate;
    m->lif.alpha = isnan(c->model.surrogate_alpha)
                       ? sakd_surrogate_default_alpha(c->model.surrogate)
                       : (float)c->model.surrogate_alpha;
    m->in_channels = d->channels;
    m->height = d->height;
    m->width_px = d->width;
    m->classes = d->classes;
    m->batch = batch;
}

/* ---- weights in and out --------------------------------------------------------------- */

/* Host copies of every entry of a parameter store: values and buffers. */
static sakd_status download_params(sakd_params *p, float **values, float **buffers)
{
    *values = calloc(p->n_trainable ? p->n_trainable : 1, sizeof **values);
    *buffers = calloc(p->n_buffers ? p->n_buffers : 1, sizeof **buffers);
    if (!*values || !*buffers)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory copying the weights");
    if (p->n_trainable)
        SAKD_TRY(sakd_tensor_download(&p->values, *values));
    if (p->n_buffers)
        SAKD_TRY(sakd_tensor_download(&p->buffers, *buffers));
    return SAKD_OK;
}

static float *entry_host(const sakd_param *e, float *values, float *buffers)
{
    return (e->trainable ? values : buffers) + e->offset;
}

/* How strictly a checkpoint must fit the parameters it is loaded into. */
typedef enum load_mode {
    LOAD_STRICT,   /* every entry there with its shape, and nothing else in /model */
    LOAD_WEIGHTS,  /* the same, except that distillation heads (distill.*) may be missing
                      (left as initialized) or unused (ignored): both reported */
    LOAD_MATCHING, /* level-1 init: what matches by name and shape, the rest reported */
} load_mode;

static int is_head(const char *name)
{
    return strncmp(name, "distill.", 8) == 0;
}

/* Names up to three tensors of a list and how many more there are. */
static void name_some(char *buf, size_t size, const char *const *names, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < 3 && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
    if (n > 3 && used < size)
        snprintf(buf + used, size - used, " and %zu more", n - 3);
}

/* Checks the tensor names of `ck` against the entries of `p` before anything is read: the
 * first entry missing from the file, and the file's tensors that `p` does not have, are errors
 * naming them (`model` says what `p` is), except the heads LOAD_WEIGHTS lets through, which are
 * counted in *skipped_heads / *extra_heads and flagged in skip[] (an entry not to read). */
static sakd_status check_names(const sakd_params *p, const sakd_checkpoint *ck, load_mode mode,
                               const char *model, unsigned char *skip, size_t *skipped_heads,
                               size_t *extra_heads)
{
    const char *path = sakd_checkpoint_path(ck);
    *skipped_heads = *extra_heads = 0;
    for (size_t i = 0; i < p->count; i++) {
        const char *name = p->items[i].name;
        if (sakd_checkpoint_has_model(ck, name))
            continue;
        if (mode == LOAD_WEIGHTS && is_head(name)) {
            skip[i] = 1;
            (*skipped_heads)++;
            continue;
        }
        return sakd_error(SAKD_ERR_FORMAT,
                          "%s has no tensor %s, which %s needs (a checkpoint of another "
                          "architecture or width?)",
                          path, name, model);
    }
    size_t n = sakd_checkpoint_model_count(ck), n_bad = 0;
    const char **bad = calloc(n ? n : 1, sizeof *bad);
    if (!bad)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory checking %s", path);
    for (size_t j = 0; j < n; j++) {
        const char *name = sakd_checkpoint_model_info(ck, j)->name;
        if (sakd_params_find(p, name) >= 0)
            continue;
        if (mode == LOAD_WEIGHTS && is_head(name))
            (*extra_heads)++;
        else
            bad[n_bad++] = name;
    }
    sakd_status st = SAKD_OK;
    if (n_bad) {
        char some[400];
        name_some(some, sizeof some, bad, n_bad);
        st = sakd_error(SAKD_ERR_FORMAT,
                        "%s holds %zu tensor%s that %s does not have: %s (a checkpoint of "
                        "another architecture or width? nothing is dropped silently)",
                        path, n_bad, n_bad == 1 ? "" : "s", model, some);
    }
    free(bad);
    return st;
}

/* A note to the run's log, or a warning where there is none. */
static void report(FILE *log, const char *note)
{
    if (log)
        fprintf(log, "%s\n", note);
    else
        sakd_log(SAKD_LOG_WARN, "%s", note);
}

/* "the student (resnet18 width 0.25)" */
static const char *model_label(const sakd_model *m, const char *role, char *buf, size_t size)
{
    snprintf(buf, size, "the %s (%s width %g)", role, m->desc.name, m->desc.width);
    return buf;
}

/* Reads the entries of `p` from checkpoint `ck` as `mode` says (see load_mode; `model` names
 * what `p` belongs to in messages, `log` takes the reports). Returns the count copied. */
static sakd_status load_params(sakd_params *p, sakd_checkpoint *ck, load_mode mode,
                               const char *model, FILE *log, size_t *copied)
{
    float *values = NULL, *buffers = NULL;
    unsigned char *skip = calloc(p->count ? p->count : 1, 1);
    size_t skipped_heads = 0, extra_heads = 0;
    sakd_status st = skip ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    if (st == SAKD_OK && mode != LOAD_MATCHING)
        st = check_names(p, ck, mode, model, skip, &skipped_heads, &extra_heads);
    if (st == SAKD_OK)
        st = download_params(p, &values, &buffers);
    *copied = 0;
    for (size_t i = 0; i < p->count && st == SAKD_OK; i++) {
        const sakd_param *e = &p->items[i];
        if (skip[i])
            continue;
        if (mode == LOAD_MATCHING) {
            int match = 0;
            for (size_t j = 0; j < sakd_checkpoint_model_count(ck) && !match; j++) {
                const sakd_ckpt_tensor *ti = sakd_checkpoint_model_info(ck, j);
                if (strcmp(ti->name, e->name) != 0 || ti->ndim != e->ndim)
                    continue;
                match = memcmp(ti->shape, e->shape, (size_t)e->ndim * sizeof e->shape[0]) == 0;
            }
            if (!match) {
                if (log)
                    fprintf(log, "  not copied: %s (%s)\n", e->name,
                            sakd_checkpoint_has_model(ck, e->name) ? "shape differs"
                                                                   : "not in the teacher");
                continue;
            }
        }
        st = sakd_checkpoint_read_model(ck, e->name, e->ndim, e->shape,
                                        entry_host(e, values, buffers));
        if (st == SAKD_OK)
            (*copied)++;
    }
    if (st == SAKD_OK && p->n_trainable)
        st = sakd_tensor_upload(&p->values, values);
    if (st == SAKD_OK && p->n_buffers)
        st = sakd_tensor_upload(&p->buffers, buffers);
    char note[PATH_MAX + 160];
    if (st == SAKD_OK && skipped_heads) {
        snprintf(note, sizeof note,
                 "%s: %zu distillation head tensor%s not in the file, left as initialized",
                 sakd_checkpoint_path(ck), skipped_heads, skipped_heads == 1 ? "" : "s");
        report(log, note);
    }
    if (st == SAKD_OK && extra_heads) {
        snprintf(note, sizeof note, "%s: ignored %zu distillation head tensor%s (%s has none)",
                 sakd_checkpoint_path(ck), extra_heads, extra_heads == 1 ? "" : "s", model);
        report(log, note);
    }
    free(skip);
    free(values);
    free(buffers);
    return st;
}

static const char *opt_state_name(const sakd_trainer *t, int which)
{
    if (t->cfg.train.optimizer == SAKD_OPTIMIZER_ADAMW)
        return which ? "exp_avg_sq" : "exp_avg";
    return which ? NULL : "momentum";
}

static sakd_status save_checkpoint(sakd_trainer *t, const char *path, double test_acc)
{
    sakd_params *p = &t->sp;
    float *values = NULL, *buffers = NULL, *opt[2] = {NULL, NULL};
    sakd_ckpt_tensor *model = calloc(p->count, sizeof *model);
    sakd_ckpt_tensor *optim = calloc(2 * p->count + 1, sizeof *optim);
    char *config = NULL;
    sakd_status st = model && optim ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    if (st == SAKD_OK)
        st = download_params(p, &values, &buffers);
    for (int w = 0; w < 2 && st == SAKD_OK; w++) {
        sakd_tensor *state = w ? &t->opt_b : &t->opt_a;
        if (!opt_state_name(t, w) || !state->buf)
            continue;
        opt[w] = malloc(p->n_trainable * sizeof(float));
        st = opt[w] ? sakd_tensor_download(state, opt[w])
                    : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    size_t n_opt = 0;
    for (size_t i = 0; i < p->count && st == SAKD_OK; i++) {
        const sakd_param *e = &p->items[i];
        sakd_ckpt_tensor *m = &model[i];
        snprintf(m->name, sizeof m->name, "%s", e->name);
        m->ndim = e->ndim;
        memcpy(m->shape, e->shape, sizeof m->shape);
        m->data = entry_host(e, values, buffers);
        for (int w = 0; w < 2 && e->trainable; w++) {
            if (!opt[w])
                continue;
            sakd_ckpt_tensor *o = &optim[n_opt++];
            snprintf(o->name, sizeof o->name, "%s/%s", e->name, opt_state_name(t, w));
            o->ndim = e->ndim;
            memcpy(o->shape, e->shape, sizeof o->shape);
            o->data = opt[w] + e->offset;
        }
    }
    if (st == SAKD_OK)
        st = sakd_config_to_ini(&t->cfg, &config);
    if (st == SAKD_OK) {
        sakd_ckpt_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.config = config;
        snprintf(meta.arch, sizeof meta.arch, "%s", sakd_arch_str(t->cfg.model.arch));
        snprintf(meta.model, sizeof meta.model, "%s", sakd_model_name_str(t->cfg.model.name));
        meta.width = t->cfg.model.width;
        meta.T = t->cfg.model.T;
        snprintf(meta.dataset, sizeof meta.dataset, "%s", t->train.name);
        meta.classes = (long)t->train.classes;
        meta.in_channels = (long)t->train.channels;
        meta.epoch = t->next_epoch;
        meta.step = t->step;
        meta.seed = (long long)t->cfg.train.seed;
        meta.test_acc = test_acc;
        snprintf(meta.git, sizeof meta.git, "%s", sakd_build_git());
        snprintf(meta.device, sizeof meta.device, "%.255s", t->ctx->info.name);
        snprintf(meta.driver, sizeof meta.driver, "%.127s", t->ctx->info.driver);
        snprintf(meta.optimizer, sizeof meta.optimizer, "%s",
                 sakd_optimizer_str(t->cfg.train.optimizer));
        meta.rng_counter = t->step;
        st = sakd_checkpoint_write(path, model, p->count, optim, n_opt, &meta);
    }
    free(config);
    free(values);
    free(buffers);
    free(opt[0]);
    free(opt[1]);
    free(model);
    free(optim);
    return st;
}

sakd_status sakd_trainer_load_weights(sakd_trainer *t, const char *path)
{
    sakd_checkpoint *ck;
    SAKD_TRY(sakd_checkpoint_open(&ck, path));
    size_t copied;
    char label[96];
    sakd_status st =
        load_params(&t->sp, ck, LOAD_WEIGHTS,
                    model_label(&t->student, "student", label, sizeof label), t->log, &copied);
    sakd_checkpoint_close(ck);
    return st;
}

/* Continues from a checkpoint of this run: weights, optimizer state, epoch and step. */
static sakd_status resume(sakd_trainer *t, const char *path)
{
    sakd_checkpoint *ck;
    SAKD_TRY(sakd_checkpoint_open(&ck, path));
    size_t copied;
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    char label[96];
    sakd_status st =
        load_params(&t->sp, ck, LOAD_STRICT, model_label(&t->student, "run", label, sizeof label),
                    NULL, &copied);
    if (st == SAKD_OK)
        st = sakd_checkpoint_read_meta(ck, &meta);
    if (st == SAKD_OK && strcmp(meta.optimizer, sakd_optimizer_str(t->cfg.train.optimizer)))
        st = sakd_error(SAKD_ERR_FORMAT, "%s was written with optimizer '%s', this run uses '%s'",
                        path, meta.optimizer, sakd_optimizer_str(t->cfg.train.optimizer));
    float *opt = st == SAKD_OK ? malloc(t->sp.n_trainable * sizeof *opt) : NULL;
    if (st == SAKD_OK && !opt)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (int w = 0; w < 2 && st == SAKD_OK; w++) {
        const char *state = opt_state_name(t, w);
        if (!state)
            continue;
        for (size_t i = 0; i < t->sp.count && st == SAKD_OK; i++) {
            const sakd_param *e = &t->sp.items[i];
            char name[192];
            if (!e->trainable)
                continue;
            snprintf(name, sizeof name, "%s/%s", e->name, state);
            st = sakd_checkpoint_read_optim(ck, name, e->ndim, e->shape, opt + e->offset);
        }
        if (st == SAKD_OK)
            st = sakd_tensor_upload(w ? &t->opt_b : &t->opt_a, opt);
    }
    if (st == SAKD_OK) {
        t->next_epoch = meta.epoch;
        t->step = meta.step;
        t->best_acc = meta.test_acc;
        long long into = t->step - (long long)t->next_epoch * (long long)t->steps_per_epoch;
        if (into < 0 || into >= (long long)t->steps_per_epoch)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "%s: step %lld does not fall in epoch %ld of %zu steps (a different "
                            "batch size or data subset?)",
                            path, t->step, t->next_epoch + 1, t->steps_per_epoch);
        else
            say(t, "resumed %s at epoch %ld, step %lld of %zu in it\n", path, t->next_epoch + 1,
                into, t->steps_per_epoch);
    }
    free(opt);
    sakd_ckpt_meta_free(&meta);
    sakd_checkpoint_close(ck);
    return st;
}

/* The teacher's description (DESIGN.md §2.5), from what its checkpoint says of itself: /meta's
 * model, width, classes and input channels, its config's stem and SEW connect; without /meta,
 * distill.teacher_model / teacher_width, else the student's. Keys that contradict /meta, an SNN
 * checkpoint and a classifier for other classes are refused. */
static sakd_status teacher_desc(sakd_trainer *t, sakd_model_desc *td)
{
    const sakd_config *c = &t->cfg;
    const char *path = c->distill.teacher;
    describe(c, &t->train, 0, t->B, td);
    if (c->distill.teacher_model != SAKD_TEACHER_MODEL_AUTO)
        snprintf(td->name, sizeof td->name, "%s",
                 sakd_model_name_str((sakd_model_name)c->distill.teacher_model));
    if (c->distill.teacher_width > 0)
        td->width = c->distill.teacher_width;
    sakd_checkpoint *ck;
    sakd_status st = sakd_checkpoint_open(&ck, path);
    if (st != SAKD_OK)
        return sakd_error(st, "distill.teacher: %s", sakd_error_detail());
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    int has_meta = sakd_checkpoint_has_meta(ck);
    if (has_meta)
        st = sakd_checkpoint_read_meta(ck, &meta);
    sakd_checkpoint_close(ck);
    const char *from = "the student's (the file has no /meta)";
    if (st == SAKD_OK && has_meta && meta.model[0]) {
        from = "the checkpoint's /meta";
        if (strcmp(meta.arch, "snn") == 0)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "distill.teacher %s is an SNN (arch snn); the teacher "
                            "must be an ANN",
                            path);
        else if (c->distill.teacher_model != SAKD_TEACHER_MODEL_AUTO &&
                 strcmp(td->name, meta.model) != 0)
            st = sakd_error(SAKD_ERR_ARG, "distill.teacher_model = %s, but %s is a %s", td->name,
                            path, meta.model);
        else if (c->distill.teacher_width > 0 && meta.width > 0 &&
                 fabs(meta.width - c->distill.teacher_width) > 1e-9)
            st = sakd_error(SAKD_ERR_ARG, "distill.teacher_width = %g, but %s has width %g",
                            c->distill.teacher_width, path, meta.width);
        else if (meta.classes > 0 && (size_t)meta.classes != td->classes)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "teacher %s classifies %ld classes, the dataset has %zu", path,
                            meta.classes, td->classes);
        else if (meta.in_channels > 0 && (size_t)meta.in_channels != td->in_channels)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "teacher %s takes %ld input channels, the dataset has %zu", path,
                            meta.in_channels, td->in_channels);
        if (st == SAKD_OK) {
            snprintf(td->name, sizeof td->name, "%s", meta.model);
            if (meta.width > 0)
                td->width = meta.width;
        }
        sakd_config theirs;
        if (st == SAKD_OK && meta.config && sakd_config_init(&theirs) == SAKD_OK) {
            if (sakd_config_load_string(&theirs, meta.config, path) == SAKD_OK) {
                td->stem_imagenet = theirs.model.stem == SAKD_STEM_IMAGENET;
                td->connect = theirs.model.connect;
            }
            sakd_error_clear();
            sakd_config_free(&theirs);
        }
    } else if (st == SAKD_OK && (c->distill.teacher_model != SAKD_TEACHER_MODEL_AUTO ||
                                 c->distill.teacher_width > 0)) {
        from = "distill.teacher_model / teacher_width";
    }
    sakd_ckpt_meta_free(&meta);
    if (st == SAKD_OK && !sakd_model_known(td->name))
        st = sakd_error(SAKD_ERR_FORMAT, "teacher %s: unknown architecture %s", path, td->name);
    if (st == SAKD_OK)
        say(t, "teacher %s: %s width %g, from %s\n", path, td->name, td->width, from);
    return st;
}

/* Loads the frozen ANN teacher built by teacher_desc: every tensor of its architecture, and
 * nothing else in the file. */
static sakd_status load_teacher(sakd_trainer *t)
{
    const char *path = t->cfg.distill.teacher;
    sakd_checkpoint *ck;
    sakd_status st = sakd_checkpoint_open(&ck, path);
    if (st != SAKD_OK)
        return sakd_error(st, "distill.teacher: %s", sakd_error_detail());
    size_t copied;
    char label[96];
    st = load_params(&t->tp, ck, LOAD_STRICT,
                     model_label(&t->teacher, "teacher", label, sizeof label), NULL, &copied);
    sakd_checkpoint_close(ck);
    if (st != SAKD_OK)
        return sakd_error(st, "loading the teacher: %s", sakd_error_detail());
    return SAKD_OK;
}

/* Level-1 initialization: copies every student entry whose name and shape match. */
static sakd_status init_from_teacher(sakd_trainer *t)
{
    sakd_checkpoint *ck;
    SAKD_TRY(sakd_checkpoint_open(&ck, t->cfg.distill.teacher));
    size_t copied;
    say(t, "initializing the student from %s:\n", t->cfg.distill.teacher);
    sakd_status st = load_params(&t->sp, ck, LOAD_MATCHING, "the student", t->log, &copied);
    sakd_checkpoint_close(ck);
    SAKD_TRY(st);
    say(t, "  copied %zu of %zu tensors\n", copied, t->sp.count);
    if (copied == 0)
        return sakd_error(SAKD_ERR_FORMAT,
                          "distill.init_from_teacher: no tensor of %s matches the student by "
                          "name and shape",
                          t->cfg.distill.teacher);
    return SAKD_OK;
}

/* ---- set-up ------------------------------------------------------------------------------ */

sakd_status sakd_trainer_new(sakd_trainer **out, const sakd_config *cfg, const char *out_dir,
                             sakd_dataset *train, sakd_dataset *test, FILE *log)
{
    *out = NULL;
    sakd_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    t->log = log;
    t->lock = -1;
    sakd_status st = sakd_config_copy(&t->cfg, cfg);
    if (st != SAKD_OK) {
        free(t);
        return st;
    }
    *out = t;
    sakd_config_resolve(&t->cfg);
    SAKD_TRY(sakd_config_validate(&t->cfg));
    snprintf(t->out_dir, sizeof t->out_dir, "%s", out_dir ? out_dir : "");
    if (train && test) {
        t->train = *train;
        t->test = *test;
        memset(train, 0, sizeof *train);
        memset(test, 0, sizeof *test);
    } else {
        SAKD_TRY(sakd_dataset_load(&t->train, &t->test, sakd_dataset_str(t->cfg.data.dataset),
                                   t->cfg.data.dir, (size_t)t->cfg.data.train_limit,
                                   (size_t)t->cfg.data.test_limit));
    }
    t->B = (size_t)t->cfg.train.batch;
    if (t->train.n < t->B)
        return sakd_error(SAKD_ERR_ARG, "train.batch = %zu is larger than the %zu training samples",
                          t->B, t->train.n);
    t->steps_per_epoch = t->train.n / t->B; /* the last partial batch is dropped */
    SAKD_TRY(sakd_ctx_new(&t->ctx, t->cfg.run.device[0] ? t->cfg.run.device : NULL, 0));
    if (sakd_gemm_provider_set(t->ctx, sakd_config_gemm_request(&t->cfg)) != SAKD_OK)
        return sakd_error(SAKD_ERR_ARG, "run.gemm_provider = %s: %s",
                          sakd_gemm_choice_str(t->cfg.run.gemm_provider), sakd_error_detail());
    if (sakd_conv_provider_set(t->ctx, sakd_config_conv_request(&t->cfg)) != SAKD_OK)
        return sakd_error(SAKD_ERR_ARG, "run.conv_provider = %s: %s",
                          sakd_conv_choice_str(t->cfg.run.conv_provider), sakd_error_detail());

    int snn = t->cfg.model.arch == SAKD_ARCH_SNN;
    sakd_model_desc sd, td;
    describe(&t->cfg, &t->train, snn, t->B, &sd);
    sakd_params_init(&t->sp, t->ctx);
    SAKD_TRY(sakd_model_build(&t->student, t->ctx, &t->sp, &sd));
    t->has_teacher = t->cfg.distill.teacher[0] != '\0';
    if (t->has_teacher) {
        SAKD_TRY(teacher_desc(t, &td));
        sakd_params_init(&t->tp, t->ctx);
        SAKD_TRY(sakd_model_build(&t->teacher, t->ctx, &t->tp, &td));
    }
    sakd_distill_cfg dc = {
        .alpha = t->has_teacher ? t->cfg.distill.alpha : 1.0,
        .beta = t->cfg.distill.beta,
        .gamma = t->cfg.distill.gamma,
        .tau = t->cfg.distill.tau,
        .transform = t->cfg.distill.transform,
        .proj_relu = t->cfg.distill.proj_relu,
        .distance = t->cfg.distill.distance,
        .feature_tau = t->cfg.distill.feature_tau,
        .per_block = t->cfg.distill.position == SAKD_POSITION_BLOCK_AFTER_SPIKE ||
                     t->cfg.distill.position == SAKD_POSITION_BLOCK_BEFORE_SPIKE,
        .tap = t->cfg.distill.position == SAKD_POSITION_STAGE_BEFORE_SPIKE ||
                       t->cfg.distill.position == SAKD_POSITION_BLOCK_BEFORE_SPIKE
                   ? SAKD_TAP_BEFORE
                   : SAKD_TAP_AFTER,
    };
    SAKD_TRY(sakd_distill_build(&t->dist, t->ctx, &t->student, t->has_teacher ? &t->teacher : NULL,
                                &t->sp, &dc));
    SAKD_TRY(sakd_params_allocate(&t->sp));
    SAKD_TRY(sakd_params_initialize(&t->sp, t->cfg.train.seed));
    SAKD_TRY(sakd_graph_allocate(&t->student.graph));
    if (t->has_teacher) {
        SAKD_TRY(sakd_params_allocate(&t->tp));
        SAKD_TRY(sakd_graph_allocate(&t->teacher.graph));
        SAKD_TRY(load_teacher(t));
    }
    SAKD_TRY(sakd_distill_allocate(&t->dist));
    size_t n = t->sp.n_trainable, one = 1;
    SAKD_TRY(sakd_tensor_new(&t->opt_a, t->ctx, "optimizer state 1", 1, &n));
    SAKD_TRY(sakd_tensor_fill(&t->opt_a, 0.0f));
    if (t->cfg.train.optimizer == SAKD_OPTIMIZER_ADAMW) {
        SAKD_TRY(sakd_tensor_new(&t->opt_b, t->ctx, "optimizer state 2", 1, &n));
        SAKD_TRY(sakd_tensor_fill(&t->opt_b, 0.0f));
    }
    SAKD_TRY(sakd_tensor_new(&t->grad_norm, t->ctx, "gradient norm", 1, &one));
    const sakd_dataset *d = &t->train;
    t->x = malloc(t->B * d->channels * d->height * d->width * sizeof *t->x);
    t->y = malloc(t->B * sizeof *t->y);
    t->perm = malloc(d->n * sizeof *t->perm);
    t->logits = malloc(t->B * d->classes * sizeof *t->logits);
    if (!t->x || !t->y || !t->perm || !t->logits)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the batch buffers");

    if (t->cfg.train.resume[0])
        SAKD_TRY(resume(t, t->cfg.train.resume));
    else if (t->cfg.distill.init_from_teacher)
        SAKD_TRY(init_from_teacher(t));
    /* The run directory is created only once every input has been accepted: a rejected
     * config, dataset or checkpoint leaves nothing behind. */
    if (out_dir) {
        char *ini = NULL, path[PATH_MAX + 16];
        SAKD_TRY(sakd_mkdir_p(out_dir));
        /* One writer per run directory; under its lock, the temporary files of a process
         * killed mid-write (SIGKILL, power loss) are removed. */
        snprintf(path, sizeof path, "%s/.train.lock", out_dir);
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "the run directory %s", out_dir);
        SAKD_TRY(sakd_file_lock(path, what, &t->lock));
        int stale = 0;
        SAKD_TRY(sakd_file_remove_temps(out_dir, &stale));
        if (stale > 0)
            sakd_log(SAKD_LOG_INFO, "removed %d temporary file%s left in %s by an interrupted run",
                     stale, stale == 1 ? "" : "s", out_dir);
        SAKD_TRY(sakd_config_to_ini(&t->cfg, &ini));
        snprintf(path, sizeof path, "%s/config.ini", out_dir);
        st = sakd_file_write_atomic(path, ini, strlen(ini));
        free(ini);
        SAKD_TRY(st);
    }
    return SAKD_OK;
}

/* ---- steps, evaluation, measurement -------------------------------------------------------- */

static double lr_at(const sakd_trainer *t, long long step)
{
    double base = t->cfg.train.lr;
    long long total = (long long)t->cfg.train.epochs * (long long)t->steps_per_epoch;
    long long warm = (long long)t->cfg.train.warmup_epochs * (long long)t->steps_per_epoch;
    if (step < warm)
        return base * (double)(step + 1) / (double)warm;
    if (t->cfg.train.schedule == SAKD_SCHEDULE_CONSTANT || total <= warm)
        return base;
    return base * 0.5 * (1.0 + cos(PI * (double)(step - warm) / (double)(total - warm)));
}

static double beta_at(const sakd_trainer *t, long epoch)
{
    if (t->cfg.distill.beta_epochs > 0 && epoch >= t->cfg.distill.beta_epochs)
        return t->cfg.distill.beta_late;
    return t->cfg.distill.beta;
}

/* Uploads a host batch to the student's (and teacher's) input. */
static sakd_status upload_batch(sakd_trainer *t)
{
    SAKD_TRY(
        sakd_tensor_upload(&sakd_graph_act_get(&t->student.graph, t->student.input)->value, t->x));
    if (t->has_teacher)
        SAKD_TRY(sakd_tensor_upload(&sakd_graph_act_get(&t->teacher.graph, t->teacher.input)->value,
                                    t->x));
    return SAKD_OK;
}

static size_t count_correct(const float *logits, const int32_t *y, size_t n, size_t k)
{
    size_t correct = 0;
    for (size_t b = 0; b < n; b++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (logits[b * k + j] > logits[b * k + best])
                best = j;
        correct += (int32_t)best == y[b];
    }
    return correct;
}

static sakd_status optimizer_step(sakd_trainer *t)
{
    const sakd_config *c = &t->cfg;
    float lr = (float)lr_at(t, t->step);
    if (c->train.grad_clip > 0) {
        SAKD_TRY(sakd_grad_norm(&t->grad_norm, &t->sp.grads));
        SAKD_TRY(sakd_grad_clip(&t->sp.grads, &t->grad_norm, (float)c->train.grad_clip));
    }
    t->step++;
    if (c->train.optimizer == SAKD_OPTIMIZER_ADAMW)
        return sakd_adamw_step(&t->sp.values, &t->opt_a, &t->opt_b, &t->sp.grads, lr, ADAM_BETA1,
                               ADAM_BETA2, ADAM_EPS, (float)c->train.weight_decay, (long)t->step);
    return sakd_sgd_step(&t->sp.values, c->train.momentum > 0 ? &t->opt_a : NULL, &t->sp.grads, lr,
                         (float)c->train.momentum, (float)c->train.weight_decay,
                         c->train.nesterov && c->train.momentum > 0);
}

sakd_status sakd_trainer_evaluate(sakd_trainer *t, double *acc, double *loss)
{
    const sakd_dataset *d = &t->test;
    size_t k = d->classes, correct = 0, *idx = malloc(t->B * sizeof *idx);
    double ce = 0.0;
    if (!idx)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    sakd_status st = SAKD_OK;
    for (size_t start = 0; start < d->n && st == SAKD_OK; start += t->B) {
        size_t valid = d->n - start < t->B ? d->n - start : t->B;
        for (size_t b = 0; b < t->B; b++)
            idx[b] = start + (b < valid ? b : 0); /* pad the last batch; only `valid` count */
        sakd_dataset_batch(d, idx, t->B, 0, 0, 0, 0, t->x, t->y);
        st = sakd_tensor_upload(&sakd_graph_act_get(&t->student.graph, t->student.input)->value,
                                t->x);
        if (st == SAKD_OK)
            st = sakd_graph_forward(&t->student.graph, 0);
        if (st == SAKD_OK)
            st = sakd_tensor_download(
                &sakd_graph_act_get(&t->student.graph, t->student.logits)->value, t->logits);
        if (st != SAKD_OK)
            break;
        correct += count_correct(t->logits, t->y, valid, k);
        for (size_t b = 0; b < valid; b++) {
            const float *z = t->logits + b * k;
            double m = z[0], s = 0.0;
            for (size_t j = 1; j < k; j++)
                m = fmax(m, z[j]);
            for (size_t j = 0; j < k; j++)
                s += exp(z[j] - m);
            ce += m + log(s) - z[t->y[b]];
        }
    }
    free(idx);
    SAKD_TRY(st);
    *acc = d->n ? (double)correct / (double)d->n : 0.0;
    if (loss)
        *loss = d->n ? ce / (double)d->n : 0.0;
    return SAKD_OK;
}

static double act_mean(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : 0.0;
}

sakd_status sakd_trainer_measure(sakd_trainer *t, size_t max_images, sakd_report *r)
{
    sakd_graph *g = &t->student.graph;
    const sakd_dataset *d = &t->test;
    size_t batches = (max_images + t->B - 1) / t->B, nb = 0;
    if (batches * t->B > d->n)
        batches = d->n / t->B > 0 ? d->n / t->B : 1;
    double *mean = calloc(g->n_acts, sizeof *mean);
    size_t *idx = malloc(t->B * sizeof *idx), largest = 1;
    /* The activations to average, each once: the output of every spiking layer and the input
     * of every conv or linear layer (one activation often feeds two, e.g. a block's conv1 and
     * its downsample conv, and is also a spiking layer's output). */
    unsigned char *wanted = calloc(g->n_acts, 1);
    for (size_t i = 0; wanted && i < g->n_nodes; i++) {
        const sakd_node *n = &g->nodes[i];
        int id = sakd_node_spikes(n) ? n->out : sakd_node_macs_per_row(g, n) > 0 ? n->in[0] : -1;
        if (id >= 0)
            wanted[id] = 1;
    }
    for (size_t i = 0; i < g->n_acts; i++) {
        size_t n = sakd_tensor_numel(&g->acts[i].value);
        largest = n > largest ? n : largest;
    }
    float *host = malloc(largest * sizeof *host);
    sakd_status st =
        mean && idx && host && wanted ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t bi = 0; bi < batches && st == SAKD_OK; bi++, nb++) {
        for (size_t b = 0; b < t->B; b++)
            idx[b] = (bi * t->B + b) % d->n;
        sakd_dataset_batch(d, idx, t->B, 0, 0, 0, 0, t->x, t->y);
        st = sakd_tensor_upload(&g->acts[t->student.input].value, t->x);
        if (st == SAKD_OK)
            st = sakd_graph_forward(g, 0);
        for (size_t id = 0; id < g->n_acts && st == SAKD_OK; id++) {
            if (!wanted[id])
                continue;
            sakd_tensor *v = &g->acts[id].value;
            st = sakd_tensor_download(v, host);
            if (st == SAKD_OK)
                mean[id] += act_mean(host, sakd_tensor_numel(v));
        }
    }
    if (st == SAKD_OK) {
        int snn = g->snn;
        double T = (double)g->T, sops = 0.0, macs = 0.0, rate_sum = 0.0;
        r->n_layers = 0;
        for (size_t i = 0; i < g->n_nodes; i++) {
            const sakd_node *n = &g->nodes[i];
            if (sakd_node_spikes(n) && r->n_layers < 128) {
                double rate = mean[n->out] / (double)nb;
                snprintf(r->layer_name[r->n_layers], sizeof r->layer_name[0], "%s", n->name);
                r->layer_rate[r->n_layers++] = rate;
                rate_sum += rate;
            }
            double m = sakd_node_macs_per_row(g, n); /* of one row: image, or image at a step */
            if (m == 0.0)
                continue;
            const sakd_act *in = &g->acts[n->in[0]], *out = &g->acts[n->out];
            size_t rows = out->shape[0];
            if (!snn || n->in[0] == t->student.input) {
                macs += m * (double)rows / (double)t->B;
            } else {
                /* Spike-driven: accumulates only where inputs are non-zero, each time step. */
                double rate = mean[n->in[0]] / (double)nb;
                sops += rate * (in->time_major ? 1.0 : T) * m * (double)rows / (double)t->B;
            }
        }
        r->sops_per_image = sops;
        r->macs_per_image = macs;
        r->energy_uj = (SAKD_ENERGY_AC_PJ * sops + SAKD_ENERGY_MAC_PJ * macs) * 1e-6;
        r->mean_firing_rate = r->n_layers ? rate_sum / (double)r->n_layers : 0.0;
        r->peak_mem_mib = (double)t->ctx->mem_peak / (1024.0 * 1024.0);
    }
    free(mean);
    free(wanted);
    free(idx);
    free(host);
    return st;
}

/* ---- the per-epoch CSV log ------------------------------------------------------------------ */

static const char *log_columns[] = {"epoch",    "lr",           "beta",         "loss_total",
                                    "loss_ce",  "loss_feature", "loss_logit",   "train_acc",
                                    "test_acc", "test_loss",    "images_per_s", "epoch_s"};
#define N_LOG_COLUMNS (sizeof log_columns / sizeof log_columns[0])

/* Appends this epoch's row to out_dir/log.csv after the header and the rows of the epochs
 * before it (a resumed run rewrites the rows of the epochs it trains again). */
static sakd_status log_row(sakd_trainer *t, const double *values)
{
    char path[PATH_MAX + 16], cells[N_LOG_COLUMNS][64];
    const char *row[N_LOG_COLUMNS];
    snprintf(path, sizeof path, "%s/log.csv", t->out_dir);
    for (size_t c = 0; c < N_LOG_COLUMNS; c++) {
        snprintf(cells[c], sizeof cells[c], c == 0 ? "%.0f" : "%.6g", values[c]);
        row[c] = cells[c];
    }
    return sakd_csv_append(path, log_columns, N_LOG_COLUMNS, row, 1, t->next_epoch);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static sakd_status check_finite(sakd_trainer *t, long epoch)
{
    const sakd_distill *d = &t->dist;
    const struct {
        const char *name;
        double v;
    } terms[] = {{"cross-entropy", d->loss_ce},
                 {"feature KD", d->loss_feature},
                 {"logit KD", d->loss_logit},
                 {"total", d->loss_total}};
    for (size_t i = 0; i < 4; i++)
        if (!isfinite(terms[i].v))
            return sakd_error(SAKD_ERR_CHECK,
                              "the %s loss became %g at epoch %ld, step %lld; stopping (the last "
                              "checkpoint, from the end of the previous epoch, is kept)",
                              terms[i].name, terms[i].v, epoch + 1, t->step + 1);
    return SAKD_OK;
}

/* One optimizer step on batch s of the current epoch order: forward (teacher, student,
 * losses), backward, update, and the logits back on the host for the training accuracy. */
static sakd_status train_step(sakd_trainer *t, long epoch, size_t s, double beta)
{
    const sakd_config *c = &t->cfg;
    sakd_dataset_batch(&t->train, t->perm + s * t->B, t->B, c->data.crop_padding, c->data.flip,
                       c->train.seed, (uint64_t)t->step, t->x, t->y);
    SAKD_TRY(upload_batch(t));
    SAKD_TRY(sakd_distill_set_labels(&t->dist, t->y));
    if (t->has_teacher)
        SAKD_TRY(sakd_graph_forward(&t->teacher.graph, 0));
    SAKD_TRY(sakd_graph_forward(&t->student.graph, 1));
    SAKD_TRY(sakd_distill_forward(&t->dist, beta, 1));
    SAKD_TRY(check_finite(t, epoch));
    SAKD_TRY(sakd_distill_backward(&t->dist));
    SAKD_TRY(optimizer_step(t));
    return sakd_tensor_download(&sakd_graph_act_get(&t->student.graph, t->student.logits)->value,
                                t->logits);
}

sakd_status sakd_trainer_step(sakd_trainer *t, size_t index)
{
    if (index == 0 || !t->perm_ready) {
        sakd_dataset_shuffle(t->perm, t->train.n, t->cfg.train.seed, 0);
        t->perm_ready = 1;
    }
    return train_step(t, 0, index % t->steps_per_epoch, beta_at(t, 0));
}

sakd_ctx *sakd_trainer_ctx(sakd_trainer *t)
{
    return t->ctx;
}

sakd_status sakd_trainer_save(sakd_trainer *t, const char *path)
{
    return save_checkpoint(t, path, t->best_acc);
}

/* Every weight and BN statistic is finite: a run whose weights overflowed (while the loss,
 * normalized by BN, still looked finite) stops before it evaluates, logs or saves. */
static sakd_status check_weights_finite(sakd_trainer *t, long epoch)
{
    sakd_params *p = &t->sp;
    float *values = NULL, *buffers = NULL;
    sakd_status st = download_params(p, &values, &buffers);
    for (size_t i = 0; i < p->count && st == SAKD_OK; i++) {
        const sakd_param *e = &p->items[i];
        const float *v = entry_host(e, values, buffers);
        for (size_t j = 0; j < e->numel; j++)
            if (!isfinite(v[j])) {
                st = sakd_error(SAKD_ERR_CHECK,
                                "%s %s element %zu became %g at epoch %ld, step %lld; stopping "
                                "(the last checkpoint, from the end of the previous epoch, is "
                                "kept)",
                                e->trainable ? "parameter" : "BN statistic", e->name, j,
                                (double)v[j], epoch + 1, t->step);
                break;
            }
    }
    free(values);
    free(buffers);
    return st;
}

sakd_status sakd_trainer_run(sakd_trainer *t, sakd_report *r)
{
    memset(r, 0, sizeof *r);
    const sakd_config *c = &t->cfg;
    if (!t->out_dir[0])
        return sakd_error(SAKD_ERR_ARG, "a training run needs an output directory");
    int tty = t->log && isatty(fileno(t->log));
    double t0 = sakd_time_now(), train_time = 0.0;
    size_t train_images = 0;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/weights.h5", t->out_dir);
    say(t,
        "training %s %s width %g T %d on %s (%zu train, %zu test), %d epochs of %zu "
        "steps, batch %zu, on %s\n",
        sakd_arch_str(c->model.arch), sakd_model_name_str(c->model.name), c->model.width,
        c->model.T, t->train.name, t->train.n, t->test.n, c->train.epochs, t->steps_per_epoch, t->B,
        t->ctx->info.name);
    if (t->has_teacher)
        say(t, "distilling from %s: alpha %g beta %g gamma %g tau %g, %s/%s at %s (%zu taps)\n",
            c->distill.teacher, t->dist.cfg.alpha, c->distill.beta, c->distill.gamma,
            c->distill.tau, sakd_transform_str(c->distill.transform),
            sakd_distance_str(c->distill.distance), sakd_position_str(c->distill.position),
            t->dist.n_taps);
    for (long epoch = t->next_epoch; epoch < c->train.epochs; epoch++) {
        double beta = beta_at(t, epoch), sums[4] = {0, 0, 0, 0}, e0 = sakd_time_now();
        size_t correct = 0;
        sakd_dataset_shuffle(t->perm, t->train.n, c->train.seed, (uint64_t)epoch);
        /* A run interrupted mid-epoch continues at the step after its last one. */
        size_t s0 = (size_t)(t->step - (long long)epoch * (long long)t->steps_per_epoch);
        for (size_t s = s0; s < t->steps_per_epoch; s++) {
            SAKD_TRY(train_step(t, epoch, s, beta));
            correct += count_correct(t->logits, t->y, t->B, t->train.classes);
            sums[0] += t->dist.loss_total;
            sums[1] += t->dist.loss_ce;
            sums[2] += t->dist.loss_feature;
            sums[3] += t->dist.loss_logit;
            if ((t->interrupt && *t->interrupt) ||
                (t->stop_at_step > 0 && t->step >= t->stop_at_step)) {
                /* Save the state after this step (mid-epoch) and stop; resuming continues
                 * at the next step with the same weights, optimizer state and data order. */
                t->next_epoch = epoch;
                SAKD_TRY(check_weights_finite(t, epoch));
                SAKD_TRY(save_checkpoint(t, path, t->best_acc));
                if (tty)
                    say(t, "\n");
                return sakd_error(SAKD_ERR_INTERRUPTED,
                                  "stopped at epoch %ld, step %zu of %zu; %s holds the state: "
                                  "run the same command again to resume",
                                  epoch + 1, s + 1, t->steps_per_epoch, path);
            }
            if (tty)
                say(t, "\repoch %ld/%d  step %zu/%zu  loss %.4f  acc %.2f%%  %.1f img/s   ",
                    epoch + 1, c->train.epochs, s + 1, t->steps_per_epoch, sums[0] / (s + 1),
                    100.0 * correct / ((s + 1) * t->B), (s + 1) * t->B / (sakd_time_now() - e0));
        }
        double epoch_train_s = sakd_time_now() - e0;
        train_time += epoch_train_s;
        train_images += (t->steps_per_epoch - s0) * t->B;
        double acc, test_loss, n = (double)(t->steps_per_epoch - s0);
        SAKD_TRY(check_weights_finite(t, epoch));
        SAKD_TRY(sakd_trainer_evaluate(t, &acc, &test_loss));
        if (acc > t->best_acc)
            t->best_acc = acc;
        double ips = (double)((t->steps_per_epoch - s0) * t->B) / epoch_train_s;
        double row[N_LOG_COLUMNS] = {(double)epoch + 1,
                                     lr_at(t, t->step - 1),
                                     beta,
                                     sums[0] / n,
                                     sums[1] / n,
                                     sums[2] / n,
                                     sums[3] / n,
                                     (double)correct / (n * (double)t->B),
                                     acc,
                                     test_loss,
                                     ips,
                                     sakd_time_now() - e0};
        t->next_epoch = epoch + 1;
        SAKD_TRY(log_row(t, row));
        SAKD_TRY(save_checkpoint(t, path, acc));
        say(t,
            "%sepoch %ld/%d  loss %.4f (ce %.4f feature %.4f logit %.4f)  train %.2f%%  "
            "test %.2f%%  %.1f img/s\n",
            tty ? "\r" : "", epoch + 1, c->train.epochs, row[3], row[4], row[5], row[6],
            100.0 * row[7], 100.0 * acc, ips);
        r->epochs_done = (int)(epoch + 1);
        r->test_acc = acc;
        r->test_loss = test_loss;
        r->train_acc = row[7];
        r->loss_total = row[3];
        r->loss_ce = row[4];
        r->loss_feature = row[5];
        r->loss_logit = row[6];
        if (t->stop_after > 0 && t->next_epoch >= t->stop_after)
            break;
    }
    if (t->next_epoch >= c->train.epochs && r->epochs_done == 0) {
        /* Nothing left to train (a finished run resumed): report the weights as they are. */
        SAKD_TRY(sakd_trainer_evaluate(t, &r->test_acc, &r->test_loss));
        r->epochs_done = c->train.epochs;
    }
    r->best_acc = t->best_acc;
    r->images_per_s = train_time > 0 ? (double)train_images / train_time : 0.0;
    SAKD_TRY(sakd_trainer_measure(t, 1024, r));
    r->wall_s = sakd_time_now() - t0;
    return SAKD_OK;
}

void sakd_trainer_stop_after(sakd_trainer *t, long epochs)
{
    t->stop_after = epochs;
}

void sakd_trainer_set_interrupt(sakd_trainer *t, volatile sig_atomic_t *flag)
{
    t->interrupt = flag;
}

void sakd_trainer_stop_at_step(sakd_trainer *t, long long step)
{
    t->stop_at_step = step;
}

void sakd_report_print(const sakd_report *r, FILE *f)
{
    fprintf(f, "\nreport\n");
    fprintf(f, "  test accuracy      %.2f %% (best %.2f %%), test loss %.4f\n", 100.0 * r->test_acc,
            100.0 * r->best_acc, r->test_loss);
    int trained = r->wall_s > 0.0; /* else an evaluation: no training terms or speed */
    if (trained)
        fprintf(f, "  loss terms         total %.4f  ce %.4f  feature %.4f  logit %.4f\n",
                r->loss_total, r->loss_ce, r->loss_feature, r->loss_logit);
    if (r->n_layers) {
        fprintf(f, "  firing rates       mean %.4f over %zu spiking layers\n", r->mean_firing_rate,
                r->n_layers);
        for (size_t i = 0; i < r->n_layers; i++)
            fprintf(f, "    %-28s %.4f\n", r->layer_name[i], r->layer_rate[i]);
    }
    fprintf(f, "  per image          %.4g SOPs (AC) + %.4g MACs = %.4g uJ (%g pJ/AC, %g pJ/MAC)\n",
            r->sops_per_image, r->macs_per_image, r->energy_uj, SAKD_ENERGY_AC_PJ,
            SAKD_ENERGY_MAC_PJ);
    if (trained)
        fprintf(f, "  throughput         %.1f images/s (training)\n", r->images_per_s);
    fprintf(f, "  peak device memory %.1f MiB\n", r->peak_mem_mib);
    if (trained)
        fprintf(f, "  wall time          %.1f s\n", r->wall_s);
}

void sakd_trainer_free(sakd_trainer *t)
{
    if (!t)
        return;
    if (t->ctx) {
        sakd_distill_free(&t->dist);
        sakd_model_free(&t->student);
        if (t->has_teacher) {
            sakd_model_free(&t->teacher);
            sakd_params_free(&t->tp);
        }
        sakd_params_free(&t->sp);
        sakd_tensor_free(&t->opt_a);
        sakd_tensor_free(&t->opt_b);
        sakd_tensor_free(&t->grad_norm);
        sakd_ctx_free(t->ctx);
    }
    sakd_dataset_free(&t->train);
    sakd_dataset_free(&t->test);
    sakd_config_free(&t->cfg);
    free(t->x);
    free(t->y);
    free(t->perm);
    free(t->logits);
    if (t->lock >= 0)
        close(t->lock);
    free(t);
}
