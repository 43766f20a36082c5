/* train.c — a training run: set-up (models, distillation, optimizer state, the run directory)
 * and the loop over epochs and steps. Checkpoints and the teacher: weights.c; evaluation and
 * the report: metrics.c. */
#include "train/trainer.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/csv_file.h"
#include "runtime/file.h"
#include "ops/conv.h"
#include "ops/spike_route.h"
#include "ops/gemm.h"
#include "ops/optim.h"
#include "runtime/timer.h"
#include "train/rundir.h"

/* Adam's constants (PyTorch defaults). */
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f
#define PI 3.14159265358979323846

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

void sakd_trainer_say(sakd_trainer *t, const char *fmt, ...)
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
void sakd_trainer_describe(const sakd_config *c, const sakd_dataset *d, int snn, size_t batch,
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
    if (!isnan(c->model.dropout))
        m->dropout = c->model.dropout;
    m->in_channels = d->channels;
    m->height = d->height;
    m->width_px = d->width;
    m->classes = d->classes;
    m->batch = batch;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* The datasets (given, or loaded as the config says), the batch size and the device with its
 * GEMM and convolution providers. */
static sakd_status open_data_and_device(sakd_trainer *t, sakd_dataset *train, sakd_dataset *test)
{
    const sakd_config *c = &t->cfg;
    if (train && test) {
        t->train = *train;
        t->test = *test;
        memset(train, 0, sizeof *train);
        memset(test, 0, sizeof *test);
    } else {
        SAKD_TRY(sakd_dataset_load(&t->train, &t->test, sakd_dataset_str(c->data.dataset),
                                   c->data.dir, (size_t)c->data.train_limit,
                                   (size_t)c->data.test_limit));
    }
    t->B_global = (size_t)c->train.batch;
    if (t->B_global % (size_t)t->ranks)
        return sakd_error(SAKD_ERR_ARG,
                          "train.batch = %zu does not split over %d ranks: use a multiple of %d",
                          t->B_global, t->ranks, t->ranks);
    t->B = t->B_global / (size_t)t->ranks;
    if (t->train.n < t->B_global)
        return sakd_error(SAKD_ERR_ARG, "train.batch = %zu is larger than the %zu training samples",
                          t->B_global, t->train.n);
    t->steps_per_epoch = t->train.n / t->B_global; /* the last partial batch is dropped */
    SAKD_TRY(sakd_ctx_new(&t->ctx, c->run.device[0] ? c->run.device : NULL, 0));
    if (sakd_gemm_provider_set(t->ctx, sakd_config_gemm_request(c)) != SAKD_OK)
        return sakd_error(SAKD_ERR_ARG, "run.gemm_provider = %s: %s",
                          sakd_gemm_choice_str(c->run.gemm_provider), sakd_error_detail());
    if (sakd_conv_provider_set(t->ctx, sakd_config_conv_request(c)) != SAKD_OK)
        return sakd_error(SAKD_ERR_ARG, "run.conv_provider = %s: %s",
                          sakd_conv_choice_str(c->run.conv_provider), sakd_error_detail());
    if (sakd_spike_layers_set(t->ctx, sakd_config_spike_request(c)) != SAKD_OK)
        return sakd_error(SAKD_ERR_ARG, "run.spike_layers = %s: %s",
                          sakd_spike_choice_str(c->run.spike_layers), sakd_error_detail());
    if (c->train.sync_bn && t->ranks > 1)
        t->ctx->bn_group = t->group;
    return SAKD_OK;
}

/* The distillation settings of the config (DESIGN.md §2.5); no teacher: CE alone. */
static sakd_distill_cfg distill_cfg(const sakd_config *c, int has_teacher)
{
    sakd_position pos = c->distill.position;
    return (sakd_distill_cfg){
        .alpha = has_teacher ? c->distill.alpha : 1.0,
        .beta = c->distill.beta,
        .gamma = c->distill.gamma,
        .tau = c->distill.tau,
        .transform = c->distill.transform,
        .proj_relu = c->distill.proj_relu,
        .distance = c->distill.distance,
        .feature_tau = c->distill.feature_tau,
        .per_block =
            pos == SAKD_POSITION_BLOCK_AFTER_SPIKE || pos == SAKD_POSITION_BLOCK_BEFORE_SPIKE,
        .tap = pos == SAKD_POSITION_STAGE_BEFORE_SPIKE || pos == SAKD_POSITION_BLOCK_BEFORE_SPIKE
                   ? SAKD_TAP_BEFORE
                   : SAKD_TAP_AFTER,
    };
}

/* The student, the teacher (built from its own description and loaded), the distillation
 * heads and losses; the student's parameters initialized from train.seed. */
static sakd_status build_models(sakd_trainer *t)
{
    int snn = t->cfg.model.arch == SAKD_ARCH_SNN;
    sakd_model_desc sd, td;
    sakd_trainer_describe(&t->cfg, &t->train, snn, t->B, &sd);
    sakd_params_init(&t->sp, t->ctx);
    SAKD_TRY(sakd_model_build(&t->student, t->ctx, &t->sp, &sd));
    t->has_teacher = t->cfg.distill.teacher[0] != '\0';
    if (t->has_teacher) {
        SAKD_TRY(sakd_trainer_teacher_desc(t, &td));
        sakd_params_init(&t->tp, t->ctx);
        SAKD_TRY(sakd_model_build(&t->teacher, t->ctx, &t->tp, &td));
    }
    sakd_distill_cfg dc = distill_cfg(&t->cfg, t->has_teacher);
    SAKD_TRY(sakd_distill_build(&t->dist, t->ctx, &t->student, t->has_teacher ? &t->teacher : NULL,
                                &t->sp, &dc));
    SAKD_TRY(sakd_params_allocate(&t->sp));
    SAKD_TRY(sakd_params_initialize(&t->sp, t->cfg.train.seed));
    SAKD_TRY(sakd_graph_allocate(&t->student.graph));
    if (t->has_teacher) {
        SAKD_TRY(sakd_params_allocate(&t->tp));
        SAKD_TRY(sakd_graph_allocate(&t->teacher.graph));
        SAKD_TRY(sakd_trainer_load_teacher(t));
    }
    return sakd_distill_allocate(&t->dist);
}

/* Optimizer state on the device (zeroed) and the host batch buffers. */
static sakd_status alloc_state(sakd_trainer *t)
{
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
    if (t->ranks > 1 && !(t->fused = malloc((n + t->sp.n_buffers) * sizeof *t->fused)))
        return sakd_error(SAKD_ERR_NOMEM,
                          "out of memory for the gradients summed over the ranks (%zu floats)",
                          n + t->sp.n_buffers);
    return SAKD_OK;
}

/* Claims the run directory and writes the resolved config.ini into it. */
static sakd_status open_run_dir(sakd_trainer *t, const char *out_dir)
{
    char *ini = NULL, path[PATH_MAX + 16];
    SAKD_TRY(sakd_rundir_claim(out_dir, true, &t->lock));
    SAKD_TRY(sakd_config_to_ini(&t->cfg, &ini));
    snprintf(path, sizeof path, "%s/config.ini", out_dir);
    sakd_status st = sakd_file_write_atomic(path, ini, strlen(ini));
    free(ini);
    return st;
}

sakd_status sakd_trainer_new(sakd_trainer **out, const sakd_config *cfg, const char *out_dir,
                             sakd_dataset *train, sakd_dataset *test, FILE *log)
{
    return sakd_trainer_new_ranks(out, cfg, out_dir, train, test, log, NULL);
}

sakd_status sakd_trainer_new_ranks(sakd_trainer **out, const sakd_config *cfg, const char *out_dir,
                                   sakd_dataset *train, sakd_dataset *test, FILE *log,
                                   sakd_dist *ranks)
{
    *out = NULL;
    sakd_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    t->log = log;
    t->lock = -1;
    t->group = ranks ? ranks : sakd_dist_self();
    t->rank = sakd_dist_rank(t->group);
    t->ranks = sakd_dist_size(t->group);
    sakd_status st = sakd_config_copy(&t->cfg, cfg);
    if (st != SAKD_OK) {
        free(t);
        return st;
    }
    *out = t;
    sakd_config_resolve(&t->cfg);
    SAKD_TRY(sakd_config_validate(&t->cfg));
    snprintf(t->out_dir, sizeof t->out_dir, "%s", out_dir ? out_dir : "");
    SAKD_TRY(open_data_and_device(t, train, test));
    SAKD_TRY(build_models(t));
    SAKD_TRY(alloc_state(t));
    if (t->cfg.train.resume[0])
        SAKD_TRY(sakd_trainer_resume(t, t->cfg.train.resume));
    else if (t->cfg.distill.init_from_teacher)
        SAKD_TRY(sakd_trainer_init_from_teacher(t));
    /* The run directory is created only once every input has been accepted: a rejected
     * config, dataset or checkpoint leaves nothing behind. Rank 0 writes it. */
    return out_dir && t->rank == 0 ? open_run_dir(t, out_dir) : SAKD_OK;
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

/* ---- the per-epoch CSV log ------------------------------------------------------------------ */

enum {
    LOG_EPOCH,
    LOG_LR,
    LOG_BETA,
    LOG_LOSS_TOTAL,
    LOG_LOSS_CE,
    LOG_LOSS_FEATURE,
    LOG_LOSS_LOGIT,
    LOG_TRAIN_ACC,
    LOG_TEST_ACC,
    LOG_TEST_LOSS,
    LOG_IMAGES_PER_S,
    LOG_EPOCH_S,
    N_LOG_COLUMNS
};
static const char *const log_columns[N_LOG_COLUMNS] = {[LOG_EPOCH] = "epoch",
                                                       [LOG_LR] = "lr",
                                                       [LOG_BETA] = "beta",
                                                       [LOG_LOSS_TOTAL] = "loss_total",
                                                       [LOG_LOSS_CE] = "loss_ce",
                                                       [LOG_LOSS_FEATURE] = "loss_feature",
                                                       [LOG_LOSS_LOGIT] = "loss_logit",
                                                       [LOG_TRAIN_ACC] = "train_acc",
                                                       [LOG_TEST_ACC] = "test_acc",
                                                       [LOG_TEST_LOSS] = "test_loss",
                                                       [LOG_IMAGES_PER_S] = "images_per_s",
                                                       [LOG_EPOCH_S] = "epoch_s"};

/* Appends this epoch's row to out_dir/log.csv after the header and the rows of the epochs
 * before it (a resumed run rewrites the rows of the epochs it trains again). */
static sakd_status log_row(sakd_trainer *t, long epoch, const double *values)
{
    char path[PATH_MAX + 16], cells[N_LOG_COLUMNS][64];
    const char *row[N_LOG_COLUMNS];
    snprintf(path, sizeof path, "%s/log.csv", t->out_dir);
    for (size_t c = 0; c < N_LOG_COLUMNS; c++) {
        snprintf(cells[c], sizeof cells[c], c == LOG_EPOCH ? "%.0f" : "%.6g", values[c]);
        row[c] = cells[c];
    }
    return sakd_csv_append(path, log_columns, N_LOG_COLUMNS, row, 1, epoch);
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
/* Is a mid-epoch checkpoint due by this process's clock (run.checkpoint_s)? */
static int save_due(const sakd_trainer *t)
{
    double every = t->cfg.run.checkpoint_s;
    return every > 0 && sakd_time_now() - t->last_save >= every;
}

/* Several ranks: the losses of this step and the stop request averaged and summed over them, so
 * that every rank reports the same losses and stops after the same step. */
static sakd_status agree_on_step(sakd_trainer *t)
{
    if (t->ranks == 1)
        return SAKD_OK;
    sakd_distill *d = &t->dist;
    double v[6] = {d->loss_total,
                   d->loss_ce,
                   d->loss_feature,
                   d->loss_logit,
                   t->interrupt && *t->interrupt ? 1.0 : 0.0,
                   t->rank == 0 && save_due(t) ? 1.0 : 0.0};
    SAKD_TRY(sakd_dist_sum_doubles(t->group, v, 6));
    d->loss_total = v[0] / t->ranks;
    d->loss_ce = v[1] / t->ranks;
    d->loss_feature = v[2] / t->ranks;
    d->loss_logit = v[3] / t->ranks;
    t->stop_agreed = v[4] > 0.0;
    t->save_agreed = v[5] > 0.0;
    return SAKD_OK;
}

/* Several ranks: each rank's gradients (of its share's mean loss) and BN running statistics
 * averaged over the ranks in one message, in rank order: every rank then takes the same
 * optimizer step, that of the mean loss over the global batch. The statistics of synchronized
 * BN are the same on every rank already. */
static sakd_status average_over_ranks(sakd_trainer *t)
{
    if (t->ranks == 1)
        return SAKD_OK;
    size_t n = t->sp.n_trainable, nb = t->cfg.train.sync_bn ? 0 : t->sp.n_buffers;
    SAKD_TRY(sakd_tensor_download(&t->sp.grads, t->fused));
    if (nb)
        SAKD_TRY(sakd_tensor_download(&t->sp.buffers, t->fused + n));
    SAKD_TRY(sakd_dist_sum_floats(t->group, t->fused, n + nb));
    float scale = 1.0f / (float)t->ranks;
    for (size_t i = 0; i < n + nb; i++)
        t->fused[i] *= scale;
    SAKD_TRY(sakd_tensor_upload(&t->sp.grads, t->fused));
    if (nb)
        SAKD_TRY(sakd_tensor_upload(&t->sp.buffers, t->fused + n));
    return SAKD_OK;
}

static sakd_status train_step(sakd_trainer *t, long epoch, size_t s, double beta)
{
    const sakd_config *c = &t->cfg;
    /* This rank's share of global batch s: the images rank·B … (rank + 1)·B − 1 of it, with the
     * augmentation and dropout masks one process would draw for them. */
    size_t first = (size_t)t->rank * t->B;
    sakd_dataset_batch_at(&t->train, t->perm + s * t->B_global + first, t->B, first,
                          c->data.crop_padding, c->data.flip, c->train.seed, (uint64_t)t->step,
                          t->x, t->y);
    SAKD_TRY(upload_batch(t));
    SAKD_TRY(sakd_distill_set_labels(&t->dist, t->y));
    if (t->has_teacher)
        SAKD_TRY(sakd_graph_forward(&t->teacher.graph, 0));
    sakd_graph_set_rng(&t->student.graph, c->train.seed,
                       (uint64_t)t->step * (uint64_t)t->ranks + (uint64_t)t->rank);
    SAKD_TRY(sakd_graph_forward(&t->student.graph, 1));
    SAKD_TRY(sakd_distill_forward(&t->dist, beta, 1));
    SAKD_TRY(agree_on_step(t));
    SAKD_TRY(check_finite(t, epoch));
    SAKD_TRY(sakd_distill_backward(&t->dist));
    SAKD_TRY(average_over_ranks(t));
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
    return sakd_trainer_save_checkpoint(t, path, t->best_acc);
}

/* Says what the run trains, on what, and how it distils. */
static void say_start(sakd_trainer *t)
{
    const sakd_config *c = &t->cfg;
    sakd_trainer_say(t,
                     "training %s %s width %g T %d on %s (%zu train, %zu test), %d epochs of %zu "
                     "steps, batch %zu, on %s\n",
                     sakd_arch_str(c->model.arch), sakd_model_name_str(c->model.name),
                     c->model.width, c->model.T, t->train.name, t->train.n, t->test.n,
                     c->train.epochs, t->steps_per_epoch, t->B_global, t->ctx->info.name);
    if (t->ranks > 1)
        sakd_trainer_say(t, "%d ranks of %zu images each per step, BN %s\n", t->ranks, t->B,
                         c->train.sync_bn ? "over the global batch (train.sync_bn)"
                                          : "over each rank's images");
    if (t->has_teacher)
        sakd_trainer_say(
            t, "distilling from %s: alpha %g beta %g gamma %g tau %g, %s/%s at %s (%zu taps)\n",
            c->distill.teacher, t->dist.cfg.alpha, c->distill.beta, c->distill.gamma,
            c->distill.tau, sakd_transform_str(c->distill.transform),
            sakd_distance_str(c->distill.distance), sakd_position_str(c->distill.position),
            t->dist.n_taps);
}

/* The steps of `epoch` from where it stands (a resumed run continues mid-epoch): the means of
 * its loss terms and its training accuracy into row[], its images into *images. A stop request
 * saves the state after the step to `path` and returns SAKD_ERR_INTERRUPTED. */
/* A SIGINT/SIGTERM (sakd_trainer_set_interrupt) or the step count of stop_at_step. */
static int stop_requested(const sakd_trainer *t)
{
    int signalled = t->ranks > 1 ? t->stop_agreed : t->interrupt && *t->interrupt;
    return signalled || (t->stop_at_step > 0 && t->step >= t->stop_at_step);
}

/* Saves the state after the current step of `epoch` (mid-epoch) to `path`: a resume continues
 * at the next step with the same weights, optimizer state and data order. Every rank returns
 * once the checkpoint is there. */
static sakd_status save_mid_epoch(sakd_trainer *t, long epoch, const char *path)
{
    t->next_epoch = epoch;
    SAKD_TRY(sakd_trainer_check_weights_finite(t, epoch));
    if (t->rank == 0)
        SAKD_TRY(sakd_trainer_save_checkpoint(t, path, t->best_acc));
    SAKD_TRY(sakd_dist_barrier(t->group));
    t->last_save = sakd_time_now();
    return SAKD_OK;
}

static sakd_status run_steps(sakd_trainer *t, long epoch, double beta, const char *path,
                             double *row, size_t *images)
{
    const sakd_config *c = &t->cfg;
    int tty = t->log && isatty(fileno(t->log));
    double sums[4] = {0, 0, 0, 0}, e0 = sakd_time_now();
    size_t correct = 0;
    sakd_dataset_shuffle(t->perm, t->train.n, c->train.seed, (uint64_t)epoch);
    size_t s0 = (size_t)(t->step - (long long)epoch * (long long)t->steps_per_epoch);
    for (size_t s = s0; s < t->steps_per_epoch; s++) {
        SAKD_TRY(train_step(t, epoch, s, beta));
        correct += sakd_trainer_count_correct(t->logits, t->y, t->B, t->train.classes);
        sums[0] += t->dist.loss_total;
        sums[1] += t->dist.loss_ce;
        sums[2] += t->dist.loss_feature;
        sums[3] += t->dist.loss_logit;
        if (s + 1 < t->steps_per_epoch && stop_requested(t)) {
            /* Save the state after this step (mid-epoch) and stop. After the epoch's last
             * step the epoch ends first (sakd_trainer_run): a checkpoint between its last step
             * and its evaluation would have no steps left to resume with. */
            SAKD_TRY(save_mid_epoch(t, epoch, path));
            if (tty)
                sakd_trainer_say(t, "\n");
            return sakd_error(SAKD_ERR_INTERRUPTED,
                              "stopped at epoch %ld, step %zu of %zu; %s holds the state: run "
                              "the same command again to resume",
                              epoch + 1, s + 1, t->steps_per_epoch, path);
        }
        /* run.checkpoint_s: a save now and then within a long epoch, so that a run killed
         * without warning (SIGKILL, a lost node) loses at most that much. The ranks go by
         * rank 0's clock. */
        if (s + 1 < t->steps_per_epoch && (t->ranks > 1 ? t->save_agreed : save_due(t)))
            SAKD_TRY(save_mid_epoch(t, epoch, path));
        if (tty)
            sakd_trainer_say(
                t, "\repoch %ld/%d  step %zu/%zu  loss %.4f  acc %.2f%%  %.1f img/s   ", epoch + 1,
                c->train.epochs, s + 1, t->steps_per_epoch, sums[0] / (s + 1),
                100.0 * correct / ((s + 1) * t->B), (s + 1) * t->B_global / (sakd_time_now() - e0));
    }
    double n = (double)(t->steps_per_epoch - s0), all_correct = (double)correct;
    SAKD_TRY(sakd_dist_sum_doubles(t->group, &all_correct, 1));
    *images = (t->steps_per_epoch - s0) * t->B_global;
    row[LOG_LOSS_TOTAL] = sums[0] / n;
    row[LOG_LOSS_CE] = sums[1] / n;
    row[LOG_LOSS_FEATURE] = sums[2] / n;
    row[LOG_LOSS_LOGIT] = sums[3] / n;
    row[LOG_TRAIN_ACC] = all_correct / (n * (double)t->B_global);
    return SAKD_OK;
}

/* After an epoch's steps (started at e0): the weights checked, the test set scored, the log row and
 * the checkpoint written, the report updated. */
static sakd_status end_epoch(sakd_trainer *t, long epoch, double e0, const char *path, double *row,
                             sakd_report *r)
{
    double acc, test_loss;
    SAKD_TRY(sakd_trainer_check_weights_finite(t, epoch));
    SAKD_TRY(sakd_trainer_evaluate(t, &acc, &test_loss));
    if (acc > t->best_acc)
        t->best_acc = acc;
    row[LOG_TEST_ACC] = acc;
    row[LOG_TEST_LOSS] = test_loss;
    row[LOG_EPOCH_S] = sakd_time_now() - e0; /* from the epoch's start, the test pass included */
    t->next_epoch = epoch + 1;
    if (t->rank == 0) {
        SAKD_TRY(log_row(t, epoch, row));
        SAKD_TRY(sakd_trainer_save_checkpoint(t, path, acc));
        t->last_save = sakd_time_now();
    }
    int tty = t->log && isatty(fileno(t->log));
    sakd_trainer_say(t,
                     "%sepoch %ld/%d  loss %.4f (ce %.4f feature %.4f logit %.4f)  train %.2f%%  "
                     "test %.2f%%  %.1f img/s\n",
                     tty ? "\r" : "", epoch + 1, t->cfg.train.epochs, row[LOG_LOSS_TOTAL],
                     row[LOG_LOSS_CE], row[LOG_LOSS_FEATURE], row[LOG_LOSS_LOGIT],
                     100.0 * row[LOG_TRAIN_ACC], 100.0 * acc, row[LOG_IMAGES_PER_S]);
    r->epochs_done = (int)(epoch + 1);
    r->test_acc = acc;
    r->test_loss = test_loss;
    r->train_acc = row[LOG_TRAIN_ACC];
    r->loss_total = row[LOG_LOSS_TOTAL];
    r->loss_ce = row[LOG_LOSS_CE];
    r->loss_feature = row[LOG_LOSS_FEATURE];
    r->loss_logit = row[LOG_LOSS_LOGIT];
    return SAKD_OK;
}

sakd_status sakd_trainer_run(sakd_trainer *t, sakd_report *r)
{
    memset(r, 0, sizeof *r);
    const sakd_config *c = &t->cfg;
    if (!t->out_dir[0])
        return sakd_error(SAKD_ERR_ARG, "a training run needs an output directory");
    double t0 = sakd_time_now(), train_time = 0.0;
    t->last_save = t0;
    size_t train_images = 0;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/weights.h5", t->out_dir);
    say_start(t);
    for (long epoch = t->next_epoch; epoch < c->train.epochs; epoch++) {
        double beta = beta_at(t, epoch), e0 = sakd_time_now(), row[N_LOG_COLUMNS] = {0};
        size_t images = 0;
        SAKD_TRY(run_steps(t, epoch, beta, path, row, &images));
        double epoch_train_s = sakd_time_now() - e0;
        train_time += epoch_train_s;
        train_images += images;
        row[LOG_EPOCH] = (double)epoch + 1;
        row[LOG_LR] = lr_at(t, t->step - 1);
        row[LOG_BETA] = beta;
        row[LOG_IMAGES_PER_S] = (double)images / epoch_train_s;
        SAKD_TRY(end_epoch(t, epoch, e0, path, row, r));
        if (t->stop_after > 0 && t->next_epoch >= t->stop_after)
            break;
        if (epoch + 1 < c->train.epochs && stop_requested(t))
            return sakd_error(SAKD_ERR_INTERRUPTED,
                              "stopped after epoch %ld; %s holds the state: run the same command "
                              "again to resume",
                              epoch + 1, path);
    }
    if (t->next_epoch >= c->train.epochs && r->epochs_done == 0) {
        /* Nothing left to train (a finished run resumed): report the weights as they are. */
        SAKD_TRY(sakd_trainer_evaluate(t, &r->test_acc, &r->test_loss));
        r->epochs_done = c->train.epochs;
    }
    r->best_acc = t->best_acc;
    r->images_per_s = train_time > 0 ? (double)train_images / train_time : 0.0;
    const sakd_graph *sg = &t->student.graph;
    r->spike_ops = sg->spike_ops;
    r->spike_replaced_macs = sg->spike_replaced_macs;
    r->spike_passes = sg->spike_passes;
    r->dense_passes = sg->dense_passes;
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
        t->ctx->bn_group = NULL;
        sakd_ctx_free(t->ctx);
    }
    sakd_dataset_free(&t->train);
    sakd_dataset_free(&t->test);
    sakd_config_free(&t->cfg);
    free(t->x);
    free(t->y);
    free(t->perm);
    free(t->logits);
    free(t->fused);
    sakd_rundir_release(&t->lock);
    free(t);
}
