/* trainer.h — the trainer's state and the functions its files share (train.c: set-up and the
 * loop; weights.c: checkpoints, resume and the teacher; metrics.c: evaluation, firing rates,
 * SOPs and the report). Internal to src/train: not installed. */
#ifndef SAKD_TRAIN_TRAINER_H
#define SAKD_TRAIN_TRAINER_H

#include <limits.h>
#include <signal.h>

#include "runtime/dist.h"
#include "train/train.h"

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
    sakd_dist *group;         /* the ranks of a data-parallel run (one: this process alone) */
    int rank, ranks;          /* this process's rank and their number */
    size_t B;                 /* images per step on this rank: train.batch / ranks */
    size_t B_global;          /* train.batch: images per optimizer step over every rank */
    size_t steps_per_epoch;
    float *fused;    /* [n_trainable + n_buffers]: the gradients and BN statistics summed
                        over the ranks in one message */
    long next_epoch; /* first epoch still to train (0-based) */
    long long step;  /* optimizer steps taken */
    double best_acc;
    long stop_after;                  /* stop once this many epochs are done (0: run them all) */
    long long stop_at_step;           /* interrupt once this many steps are done (0: never) */
    volatile sig_atomic_t *interrupt; /* set by a signal handler: save and stop */
    int stop_agreed;                  /* several ranks: one of them was interrupted */
    int save_agreed;                  /* several ranks: rank 0 says a mid-epoch save is due */
    double last_save;                 /* sakd_time_now() of the last checkpoint (or start) */
    float *x;                         /* [B, C, H, W] host batch */
    int32_t *y;                       /* [B] */
    size_t *perm;                     /* [n train] */
    float *logits;                    /* [B, K] host copy */
};

/* Progress to the run's log (nothing when it has none). */
void sakd_trainer_say(sakd_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The model description of the config for a dataset; `snn` overrides the arch. */
void sakd_trainer_describe(const sakd_config *c, const sakd_dataset *d, int snn, size_t batch,
                           sakd_model_desc *m);

/* weights.c */
/* Writes the student, its optimizer state and /meta to `path` (DESIGN.md §3.1). */
sakd_status sakd_trainer_save_checkpoint(sakd_trainer *t, const char *path, double test_acc);
/* Continues from a checkpoint of this run: weights, optimizer state, epoch and step. */
sakd_status sakd_trainer_resume(sakd_trainer *t, const char *path);
/* The teacher's description, from its checkpoint's /meta or distill.teacher_model/_width. */
sakd_status sakd_trainer_teacher_desc(sakd_trainer *t, sakd_model_desc *td);
/* Loads the frozen teacher built from sakd_trainer_teacher_desc, every tensor required. */
sakd_status sakd_trainer_load_teacher(sakd_trainer *t);
/* Level-1 initialization: the student entries whose name and shape match the teacher's. */
sakd_status sakd_trainer_init_from_teacher(sakd_trainer *t);
/* Fails naming the first parameter or BN statistic that is not finite. */
sakd_status sakd_trainer_check_weights_finite(sakd_trainer *t, long epoch);

/* metrics.c */
/* Correct top-1 predictions among the first `n` rows of logits [n, k]. */
size_t sakd_trainer_count_correct(const float *logits, const int32_t *y, size_t n, size_t k);

#endif
