/* stats.h — the statistics `sakd compare` reports between two groups of runs (seeds): mean and
 * sample standard deviation, Welch's unequal-variance t-test, the paired t-test over the seeds
 * both groups hold, the difference in units of the pooled standard deviation, and the
 * Student t distribution's two-sided tail through the regularized incomplete beta function. */
#ifndef SAKD_HARNESS_STATS_H
#define SAKD_HARNESS_STATS_H

#include <stddef.h>

/* The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1 (continued
 * fraction, relative error ~1e-14); NAN outside that domain. */
double sakd_beta_inc(double a, double b, double x);

/* P(|T| >= |t|) for Student's t distribution with df > 0 degrees of freedom (df need not be a
 * whole number); NAN for df <= 0 or t NAN. */
double sakd_t_two_sided(double t, double df);

/* Mean and sample standard deviation (n - 1 in the divisor; 0 for n = 1, NAN for n = 0). */
void sakd_mean_std(const double *x, size_t n, double *mean, double *std);

/* A comparison of group b against group a: diff = mean(b) - mean(a). Fields that cannot be
 * computed (too few runs, no spread) are NAN. */
typedef struct sakd_ttest {
    double diff;     /* mean(b) - mean(a) */
    double pooled;   /* pooled sample std: sqrt(((na-1)sa² + (nb-1)sb²) / (na + nb - 2)) */
    double effect;   /* diff / pooled (Cohen's d) */
    double t, df, p; /* Welch: t = diff / sqrt(sa²/na + sb²/nb), Welch-Satterthwaite df */
} sakd_ttest;

void sakd_welch(const double *a, size_t na, const double *b, size_t nb, sakd_ttest *out);

/* The paired t-test of d[i] = b[i] - a[i] over n pairs: diff = mean(d), pooled = std(d),
 * effect = mean(d) / std(d), t = effect * sqrt(n), df = n - 1. */
void sakd_paired(const double *a, const double *b, size_t n, sakd_ttest *out);

#endif
