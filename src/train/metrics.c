/* metrics.c — what a run reports: test accuracy and loss, per-layer firing rates, SOPs, MACs
 * and energy per image (DESIGN.md §2.6), and the printed report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer.h"

size_t sakd_trainer_count_correct(const float *logits, const int32_t *y, size_t n, size_t k)
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

sakd_status sakd_trainer_evaluate(sakd_trainer *t, double *acc, double *loss)
{
    const sakd_dataset *d = &t->test;
    size_t k = d->classes, correct = 0, *idx = malloc(t->B * sizeof *idx);
    double ce = 0.0;
    if (!idx)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    sakd_status st = SAKD_OK;
    /* Several ranks: batch i is rank i mod size's; their counts and losses are summed. */
    size_t first = (size_t)t->rank * t->B, stride = (size_t)t->ranks * t->B;
    for (size_t start = first; start < d->n && st == SAKD_OK; start += stride) {
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
        correct += sakd_trainer_count_correct(t->logits, t->y, valid, k);
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
    double sums[2] = {(double)correct, ce};
    SAKD_TRY(sakd_dist_sum_doubles(t->group, sums, 2));
    *acc = d->n ? sums[0] / (double)d->n : 0.0;
    if (loss)
        *loss = d->n ? sums[1] / (double)d->n : 0.0;
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
    /* Several ranks: batch bi is rank bi mod size's; the sums and batch counts are added. */
    for (size_t bi = (size_t)t->rank; bi < batches && st == SAKD_OK; bi += (size_t)t->ranks, nb++) {
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
    if (st == SAKD_OK && t->ranks > 1) {
        double *all = realloc(mean, (g->n_acts + 1) * sizeof *all);
        if (!all) {
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
        } else {
            mean = all;
            mean[g->n_acts] = (double)nb;
            st = sakd_dist_sum_doubles(t->group, mean, g->n_acts + 1);
            nb = (size_t)mean[g->n_acts];
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
    if (trained && r->spike_passes + r->dense_passes)
        fprintf(f,
                "  spike-fed layers   %zu of %zu passes spike-driven: %.4g SOPs executed in "
                "place of %.4g MACs\n",
                r->spike_passes, r->spike_passes + r->dense_passes, r->spike_ops,
                r->spike_replaced_macs);
    if (trained)
        fprintf(f, "  throughput         %.1f images/s (training)\n", r->images_per_s);
    fprintf(f, "  peak device memory %.1f MiB\n", r->peak_mem_mib);
    if (trained)
        fprintf(f, "  wall time          %.1f s\n", r->wall_s);
}
