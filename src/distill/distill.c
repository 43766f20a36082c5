/* distill.c — feature and logit distillation losses, their gradients, and the proj heads. */
#include "distill/distill.h"

#include "ops/layout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elementwise.h"
#include "ops/loss.h"

sakd_status sakd_distill_build(sakd_distill *d, sakd_ctx *ctx, sakd_model *student,
                               sakd_model *teacher, sakd_params *student_params,
                               const sakd_distill_cfg *cfg)
{
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    d->student = student;
    d->teacher = teacher;
    if (!teacher)
        return SAKD_OK;
    int s_ids[SAKD_DISTILL_MAX_TAPS], t_ids[SAKD_DISTILL_MAX_TAPS];
    size_t ns = sakd_model_taps(student, cfg->per_block, cfg->tap, s_ids, SAKD_DISTILL_MAX_TAPS);
    size_t nt = sakd_model_taps(teacher, cfg->per_block, cfg->tap, t_ids, SAKD_DISTILL_MAX_TAPS);
    if (ns != nt)
        return sakd_error(SAKD_ERR_ARG,
                          "teacher %s has %zu feature taps at this position, the student %s has "
                          "%zu: feature KD pairs taps one to one (stage taps pair architectures "
                          "with as many stages; block taps need as many blocks)",
                          teacher->desc.name, nt, student->desc.name, ns);
    d->n_taps = ns;
    d->params = student_params;
    d->head_first = d->head_end = student_params->count;
    for (size_t k = 0; k < ns; k++) {
        sakd_tap *tp = &d->taps[k];
        tp->s_id = s_ids[k];
        tp->t_id = t_ids[k];
        const sakd_act *sa = sakd_graph_act_get(&student->graph, s_ids[k]);
        const sakd_act *ta = sakd_graph_act_get(&teacher->graph, t_ids[k]);
        /* Spatial sizes must agree; channels may differ where the transform bridges them
         * (proj maps the student's C to the teacher's; attention maps sum over channels). */
        int channels_ok = sa->shape[1] == ta->shape[1] || cfg->transform == SAKD_TRANSFORM_PROJ ||
                          cfg->transform == SAKD_TRANSFORM_ATTN;
        if (sa->ndim != 4 || ta->ndim != 4 || sa->shape[2] != ta->shape[2] ||
            sa->shape[3] != ta->shape[3] || ta->shape[0] != student->desc.batch || !channels_ok)
            return sakd_error(SAKD_ERR_ARG,
                              "feature tap %zu: student %s [%zu, %zu, %zu] and teacher %s "
                              "[%zu, %zu, %zu] %s",
                              k, sa->name, sa->shape[1], sa->shape[2], sa->shape[3], ta->name,
                              ta->shape[1], ta->shape[2], ta->shape[3],
                              channels_ok ? "differ in size (H, W)"
                                          : "differ in channels, which the transform needs equal "
                                            "(proj or attn bridge them)");
        if (cfg->transform == SAKD_TRANSFORM_PROJ) {
            char name[96];
            sakd_graph *h = &tp->head;
            sakd_graph_init(h, ctx, student_params, 0, 1, student->desc.batch, NULL);
            snprintf(name, sizeof name, "distill.proj.%zu.input", k);
            tp->head_in =
                sakd_graph_input_with_grad(h, name, sa->shape[1], sa->shape[2], sa->shape[3]);
            snprintf(name, sizeof name, "distill.proj.%zu.conv", k);
            int x = sakd_graph_conv(h, name, tp->head_in, ta->shape[1], 1, 1, 0);
            snprintf(name, sizeof name, "distill.proj.%zu.bn", k);
            x = sakd_graph_bn(h, name, x);
            if (cfg->proj_relu) {
                snprintf(name, sizeof name, "distill.proj.%zu.relu", k);
                x = sakd_graph_relu(h, name, x);
            }
            tp->head_out = x;
            SAKD_TRY(h->status);
            d->head_end = student_params->count;
        }
    }
    return SAKD_OK;
}

/* The proj heads' gradients set to zero: in a step without feature KD nothing writes them, and
 * what they held (the last step with it, or nothing at all) would move the heads, or the
 * gradient norm of clipping, on its own. */
static sakd_status zero_head_grads(sakd_distill *d)
{
    for (size_t i = d->head_first; i < d->head_end; i++)
        if (d->params->items[i].trainable)
            SAKD_TRY(sakd_tensor_fill(&d->params->items[i].grad, 0.0f));
    return SAKD_OK;
}

static sakd_status new4(sakd_tensor *t, sakd_ctx *ctx, const char *what, size_t k,
                        const size_t *shape, int ndim)
{
    char name[96];
    snprintf(name, sizeof name, "distill tap %zu %s", k, what);
    return sakd_tensor_new(t, ctx, name, ndim, shape);
}

sakd_status sakd_distill_allocate(sakd_distill *d)
{
    sakd_ctx *ctx = d->student->graph.ctx;
    size_t B = d->student->desc.batch, K = d->student->desc.classes, one = 1;
    size_t ls[2] = {B, K};
    SAKD_TRY(sakd_tensor_new(&d->ce, ctx, "cross-entropy", 1, &one));
    SAKD_TRY(sakd_tensor_new(&d->kd, ctx, "logit KD", 1, &one));
    SAKD_TRY(sakd_tensor_new(&d->d_logits, ctx, "d loss / d logits", 2, ls));
    SAKD_TRY(sakd_tensor_new(&d->d_kd, ctx, "d logit KD / d logits", 2, ls));
    d->labels_bytes = B * sizeof(int32_t);
    SAKD_TRY(sakd_buffer_new(ctx, "labels", d->labels_bytes, &d->labels));
    d->labels_host = calloc(B, sizeof *d->labels_host);
    if (!d->labels_host)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < d->n_taps; k++) {
        sakd_tap *tp = &d->taps[k];
        const sakd_act *sa = sakd_graph_act_get(&d->student->graph, tp->s_id);
        const sakd_act *ta = sakd_graph_act_get(&d->teacher->graph, tp->t_id);
        /* fs: the student's feature; ft: the teacher's (and a projected student's) */
        size_t fs[4] = {B, sa->shape[1], sa->shape[2], sa->shape[3]};
        size_t ft[4] = {B, ta->shape[1], ta->shape[2], ta->shape[3]};
        size_t as[2] = {B, sa->shape[2] * sa->shape[3]}, cs[1] = {sa->shape[1]}, bs[1] = {B};
        SAKD_TRY(new4(&tp->s_mean, ctx, "student mean over T", k, fs, 4));
        /* tapped activations in a blocked layout are read through plain copies (B images) */
        if (sa->value.layout) {
            SAKD_TRY(new4(&tp->s_mean_blocked, ctx, "student mean over T, blocked", k, fs, 4));
            tp->s_mean_blocked.layout = sa->value.layout;
        }
        if (ta->value.layout)
            SAKD_TRY(new4(&tp->t_plain, ctx, "teacher feature, plain", k, ta->shape, ta->ndim));
        SAKD_TRY(new4(&tp->d_mean, ctx, "d student mean", k, fs, 4));
        SAKD_TRY(new4(&tp->seed, ctx, "gradient seed", k, sa->shape, sa->ndim));
        if (sa->value.layout) {
            SAKD_TRY(new4(&tp->d_mean_blocked, ctx, "d student mean, blocked", k, fs, 4));
            tp->d_mean_blocked.layout = tp->seed.layout = sa->value.layout;
        }
        SAKD_TRY(new4(&tp->loss, ctx, "loss", k, &one, 1));
        const sakd_tensor *teacher = tp->t_plain.buf
                                         ? &tp->t_plain
                                         : &sakd_graph_act_get(&d->teacher->graph, tp->t_id)->value;
        switch (d->cfg.transform) {
        case SAKD_TRANSFORM_NONE:
            SAKD_TRY(sakd_tensor_view(&tp->s_out, &tp->s_mean, "student feature", 0, 4, fs));
            SAKD_TRY(sakd_tensor_view(&tp->t_out, teacher, "teacher feature", 0, 4, fs));
            SAKD_TRY(new4(&tp->d_out, ctx, "d student feature", k, fs, 4));
            break;
        case SAKD_TRANSFORM_PROJ:
            SAKD_TRY(sakd_graph_allocate(&tp->head));
            SAKD_TRY(sakd_tensor_view(&tp->s_out,
                                      &sakd_graph_act_get(&tp->head, tp->head_out)->value,
                                      "projected student feature", 0, 4, ft));
            SAKD_TRY(sakd_tensor_view(&tp->t_out, teacher, "teacher feature", 0, 4, ft));
            SAKD_TRY(new4(&tp->d_out, ctx, "d projected feature", k, ft, 4));
            break;
        case SAKD_TRANSFORM_NORM:
            SAKD_TRY(new4(&tp->s_out, ctx, "normalized student", k, fs, 4));
            SAKD_TRY(new4(&tp->t_out, ctx, "normalized teacher", k, fs, 4));
            SAKD_TRY(new4(&tp->d_out, ctx, "d normalized student", k, fs, 4));
            for (int i = 0; i < 2; i++) {
                SAKD_TRY(new4(&tp->s_stat[i], ctx, "student statistics", k, cs, 1));
                SAKD_TRY(new4(&tp->t_stat[i], ctx, "teacher statistics", k, cs, 1));
            }
            break;
        case SAKD_TRANSFORM_ATTN:
            SAKD_TRY(new4(&tp->s_out, ctx, "student attention", k, as, 2));
            SAKD_TRY(new4(&tp->t_out, ctx, "teacher attention", k, as, 2));
            SAKD_TRY(new4(&tp->d_out, ctx, "d student attention", k, as, 2));
            SAKD_TRY(new4(&tp->s_stat[0], ctx, "student attention norm", k, bs, 1));
            SAKD_TRY(new4(&tp->t_stat[0], ctx, "teacher attention norm", k, bs, 1));
            break;
        default:
            return sakd_error(SAKD_ERR_ARG, "unknown feature transform %d", (int)d->cfg.transform);
        }
    }
    return SAKD_OK;
}

sakd_status sakd_distill_set_labels(sakd_distill *d, const int32_t *labels)
{
    size_t B = d->student->desc.batch, K = d->student->desc.classes;
    for (size_t i = 0; i < B; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= K)
            return sakd_error(SAKD_ERR_ARG, "label %d of sample %zu is outside [0, %zu)",
                              (int)labels[i], i, K);
        d->labels_host[i] = labels[i];
    }
    sakd_ctx *ctx = d->student->graph.ctx;
    cl_int err = clEnqueueWriteBuffer(ctx->queue, d->labels, CL_TRUE, 0, d->labels_bytes, labels, 0,
                                      NULL, NULL);
    if (err != CL_SUCCESS)
        return sakd_ctx_device_error(ctx, err, "uploading the labels");
    return SAKD_OK;
}

static sakd_status read_scalar(const sakd_tensor *t, double *v)
{
    float f;
    SAKD_TRY(sakd_tensor_download(t, &f));
    *v = f;
    return SAKD_OK;
}

/* The student feature of a tap averaged over T (a copy for an ANN student), plain. */
static sakd_status student_mean(sakd_distill *d, sakd_tap *tp)
{
    const sakd_act *sa = sakd_graph_act_get(&d->student->graph, tp->s_id);
    sakd_tensor *m = tp->s_mean_blocked.buf ? &tp->s_mean_blocked : &tp->s_mean;
    if (sa->time_major)
        SAKD_TRY(sakd_mean_time_forward(m, &sa->value, d->student->graph.T));
    else
        SAKD_TRY(sakd_tensor_copy(m, &sa->value));
    return m == &tp->s_mean ? SAKD_OK : sakd_layout_convert(&tp->s_mean, m);
}

static sakd_status tap_forward(sakd_distill *d, sakd_tap *tp, double beta, int seeds)
{
    const sakd_tensor *teacher = &sakd_graph_act_get(&d->teacher->graph, tp->t_id)->value;
    if (tp->t_plain.buf) {
        SAKD_TRY(sakd_layout_convert(&tp->t_plain, teacher));
        teacher = &tp->t_plain;
    }
    SAKD_TRY(student_mean(d, tp));
    switch (d->cfg.transform) {
    case SAKD_TRANSFORM_NONE: break;
    case SAKD_TRANSFORM_PROJ:
        SAKD_TRY(sakd_tensor_copy(&sakd_graph_act_get(&tp->head, tp->head_in)->value, &tp->s_mean));
        SAKD_TRY(sakd_graph_forward(&tp->head, 1));
        break;
    case SAKD_TRANSFORM_NORM:
        SAKD_TRY(sakd_feat_norm_forward(&tp->s_out, &tp->s_stat[0], &tp->s_stat[1], &tp->s_mean));
        SAKD_TRY(sakd_feat_norm_forward(&tp->t_out, &tp->t_stat[0], &tp->t_stat[1], teacher));
        break;
    case SAKD_TRANSFORM_ATTN:
        SAKD_TRY(sakd_attn_forward(&tp->s_out, &tp->s_stat[0], &tp->s_mean));
        SAKD_TRY(sakd_attn_forward(&tp->t_out, &tp->t_stat[0], teacher));
        break;
    default: return sakd_error(SAKD_ERR_ARG, "unknown feature transform");
    }
    float w = (float)beta, tf = (float)d->cfg.feature_tau;
    switch (d->cfg.distance) {
    case SAKD_DISTANCE_L2:
        SAKD_TRY(sakd_mse_forward(&tp->loss, &tp->s_out, &tp->t_out));
        if (seeds)
            SAKD_TRY(sakd_mse_backward(&tp->d_out, &tp->s_out, &tp->t_out, w));
        break;
    case SAKD_DISTANCE_L1:
        SAKD_TRY(sakd_l1_forward(&tp->loss, &tp->s_out, &tp->t_out));
        if (seeds)
            SAKD_TRY(sakd_l1_backward(&tp->d_out, &tp->s_out, &tp->t_out, w));
        break;
    case SAKD_DISTANCE_KL:
        SAKD_TRY(sakd_softmax_kl_forward(&tp->loss, &tp->s_out, &tp->t_out, tf));
        if (seeds)
            SAKD_TRY(sakd_softmax_kl_backward(&tp->d_out, &tp->s_out, &tp->t_out, tf, w));
        break;
    default: return sakd_error(SAKD_ERR_ARG, "unknown feature distance");
    }
    if (!seeds)
        return SAKD_OK;
    switch (d->cfg.transform) {
    case SAKD_TRANSFORM_NONE: SAKD_TRY(sakd_tensor_copy(&tp->d_mean, &tp->d_out)); break;
    case SAKD_TRANSFORM_PROJ: {
        const sakd_tensor *s[1] = {&tp->d_out};
        SAKD_TRY(sakd_graph_backward(&tp->head, 1, &tp->head_out, s));
        SAKD_TRY(sakd_tensor_copy(&tp->d_mean, &sakd_graph_act_get(&tp->head, tp->head_in)->grad));
        break;
    }
    case SAKD_TRANSFORM_NORM:
        SAKD_TRY(sakd_feat_norm_backward(&tp->d_mean, &tp->d_out, &tp->s_out, &tp->s_stat[1]));
        break;
    case SAKD_TRANSFORM_ATTN:
        SAKD_TRY(
            sakd_attn_backward(&tp->d_mean, &tp->d_out, &tp->s_out, &tp->s_stat[0], &tp->s_mean));
        break;
    default: return sakd_error(SAKD_ERR_ARG, "unknown feature transform");
    }
    /* a blocked tap: B images converted, then spread over T in that layout (the same values) */
    const sakd_act *sa = sakd_graph_act_get(&d->student->graph, tp->s_id);
    const sakd_tensor *dm = &tp->d_mean;
    if (tp->d_mean_blocked.buf) {
        SAKD_TRY(sakd_layout_convert(&tp->d_mean_blocked, dm));
        dm = &tp->d_mean_blocked;
    }
    if (sa->time_major)
        return sakd_mean_time_backward(&tp->seed, dm, d->student->graph.T);
    return sakd_tensor_copy(&tp->seed, dm);
}

sakd_status sakd_distill_forward(sakd_distill *d, double beta, int seeds)
{
    const sakd_tensor *s_logits =
        &sakd_graph_act_get(&d->student->graph, d->student->logits)->value;
    SAKD_TRY(sakd_cross_entropy_forward(&d->ce, s_logits, d->labels, 0, d->labels_host));
    if (seeds)
        SAKD_TRY(sakd_cross_entropy_backward(&d->d_logits, s_logits, d->labels, 0, NULL,
                                             (float)d->cfg.alpha));
    d->loss_logit = d->loss_feature = 0.0;
    if (d->teacher) {
        const sakd_tensor *t_logits =
            &sakd_graph_act_get(&d->teacher->graph, d->teacher->logits)->value;
        SAKD_TRY(sakd_softmax_kl_forward(&d->kd, s_logits, t_logits, (float)d->cfg.tau));
        if (seeds && d->cfg.gamma != 0.0) {
            SAKD_TRY(sakd_softmax_kl_backward(&d->d_kd, s_logits, t_logits, (float)d->cfg.tau,
                                              (float)d->cfg.gamma));
            SAKD_TRY(sakd_axpby(&d->d_logits, &d->d_kd, 1.0f, 1.0f));
        }
        SAKD_TRY(read_scalar(&d->kd, &d->loss_logit));
        if (beta != 0.0)
            for (size_t k = 0; k < d->n_taps; k++) {
                double v;
                SAKD_TRY(tap_forward(d, &d->taps[k], beta, seeds));
                SAKD_TRY(read_scalar(&d->taps[k].loss, &v));
                d->loss_feature += v;
            }
        else if (seeds)
            SAKD_TRY(zero_head_grads(d));
    }
    SAKD_TRY(read_scalar(&d->ce, &d->loss_ce));
    d->loss_total = d->cfg.alpha * d->loss_ce + beta * d->loss_feature +
                    (d->teacher ? d->cfg.gamma * d->loss_logit : 0.0);
    d->active_beta = beta;
    return SAKD_OK;
}

sakd_status sakd_distill_backward(sakd_distill *d)
{
    int ids[1 + SAKD_DISTILL_MAX_TAPS];
    const sakd_tensor *seeds[1 + SAKD_DISTILL_MAX_TAPS];
    size_t n = 0;
    ids[n] = d->student->logits;
    seeds[n++] = &d->d_logits;
    if (d->teacher && d->active_beta != 0.0)
        for (size_t k = 0; k < d->n_taps; k++) {
            ids[n] = d->taps[k].s_id;
            seeds[n++] = &d->taps[k].seed;
        }
    return sakd_graph_backward(&d->student->graph, n, ids, seeds);
}

void sakd_distill_free(sakd_distill *d)
{
    for (size_t k = 0; k < d->n_taps; k++) {
        sakd_tap *tp = &d->taps[k];
        sakd_tensor *own[] = {&tp->s_mean,         &tp->d_mean,    &tp->seed,
                              &tp->loss,           &tp->d_out,     &tp->s_stat[0],
                              &tp->s_stat[1],      &tp->t_stat[0], &tp->t_stat[1],
                              &tp->s_mean_blocked, &tp->t_plain,   &tp->d_mean_blocked};
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
            sakd_tensor_free(own[i]);
        if (d->cfg.transform == SAKD_TRANSFORM_NORM || d->cfg.transform == SAKD_TRANSFORM_ATTN) {
            sakd_tensor_free(&tp->s_out);
            sakd_tensor_free(&tp->t_out);
        }
        if (tp->head.n_acts)
            sakd_graph_free(&tp->head);
    }
    sakd_tensor_free(&d->ce);
    sakd_tensor_free(&d->kd);
    sakd_tensor_free(&d->d_logits);
    sakd_tensor_free(&d->d_kd);
    if (d->labels)
        sakd_buffer_free(d->student->graph.ctx, d->labels, d->labels_bytes);
    free(d->labels_host);
    memset(d, 0, sizeof *d);
}
