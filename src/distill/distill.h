/* distill.h — SAKD losses (DESIGN.md §2.5): feature KD at the student's taps against the frozen
 * ANN teacher's (transform none / proj / norm / attn, distance l2 / l1 / kl), logit KD and CE,
 * combined as L = α·CE + β·L_feaKD + γ·L_logKD, with the gradient seeds for backward. */
#ifndef SAKD_DISTILL_DISTILL_H
#define SAKD_DISTILL_DISTILL_H

#include "distill/types.h"
#include "nn/model.h"

typedef struct sakd_distill_cfg {
    double alpha, beta, gamma; /* loss weights */
    double tau;                /* logit temperature */
    sakd_transform transform;
    int proj_relu;
    sakd_distance distance;
    double feature_tau; /* τ_f of the kl distance */
    int per_block;      /* taps at every block (1) or at each stage's end (0) */
    sakd_tap_kind tap;  /* after or before the spike */
} sakd_distill_cfg;

#define SAKD_DISTILL_MAX_TAPS SAKD_MODEL_MAX_TAPS

/* One tap: the student feature averaged over T, its transform, the teacher's, and the loss. */
typedef struct sakd_tap {
    int s_id, t_id;                   /* activation ids in the student and teacher graphs */
    sakd_tensor s_mean;               /* [B, C, H, W] student feature, mean over T */
    sakd_tensor s_out, t_out;         /* transformed features compared by the distance */
    sakd_tensor s_stat[2], t_stat[2]; /* norm: mean, rstd; attn: norm of Σ_c F² */
    sakd_tensor d_out;                /* d L_fea / d s_out */
    sakd_tensor d_mean;               /* d L_fea / d s_mean */
    sakd_tensor seed;                 /* d L_fea / d student activation [T·B, ...] */
    sakd_tensor loss;                 /* [1] */
    sakd_graph head;                  /* proj: conv1x1–BN–ReLU on s_mean */
    int head_in, head_out;
    /* Where a tapped activation is channel-blocked (runtime/tensor.h; the graph's layout
     * plan): the mean over T in its layout, converted into s_mean, the teacher's feature
     * converted to plain, and d_mean converted to the tap's layout, from which the seed (in
     * that layout too) is spread over T (unallocated otherwise). */
    sakd_tensor s_mean_blocked, t_plain, d_mean_blocked;
} sakd_tap;

typedef struct sakd_distill {
    sakd_distill_cfg cfg;
    sakd_model *student, *teacher; /* teacher may be NULL: CE only */
    sakd_tap taps[SAKD_DISTILL_MAX_TAPS];
    size_t n_taps;
    sakd_tensor ce, kd;   /* [1] loss values */
    sakd_tensor d_logits; /* [B, K] total gradient of the logits */
    sakd_tensor d_kd;     /* [B, K] scratch for the logit-KD gradient */
    cl_mem labels;        /* int32 [B] */
    size_t labels_bytes;
    int *labels_host; /* the labels of the current batch, for validation */
    /* After sakd_distill_forward: the loss terms (host copies). */
    double loss_ce, loss_feature, loss_logit, loss_total;
    double active_beta; /* β of the last forward (0: no feature seeds) */
    /* The proj heads' parameters: items [head_first, head_end) of `params`. A step without
     * feature KD (β = 0) gives them no gradient, so sakd_distill_forward zeroes theirs. */
    sakd_params *params;
    size_t head_first, head_end;
} sakd_distill;

/* Builds the taps and heads. Proj heads register "distill.proj.K.conv.weight" and
 * "distill.proj.K.bn.*" in `student_params` (before the caller allocates them), and are
 * allocated by sakd_distill_allocate afterwards. */
sakd_status sakd_distill_build(sakd_distill *d, sakd_ctx *ctx, sakd_model *student,
                               sakd_model *teacher, sakd_params *student_params,
                               const sakd_distill_cfg *cfg);
sakd_status sakd_distill_allocate(sakd_distill *d);

/* Uploads the batch labels (int32 [B], checked against the class count). */
sakd_status sakd_distill_set_labels(sakd_distill *d, const int32_t *labels);

/* After the student (train mode) and teacher (eval mode) forward passes: every loss term, and
 * the gradient seeds when `backward_seeds`; the β used is `beta` (early termination). */
sakd_status sakd_distill_forward(sakd_distill *d, double beta, int backward_seeds);

/* Runs the student's backward from the seeds (logits and taps), through the proj heads. */
sakd_status sakd_distill_backward(sakd_distill *d);

void sakd_distill_free(sakd_distill *d);

#endif
