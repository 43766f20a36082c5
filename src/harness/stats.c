/* stats.c — t-tests between groups of runs and the t distribution's tail (stats.h). */
#include "harness/stats.h"

#include <float.h>
#include <math.h>

/* The continued fraction of I_x(a, b) (x below the mean (a + 1) / (a + b + 2), where it
 * converges fast), evaluated by the modified Lentz method: 1 + d1/(1 + d2/(1 + ...)); NAN if
 * it has not converged after 1000 terms. */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double f = 1.0, c = 1.0, d = 0.0;
    for (int j = 1; j <= 1000; j++) {
        int m = j / 2;
        double dj;
        if (j % 2) /* d_{2m+1} */
            dj = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
        else /* d_{2m} */
            dj = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        d = 1.0 + dj * d;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = 1.0 + dj / c;
        if (fabs(c) < tiny)
            c = tiny;
        double delta = c * d;
        f *= delta;
        if (fabs(delta - 1.0) < 4 * DBL_EPSILON)
            return f;
    }
    return NAN;
}

double sakd_beta_inc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
        return NAN;
    if (x == 0 || x == 1)
        return x;
    /* Above the mean, I_x(a, b) = 1 − I_{1−x}(b, a), whose fraction converges fast; decided
     * once (both tests can hold when x sits within rounding of the mean). */
    int swap = x > (a + 1) / (a + b + 2);
    if (swap) {
        double t = a;
        a = b;
        b = t;
        x = 1.0 - x;
    }
    double log_front =
        a * log(x) + b * log1p(-x) - log(a) - (lgamma(a) + lgamma(b) - lgamma(a + b));
    double v = exp(log_front) / beta_fraction(a, b, x);
    return swap ? 1.0 - v : v;
}

double sakd_t_two_sided(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return NAN;
    if (isinf(t))
        return 0.0;
    return sakd_beta_inc(df / 2, 0.5, df / (df + t * t));
}

void sakd_mean_std(const double *x, size_t n, double *mean, double *std)
{
    if (n == 0) {
        *mean = *std = NAN;
        return;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}

void sakd_welch(const double *a, size_t na, const double *b, size_t nb, sakd_ttest *out)
{
    double ma, sa, mb, sb;
    sakd_mean_std(a, na, &ma, &sa);
    sakd_mean_std(b, nb, &mb, &sb);
    out->diff = mb - ma;
    out->pooled = out->effect = out->t = out->df = out->p = NAN;
    if (na < 2 || nb < 2)
        return;
    out->pooled =
        sqrt(((double)(na - 1) * sa * sa + (double)(nb - 1) * sb * sb) / (double)(na + nb - 2));
    double va = sa * sa / (double)na, vb = sb * sb / (double)nb;
    if (!(va + vb > 0))
        return;
    out->effect = out->diff / out->pooled;
    out->t = out->diff / sqrt(va + vb);
    out->df = (va + vb) * (va + vb) / (va * va / (double)(na - 1) + vb * vb / (double)(nb - 1));
    out->p = sakd_t_two_sided(out->t, out->df);
}

void sakd_paired(const double *a, const double *b, size_t n, sakd_ttest *out)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += b[i] - a[i];
    out->diff = n ? sum / (double)n : NAN;
    out->pooled = out->effect = out->t = out->df = out->p = NAN;
    if (n < 2)
        return;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double e = b[i] - a[i] - out->diff;
        ss += e * e;
    }
    out->pooled = sqrt(ss / (double)(n - 1));
    if (!(out->pooled > 0))
        return;
    out->effect = out->diff / out->pooled;
    out->t = out->effect * sqrt((double)n);
    out->df = (double)(n - 1);
    out->p = sakd_t_two_sided(out->t, out->df);
}
