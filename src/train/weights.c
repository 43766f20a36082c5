/* weights.c — the trainer's weights on disk: checkpoints written and resumed, the teacher
 * described and loaded from its own file, level-1 initialization, and the finiteness check
 * before anything is saved. Loading never drops or guesses a tensor (DESIGN.md §3.1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "runtime/log.h"
#include "train/trainer.h"
#include "version.h"

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

sakd_status sakd_trainer_save_checkpoint(sakd_trainer *t, const char *path, double test_acc)
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
sakd_status sakd_trainer_resume(sakd_trainer *t, const char *path)
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
        if (into == (long long)t->steps_per_epoch)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "%s: saved after the last step of epoch %ld but before its "
                            "evaluation (by a sakd before 2026-12-02, which stopped there on "
                            "an interrupt); its epoch cannot be completed: train it again",
                            path, t->next_epoch + 1);
        else if (into < 0 || into > (long long)t->steps_per_epoch)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "%s: step %lld does not fall in epoch %ld of %zu steps (a different "
                            "batch size or data subset?)",
                            path, t->step, t->next_epoch + 1, t->steps_per_epoch);
        else
            sakd_trainer_say(t, "resumed %s at epoch %ld, step %lld of %zu in it\n", path,
                             t->next_epoch + 1, into, t->steps_per_epoch);
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
sakd_status sakd_trainer_teacher_desc(sakd_trainer *t, sakd_model_desc *td)
{
    const sakd_config *c = &t->cfg;
    const char *path = c->distill.teacher;
    sakd_trainer_describe(c, &t->train, 0, t->B, td);
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
        sakd_trainer_say(t, "teacher %s: %s width %g, from %s\n", path, td->name, td->width, from);
    return st;
}

/* Loads the frozen ANN teacher built by teacher_desc: every tensor of its architecture, and
 * nothing else in the file. */
sakd_status sakd_trainer_load_teacher(sakd_trainer *t)
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
sakd_status sakd_trainer_init_from_teacher(sakd_trainer *t)
{
    sakd_checkpoint *ck;
    SAKD_TRY(sakd_checkpoint_open(&ck, t->cfg.distill.teacher));
    size_t copied;
    sakd_trainer_say(t, "initializing the student from %s:\n", t->cfg.distill.teacher);
    sakd_status st = load_params(&t->sp, ck, LOAD_MATCHING, "the student", t->log, &copied);
    sakd_checkpoint_close(ck);
    SAKD_TRY(st);
    sakd_trainer_say(t, "  copied %zu of %zu tensors\n", copied, t->sp.count);
    if (copied == 0)
        return sakd_error(SAKD_ERR_FORMAT,
                          "distill.init_from_teacher: no tensor of %s matches the student by "
                          "name and shape",
                          t->cfg.distill.teacher);
    return SAKD_OK;
}

/* Every weight and BN statistic is finite: a run whose weights overflowed (while the loss,
 * normalized by BN, still looked finite) stops before it evaluates, logs or saves. */
sakd_status sakd_trainer_check_weights_finite(sakd_trainer *t, long epoch)
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
