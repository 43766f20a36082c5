/* bn_host.c — batch normalization on the host provider over x[N, C, P]: each channel is one
 * thread's work from its statistics to its outputs (channels split over the threads), its sums
 * taken in a fixed order (per row of P values in 8 float lanes, rows added in double), so results
 * do not depend on the thread count. Statistics in two passes: mean = Σx/m, then
 * var = Σ(x − mean)²/m (biased) around the float mean. */
#include "ops/bn_host.h"

#include <math.h>

#include "ops/host.h"
#include "runtime/profile.h"
#include "runtime/timer.h"

/* Sums over one row of p values in 8 independent float lanes (summed in double at the end), so
 * that the loop vectorizes and does not wait on one long addition chain; fixed order. */
#define LANES 8

/* The passes over a block of channels are compiled twice, for AVX2 (8 lanes in one register; no
 * FMA, so every product is rounded as in the baseline build and the results are bit-identical)
 * and for the baseline, and picked when the library loads. */
#if defined(__has_attribute) && defined(__gnu_linux__) && (defined(__x86_64__) || defined(__i386__))
#if __has_attribute(target_clones)
#define BN_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef BN_CLONES
#define BN_CLONES
#endif
/* The row helpers are inlined into each clone, to be compiled for its target. */
#if defined(__GNUC__)
#define ROW_INLINE static inline __attribute__((always_inline))
#else
#define ROW_INLINE static inline
#endif

ROW_INLINE double row_sum(const float *x, size_t p)
{
    float acc[LANES] = {0};
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += x[q + l];
    double s = 0.0;
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    for (; q < p; q++)
        s += x[q];
    return s;
}

/* Σ (x − mu)² over one row. */
ROW_INLINE double row_sq_dev(const float *x, size_t p, float mu)
{
    float acc[LANES] = {0};
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
        for (int l = 0; l < LANES; l++) {
            float d = x[q + l] - mu;
            acc[l] += d * d;
        }
    double s = 0.0;
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    for (; q < p; q++)
        s += (double)(x[q] - mu) * (x[q] - mu);
    return s;
}

/* Σ gy and Σ gy·(x − mean)·invstd over one row. */
ROW_INLINE void row_grad_sums(const float *gy, const float *x, size_t p, float mean, float invstd,
                              double *sb, double *sg)
{
    float ab[LANES] = {0}, ag[LANES] = {0};
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
        for (int l = 0; l < LANES; l++) {
            ab[l] += gy[q + l];
            ag[l] += gy[q + l] * ((x[q + l] - mean) * invstd);
        }
    for (int l = 0; l < LANES; l++) {
        *sb += ab[l];
        *sg += ag[l];
    }
    for (; q < p; q++) {
        *sb += gy[q];
        *sg += (double)gy[q] * ((x[q] - mean) * invstd);
    }
}

/* y = x·scale + shift over one row, in blocks of LANES so that the loop vectorizes; y may be x
 * (each element is read before it is written, at the same index). */
ROW_INLINE void row_affine(float *y, const float *x, size_t p, float scale, float shift)
{
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
#pragma GCC ivdep
        for (int l = 0; l < LANES; l++)
            y[q + l] = x[q + l] * scale + shift;
    for (; q < p; q++)
        y[q] = x[q] * scale + shift;
}

/* gx = k·(gy − mb − (x − mean)·invstd·mg) over one row, in blocks of LANES; gx may be gy. */
ROW_INLINE void row_grad_in(float *gx, const float *gy, const float *x, size_t p, float k, float mb,
                            float mean, float invstd, float mg)
{
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
#pragma GCC ivdep
        for (int l = 0; l < LANES; l++)
            gx[q + l] = k * (gy[q + l] - mb - (x[q + l] - mean) * invstd * mg);
    for (; q < p; q++)
        gx[q] = k * (gy[q] - mb - (x[q] - mean) * invstd * mg);
}

/* The channel-blocked layout (runtime/tensor.h): one sample's rows of a group of B channels
 * interleaved, element q of the group's channel k at q·B + k. Each helper does, for every
 * k < B, what its row helper above does for channel k's row alone: the same 8 lanes, the same
 * order of additions, so that a blocked tensor gives the bits its plain copy gives. B is a
 * constant at every call (blk_* are called through the dispatch below), so the k loops vectorize
 * across the group's channels. */
#define BLK_MAX 16

/* s[k] += row_sum of channel k. */
ROW_INLINE void blk_sum(const float *x, size_t p, int B, double *s)
{
    float acc[LANES][BLK_MAX] = {{0}};
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
        for (int l = 0; l < LANES; l++)
            for (int k = 0; k < B; k++)
                acc[l][k] += x[(q + l) * B + k];
    for (int k = 0; k < B; k++) {
        double t = 0.0;
        for (int l = 0; l < LANES; l++)
            t += acc[l][k];
        for (size_t r = q; r < p; r++)
            t += x[r * B + k];
        s[k] += t;
    }
}

/* s[k] += row_sq_dev of channel k around mu[k]. */
ROW_INLINE void blk_sq_dev(const float *x, size_t p, int B, const float *mu, double *s)
{
    float acc[LANES][BLK_MAX] = {{0}};
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
        for (int l = 0; l < LANES; l++)
            for (int k = 0; k < B; k++) {
                float d = x[(q + l) * B + k] - mu[k];
                acc[l][k] += d * d;
            }
    for (int k = 0; k < B; k++) {
        double t = 0.0;
        for (int l = 0; l < LANES; l++)
            t += acc[l][k];
        for (size_t r = q; r < p; r++)
            t += (double)(x[r * B + k] - mu[k]) * (x[r * B + k] - mu[k]);
        s[k] += t;
    }
}

/* row_grad_sums of channel k into sb[k], sg[k]. */
ROW_INLINE void blk_grad_sums(const float *gy, const float *x, size_t p, int B, const float *mean,
                              const float *invstd, double *sb, double *sg)
{
    float ab[LANES][BLK_MAX] = {{0}}, ag[LANES][BLK_MAX] = {{0}};
    size_t q = 0;
    for (; q + LANES <= p; q += LANES)
        for (int l = 0; l < LANES; l++)
            for (int k = 0; k < B; k++) {
                size_t e = (q + l) * B + k;
                ab[l][k] += gy[e];
                ag[l][k] += gy[e] * ((x[e] - mean[k]) * invstd[k]);
            }
    for (int k = 0; k < B; k++) {
        for (int l = 0; l < LANES; l++) {
            sb[k] += ab[l][k];
            sg[k] += ag[l][k];
        }
        for (size_t r = q; r < p; r++) {
            size_t e = r * B + k;
            sb[k] += gy[e];
            sg[k] += (double)gy[e] * ((x[e] - mean[k]) * invstd[k]);
        }
    }
}

/* y = x·scale[k] + shift[k] over the group (y may be x). */
ROW_INLINE void blk_affine(float *y, const float *x, size_t p, int B, const float *scale,
                           const float *shift)
{
    for (size_t q = 0; q < p; q++)
#pragma GCC ivdep
        for (int k = 0; k < B; k++)
            y[q * B + k] = x[q * B + k] * scale[k] + shift[k];
}

/* row_grad_in of channel k over the group (gx may be gy). */
ROW_INLINE void blk_grad_in(float *gx, const float *gy, const float *x, size_t p, int B,
                            const float *kk, const float *mb, const float *mean,
                            const float *invstd, const float *mg)
{
    for (size_t q = 0; q < p; q++)
#pragma GCC ivdep
        for (int k = 0; k < B; k++) {
            size_t e = q * B + k;
            gx[e] = kk[k] * (gy[e] - mb[k] - (x[e] - mean[k]) * invstd[k] * mg[k]);
        }
}

typedef struct bn_job {
    size_t n, c, p;
    int train;
    int given;          /* forward: normalize with mean/invstd as they are */
    double *local_mean; /* local statistics only: the mean and Σ(x − mean)² per channel */
    double *local_sqdev;
    const float *sum_gg; /* backward: grad_in from these sums (over every rank) and inv_m */
    const float *sum_gb;
    float inv_m;
    float momentum, eps;
    const float *x, *gamma, *beta, *gy;
    float *y, *mean, *invstd, *run_mean, *run_var, *gx, *ggamma, *gbeta;
    int blk; /* the activations' layout: 0 plain, else channel-blocked by blk (8 or 16) */
    int nt;  /* threads; each takes a range of channels (of whole groups when blocked) */
    void (*block)(const struct bn_job *j, size_t c0, size_t c1); /* the pass over channels */
} bn_job;

/* Channels are taken in blocks whose rows (n of each) fit in a quarter of a core's L2 cache, and
 * a block is walked sample by sample: each pass reads one contiguous run of rows per sample, which
 * the prefetcher follows, and the passes after the first find the block in the cache. Each
 * channel still adds its rows in sample order, so the results do not depend on the blocking. */
#define BLOCK_BYTES (512u * 1024u)
#define BLOCK_MAX 64

static size_t block_end(const bn_job *j, size_t c0, size_t hi)
{
    size_t per = j->n * j->p * sizeof(float), b = per ? BLOCK_BYTES / per : BLOCK_MAX;
    size_t g = j->blk ? (size_t)j->blk : 1; /* whole groups */
    b = b < g ? g : b > BLOCK_MAX ? BLOCK_MAX : b / g * g;
    return c0 + b < hi ? c0 + b : hi;
}

/* Offset of row (sample i, channel c) in the plain layout; of the group holding channel c
 * (c a multiple of blk) in the blocked one. */
static size_t row_at(const bn_job *j, size_t i, size_t c)
{
    return (i * j->c + c) * j->p;
}

/* The passes over channels c0 … c0 + nb − 1 of every sample, in sample order, in either
 * layout; arrays indexed from c0. */
#define BLK_CALL(j, call16, call8)                                                                 \
    do {                                                                                           \
        if ((j)->blk == 16)                                                                        \
            call16;                                                                                \
        else                                                                                       \
            call8;                                                                                 \
    } while (0)

ROW_INLINE void pass_sum(const bn_job *j, size_t c0, size_t nb, double *s)
{
    for (size_t i = 0; i < j->n; i++)
        if (!j->blk)
            for (size_t b = 0; b < nb; b++)
                s[b] += row_sum(j->x + row_at(j, i, c0 + b), j->p);
        else
            for (size_t b = 0; b < nb; b += (size_t)j->blk) {
                const float *x = j->x + row_at(j, i, c0 + b);
                BLK_CALL(j, blk_sum(x, j->p, 16, s + b), blk_sum(x, j->p, 8, s + b));
            }
}

ROW_INLINE void pass_sq_dev(const bn_job *j, size_t c0, size_t nb, const float *mu, double *s)
{
    for (size_t i = 0; i < j->n; i++)
        if (!j->blk)
            for (size_t b = 0; b < nb; b++)
                s[b] += row_sq_dev(j->x + row_at(j, i, c0 + b), j->p, mu[b]);
        else
            for (size_t b = 0; b < nb; b += (size_t)j->blk) {
                const float *x = j->x + row_at(j, i, c0 + b);
                BLK_CALL(j, blk_sq_dev(x, j->p, 16, mu + b, s + b),
                         blk_sq_dev(x, j->p, 8, mu + b, s + b));
            }
}

ROW_INLINE void pass_affine(const bn_job *j, size_t c0, size_t nb, const float *scale,
                            const float *shift)
{
    for (size_t i = 0; i < j->n; i++)
        if (!j->blk)
            for (size_t b = 0; b < nb; b++) {
                size_t o = row_at(j, i, c0 + b);
                row_affine(j->y + o, j->x + o, j->p, scale[b], shift[b]);
            }
        else
            for (size_t b = 0; b < nb; b += (size_t)j->blk) {
                size_t o = row_at(j, i, c0 + b);
                BLK_CALL(j, blk_affine(j->y + o, j->x + o, j->p, 16, scale + b, shift + b),
                         blk_affine(j->y + o, j->x + o, j->p, 8, scale + b, shift + b));
            }
}

ROW_INLINE void pass_grad_sums(const bn_job *j, size_t c0, size_t nb, double *sb, double *sg)
{
    const float *mean = j->mean + c0, *invstd = j->invstd + c0;
    for (size_t i = 0; i < j->n; i++)
        if (!j->blk)
            for (size_t b = 0; b < nb; b++) {
                size_t o = row_at(j, i, c0 + b);
                row_grad_sums(j->gy + o, j->x + o, j->p, mean[b], invstd[b], &sb[b], &sg[b]);
            }
        else
            for (size_t b = 0; b < nb; b += (size_t)j->blk) {
                size_t o = row_at(j, i, c0 + b);
                BLK_CALL(j,
                         blk_grad_sums(j->gy + o, j->x + o, j->p, 16, mean + b, invstd + b, sb + b,
                                       sg + b),
                         blk_grad_sums(j->gy + o, j->x + o, j->p, 8, mean + b, invstd + b, sb + b,
                                       sg + b));
            }
}

ROW_INLINE void pass_grad_in(const bn_job *j, size_t c0, size_t nb, const float *k, const float *mb,
                             const float *mg)
{
    const float *mean = j->mean + c0, *invstd = j->invstd + c0;
    for (size_t i = 0; i < j->n; i++)
        if (!j->blk)
            for (size_t b = 0; b < nb; b++) {
                size_t o = row_at(j, i, c0 + b);
                row_grad_in(j->gx + o, j->gy + o, j->x + o, j->p, k[b], mb[b], mean[b], invstd[b],
                            mg[b]);
            }
        else
            for (size_t b = 0; b < nb; b += (size_t)j->blk) {
                size_t o = row_at(j, i, c0 + b);
                BLK_CALL(j,
                         blk_grad_in(j->gx + o, j->gy + o, j->x + o, j->p, 16, k + b, mb + b,
                                     mean + b, invstd + b, mg + b),
                         blk_grad_in(j->gx + o, j->gy + o, j->x + o, j->p, 8, k + b, mb + b,
                                     mean + b, invstd + b, mg + b));
            }
}

/* Thread t's channels [lo, hi): whole groups when blocked. */
static void channel_range(const bn_job *j, int t, size_t *lo, size_t *hi)
{
    size_t g = j->blk ? (size_t)j->blk : 1;
    sakd_host_range(j->c / g, t, j->nt, lo, hi);
    *lo *= g;
    *hi *= g;
}

BN_CLONES static void forward_block(const bn_job *j, size_t c0, size_t c1)
{
    size_t m = j->n * j->p, nb = c1 - c0;
    double s[BLOCK_MAX] = {0}, s2[BLOCK_MAX] = {0};
    float mu[BLOCK_MAX], scale[BLOCK_MAX], shift[BLOCK_MAX];
    if (j->local_mean || (!j->given && j->train)) {
        pass_sum(j, c0, nb, s);
        for (size_t b = 0; b < nb; b++)
            mu[b] = (float)(s[b] / (double)m);
        pass_sq_dev(j, c0, nb, mu, s2);
    }
    for (size_t b = 0; b < nb; b++) {
        size_t c = c0 + b;
        float mean, invstd;
        if (j->local_mean) {
            /* Σ(x − mu)² around the float mean, corrected to the double mean. */
            double mud = s[b] / (double)m, dm = mud - (double)mu[b];
            j->local_mean[c] = mud;
            j->local_sqdev[c] = fmax(s2[b] - (double)m * dm * dm, 0.0);
            continue;
        }
        if (j->given) {
            mean = j->mean[c];
            invstd = j->invstd[c];
        } else if (j->train) {
            double var = s2[b] / (double)m;
            mean = mu[b];
            invstd = (float)(1.0 / sqrt(var + (double)j->eps));
            j->run_mean[c] = (1.0f - j->momentum) * j->run_mean[c] + j->momentum * mean;
            j->run_var[c] = (1.0f - j->momentum) * j->run_var[c] +
                            j->momentum * (float)(var * (double)m / (double)(m - 1));
        } else {
            mean = j->run_mean[c];
            invstd = 1.0f / sqrtf(j->run_var[c] + j->eps);
        }
        j->mean[c] = mean;
        j->invstd[c] = invstd;
        scale[b] = invstd * j->gamma[c];
        shift[b] = j->beta[c] - mean * scale[b];
    }
    if (j->local_mean)
        return;
    pass_affine(j, c0, nb, scale, shift);
}

BN_CLONES static void backward_block(const bn_job *j, size_t c0, size_t c1)
{
    size_t m = j->n * j->p, nb = c1 - c0;
    float k[BLOCK_MAX], mb[BLOCK_MAX], mg[BLOCK_MAX];
    if (j->sum_gg) {
        for (size_t b = 0; b < nb; b++) {
            size_t c = c0 + b;
            k[b] = j->gamma[c] * j->invstd[c];
            mb[b] = j->sum_gb[c] * j->inv_m;
            mg[b] = j->sum_gg[c] * j->inv_m;
        }
    } else {
        double sb[BLOCK_MAX] = {0}, sg[BLOCK_MAX] = {0};
        pass_grad_sums(j, c0, nb, sb, sg);
        for (size_t b = 0; b < nb; b++) {
            size_t c = c0 + b;
            float gb = (float)sb[b], gg = (float)sg[b];
            j->gbeta[c] = gb;
            j->ggamma[c] = gg;
            k[b] = j->gamma[c] * j->invstd[c];
            mb[b] = j->train ? gb / (float)m : 0.0f;
            mg[b] = j->train ? gg / (float)m : 0.0f;
        }
        if (!j->gx)
            return;
    }
    pass_grad_in(j, c0, nb, k, mb, mg);
}

/* Thread t's share of a job: its channels, block by block, through forward_block or
 * backward_block (the job's `block`). */
static void run_part(void *arg, int t)
{
    const bn_job *j = arg;
    size_t lo, hi;
    channel_range(j, t, &lo, &hi);
    for (size_t c0 = lo, c1; c0 < hi; c0 = c1) {
        c1 = block_end(j, c0, hi);
        j->block(j, c0, c1);
    }
}

/* The job's layout (that of `in`; bn.c has checked the others agree) and its threads: one
 * range of channels, or of channel groups, each. */
static void set_layout(bn_job *j, const sakd_tensor *in)
{
    j->blk = in->layout;
    size_t units = j->c / (j->blk ? (size_t)j->blk : 1);
    int nt = sakd_host_threads();
    j->nt = (size_t)nt < units ? nt : (int)units;
}

#define MAP(t, n_, dst)                                                                            \
    if (st == SAKD_OK)                                                                             \
    st = sakd_host_map(ctx, &maps, (t)->name, (t)->buf, (t)->offset, (n_), (float **)&(dst))

/* Once every tensor is mapped (st), runs `block` over the channels on the job's threads, timed as
 * `what` (NULL: not profiled); then unmaps. */
static sakd_status run_job(sakd_ctx *ctx, sakd_host_maps *maps, sakd_status st, bn_job *j,
                           void (*block)(const bn_job *, size_t, size_t), const char *what)
{
    if (st == SAKD_OK) {
        double t0 = sakd_time_now();
        j->block = block;
        sakd_host_parallel(j->nt, run_part, j);
        if (what)
            sakd_profile_add(ctx, what, (sakd_time_now() - t0) * 1e3);
    }
    return sakd_host_unmap(ctx, maps, st);
}

sakd_status sakd_batchnorm_host_forward(sakd_tensor *out, sakd_tensor *save_mean,
                                        sakd_tensor *save_invstd, sakd_tensor *running_mean,
                                        sakd_tensor *running_var, const sakd_tensor *in,
                                        const sakd_tensor *gamma, const sakd_tensor *beta,
                                        int train, float momentum, float eps, size_t n, size_t c,
                                        size_t p)
{
    sakd_ctx *ctx = in->ctx;
    bn_job j = {.n = n, .c = c, .p = p, .train = train, .momentum = momentum, .eps = eps};
    set_layout(&j, in);
    sakd_host_maps maps = {0};
    sakd_status st = SAKD_OK;
    size_t all = n * c * p;
    MAP(in, all, j.x);
    MAP(out, all, j.y);
    MAP(gamma, c, j.gamma);
    MAP(beta, c, j.beta);
    MAP(save_mean, c, j.mean);
    MAP(save_invstd, c, j.invstd);
    MAP(running_mean, c, j.run_mean);
    MAP(running_var, c, j.run_var);
    return run_job(ctx, &maps, st, &j, forward_block, "bn_fwd (host)");
}

sakd_status sakd_batchnorm_host_backward(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                         sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                         const sakd_tensor *save_invstd,
                                         const sakd_tensor *grad_out, const sakd_tensor *in,
                                         const sakd_tensor *gamma, int train, size_t n, size_t c,
                                         size_t p)
{
    sakd_ctx *ctx = in->ctx;
    bn_job j = {.n = n, .c = c, .p = p, .train = train};
    set_layout(&j, in);
    sakd_host_maps maps = {0};
    sakd_status st = SAKD_OK;
    size_t all = n * c * p;
    MAP(in, all, j.x);
    MAP(grad_out, all, j.gy);
    if (grad_in)
        MAP(grad_in, all, j.gx);
    MAP(gamma, c, j.gamma);
    MAP(save_mean, c, j.mean);
    MAP(save_invstd, c, j.invstd);
    MAP(grad_gamma, c, j.ggamma);
    MAP(grad_beta, c, j.gbeta);
    return run_job(ctx, &maps, st, &j, backward_block, "bn_bwd (host)");
}

sakd_status sakd_batchnorm_host_local_stats(const sakd_tensor *in, double *mean, double *sqdev,
                                            size_t n, size_t c, size_t p)
{
    sakd_ctx *ctx = in->ctx;
    bn_job j = {.n = n, .c = c, .p = p, .local_mean = mean, .local_sqdev = sqdev};
    set_layout(&j, in);
    sakd_host_maps maps = {0};
    sakd_status st = SAKD_OK;
    MAP(in, n * c * p, j.x);
    return run_job(ctx, &maps, st, &j, forward_block, NULL);
}

sakd_status sakd_batchnorm_host_normalize(sakd_tensor *out, const sakd_tensor *save_mean,
                                          const sakd_tensor *save_invstd, const sakd_tensor *in,
                                          const sakd_tensor *gamma, const sakd_tensor *beta,
                                          size_t n, size_t c, size_t p)
{
    sakd_ctx *ctx = in->ctx;
    bn_job j = {.n = n, .c = c, .p = p, .given = 1};
    set_layout(&j, in);
    sakd_host_maps maps = {0};
    sakd_status st = SAKD_OK;
    size_t all = n * c * p;
    MAP(in, all, j.x);
    MAP(out, all, j.y);
    MAP(gamma, c, j.gamma);
    MAP(beta, c, j.beta);
    MAP(save_mean, c, j.mean);
    MAP(save_invstd, c, j.invstd);
    return run_job(ctx, &maps, st, &j, forward_block, "bn_fwd (host)");
}

sakd_status sakd_batchnorm_host_grad_in(sakd_tensor *grad_in, const float *sum_gg,
                                        const float *sum_gb, const sakd_tensor *save_mean,
                                        const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                        const sakd_tensor *in, const sakd_tensor *gamma,
                                        float inv_m, size_t n, size_t c, size_t p)
{
    sakd_ctx *ctx = in->ctx;
    bn_job j = {
        .n = n, .c = c, .p = p, .train = 1, .sum_gg = sum_gg, .sum_gb = sum_gb, .inv_m = inv_m};
    set_layout(&j, in);
    sakd_host_maps maps = {0};
    sakd_status st = SAKD_OK;
    size_t all = n * c * p;
    MAP(in, all, j.x);
    MAP(grad_out, all, j.gy);
    MAP(grad_in, all, j.gx);
    MAP(gamma, c, j.gamma);
    MAP(save_mean, c, j.mean);
    MAP(save_invstd, c, j.invstd);
    return run_job(ctx, &maps, st, &j, backward_block, "bn_bwd (host)");
}
