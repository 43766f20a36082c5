/* train.h — a training run: ANN, SNN by BPTT, or SNN by SAKD from a frozen ANN teacher, with
 * per-epoch evaluation, CSV log, HDF5 checkpoints, resume and the final report. */
#ifndef SAKD_TRAIN_TRAIN_H
#define SAKD_TRAIN_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "data/dataset.h"
#include "distill/distill.h"
#include "train/config.h"

/* Energy per operation at 45 nm (Horowitz 2014), as the SNN literature uses: an accumulate
 * (a spike-driven synaptic operation) and a multiply-accumulate (DESIGN.md §2.6). */
#define SAKD_ENERGY_AC_PJ 0.9
#define SAKD_ENERGY_MAC_PJ 4.6

/* The metrics a run reports (DESIGN.md §2.6). */
typedef struct sakd_report {
    int epochs_done;
    double test_acc, best_acc, test_loss, train_acc;
    double loss_total, loss_ce, loss_feature, loss_logit; /* means over the last epoch */
    double images_per_s;                                  /* training throughput */
    double sops_per_image, macs_per_image, energy_uj;     /* per image, from sampled batches */
    double mean_firing_rate;                              /* over the spiking layers */
    size_t n_layers;
    char layer_name[128][96];
    double layer_rate[128];
    double peak_mem_mib;
    double wall_s;
    /* The student's spike-fed convolutions and linear layers in this process's training
     * passes (ops/spike_route.h): synaptic operations executed spike-driven, the dense
     * multiply-accumulates those passes replaced, and the passes run each way. */
    double spike_ops, spike_replaced_macs;
    size_t spike_passes, dense_passes;
} sakd_report;

typedef struct sakd_trainer sakd_trainer;
struct sakd_dist;

/* Prepares a run of `cfg` (validated and resolved) in `out_dir` (created; config.ini written;
 * NULL for evaluation and traces, which write nothing there).
 * Loads the dataset named by the config unless `train`/`test` are given (tests, smoke runs:
 * the trainer takes them over). `log` receives progress and the report (NULL: silent). */
sakd_status sakd_trainer_new(sakd_trainer **t, const sakd_config *cfg, const char *out_dir,
                             sakd_dataset *train, sakd_dataset *test, FILE *log);

/* The same for one rank of a data-parallel run over the ranks of `ranks` (runtime/dist.h; NULL:
 * this process alone, as sakd_trainer_new). Every rank calls it with the same config, data and
 * out_dir; each takes its 1/size of every global batch of train.batch images (the images one
 * process would take, with the same augmentation and dropout masks), the gradients and BN
 * running statistics are averaged over the ranks in rank order before each optimizer step, so
 * every rank holds the same weights, and the same number of ranks gives the same weights run
 * after run. train.sync_bn normalizes with the statistics of the whole global batch. Rank 0
 * alone writes the run directory (config.ini, log.csv, checkpoints); the others pass log NULL.
 * train.batch must be a multiple of the number of ranks. */
sakd_status sakd_trainer_new_ranks(sakd_trainer **t, const sakd_config *cfg, const char *out_dir,
                                   sakd_dataset *train, sakd_dataset *test, FILE *log,
                                   struct sakd_dist *ranks);

/* Trains the remaining epochs (from a resumed checkpoint when train.resume is set),
 * evaluating and checkpointing (out_dir/weights.h5) after each. */
sakd_status sakd_trainer_run(sakd_trainer *t, sakd_report *report);

/* Stops sakd_trainer_run once `epochs` epochs are done (the schedule still spans
 * train.epochs): an interrupted run, for tests and fault injection. */
void sakd_trainer_stop_after(sakd_trainer *t, long epochs);

/* When *flag becomes non-zero (a SIGINT/SIGTERM handler sets it), sakd_trainer_run finishes
 * the current step (and, after an epoch's last step, the epoch: its evaluation, log row and
 * checkpoint), writes the checkpoint and returns SAKD_ERR_INTERRUPTED; running again with
 * train.resume = that checkpoint continues at the next step. */
void sakd_trainer_set_interrupt(sakd_trainer *t, volatile sig_atomic_t *flag);

/* The same stop, after `step` optimizer steps in all (tests and fault injection). */
void sakd_trainer_stop_at_step(sakd_trainer *t, long long step);

/* One training step (forward, losses, backward, optimizer update, logits to the host) on
 * batch `index` of epoch 0's order, outside any epoch loop: benchmarks and tuning. */
sakd_status sakd_trainer_step(sakd_trainer *t, size_t index);
/* The context the trainer runs on. */
sakd_ctx *sakd_trainer_ctx(sakd_trainer *t);
/* Writes the trainer's state as a checkpoint (DESIGN.md §3.1), e.g. a randomly initialized
 * teacher for benchmarks. */
sakd_status sakd_trainer_save(sakd_trainer *t, const char *path);
/* Test accuracy and mean CE of the current weights (eval-mode BN). */
sakd_status sakd_trainer_evaluate(sakd_trainer *t, double *acc, double *loss);

/* Loads the student's weights (and BN statistics) from a checkpoint, every tensor required. */
sakd_status sakd_trainer_load_weights(sakd_trainer *t, const char *path);

/* Per-layer firing rates, SOPs and energy over up to `max_images` test images. */
sakd_status sakd_trainer_measure(sakd_trainer *t, size_t max_images, sakd_report *report);

/* Prints the report. */
void sakd_report_print(const sakd_report *r, FILE *f);

/* The student model and its parameters (for trace and tests). */
sakd_model *sakd_trainer_student(sakd_trainer *t);
sakd_params *sakd_trainer_params(sakd_trainer *t);
sakd_distill *sakd_trainer_distill(sakd_trainer *t);
sakd_model *sakd_trainer_teacher(sakd_trainer *t);
/* The number of test images sakd_trainer_evaluate scores. */
size_t sakd_trainer_test_size(const sakd_trainer *t);

void sakd_trainer_free(sakd_trainer *t);

#endif
