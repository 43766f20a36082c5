/* test_stats.c — the statistics of `sakd compare` against closed forms and independent
 * double-precision references, on fresh random inputs: the regularized incomplete beta function
 * (a = 1, b = 1, whole a and b as a binomial sum, the symmetry), the t distribution's two-sided
 * tail (df 1 and 2 in closed form, any df by Simpson's rule over the density), Welch's and the
 * paired t-test (the textbook formulas in long double). */
#include <math.h>

#define PI 3.14159265358979323846

#include "harness/stats.h"
#include "testutil.h"

/* The binomial sum that equals I_x(a, b) for whole a, b >= 1. */
static double beta_binomial(int a, int b, double x)
{
    int n = a + b - 1;
    double s = 0;
    for (int j = a; j <= n; j++) {
        double c = exp(lgamma(n + 1.0) - lgamma(j + 1.0) - lgamma(n - j + 1.0));
        s += c * pow(x, j) * pow(1 - x, n - j);
    }
    return s;
}

/* 2 ∫_|t|^∞ of Student's t density with df degrees of freedom, as 1 − 2 ∫_0^|t| by
 * Simpson's rule (the density is smooth; 20 000 intervals). */
static double t_tail_simpson(double t, double df)
{
    double c = exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / sqrt(df * PI);
    int n = 20000;
    double h = fabs(t) / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double u = i * h, f = c * pow(1 + u * u / df, -(df + 1) / 2);
        s += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
    }
    return 1 - 2 * s * h / 3;
}

START_TEST(test_beta_inc)
{
    test_rng r = test_rng_new(0x5747a1);
    for (int k = 0; k < 200; k++) {
        double x = test_rand_uniform(&r, 0.001, 0.999);
        double a = test_rand_uniform(&r, 0.05, 40), b = test_rand_uniform(&r, 0.05, 40);
        ck_assert_double_eq_tol(sakd_beta_inc(1, b, x), 1 - pow(1 - x, b), 1e-12);
        ck_assert_double_eq_tol(sakd_beta_inc(a, 1, x), pow(x, a), 1e-12);
        ck_assert_double_eq_tol(sakd_beta_inc(a, a, 0.5), 0.5, 1e-12);
        int ia = (int)test_rand_size(&r, 1, 30), ib = (int)test_rand_size(&r, 1, 30);
        ck_assert_double_eq_tol(sakd_beta_inc(ia, ib, x), beta_binomial(ia, ib, x), 1e-11);
        double v = sakd_beta_inc(a, b, x);
        ck_assert(v >= 0 && v <= 1);
        /* Increasing in x. */
        ck_assert(sakd_beta_inc(a, b, x * 0.9) <= v);
    }
    /* x within rounding of the mean (a + 1) / (a + b + 2), seen from both sides: once made
     * the function swap its arguments back and forth without end. */
    double edge = sakd_beta_inc(612.9321053910376, 3.8133109049396743, 0.9922208540408205);
    ck_assert(edge > 0 && edge < 1);
    double tail = sakd_t_two_sided(1.3463237510215658, 3.0530045122318255);
    ck_assert_double_eq_tol(tail, t_tail_simpson(1.3463237510215658, 3.0530045122318255), 1e-9);
    ck_assert_double_eq(sakd_beta_inc(2, 3, 0), 0);
    ck_assert_double_eq(sakd_beta_inc(2, 3, 1), 1);
    ck_assert(isnan(sakd_beta_inc(0, 3, 0.5)));
    ck_assert(isnan(sakd_beta_inc(2, -1, 0.5)));
    ck_assert(isnan(sakd_beta_inc(2, 3, 1.5)));
    ck_assert(isnan(sakd_beta_inc(2, 3, NAN)));
}
END_TEST

START_TEST(test_t_two_sided)
{
    test_rng r = test_rng_new(0x7d157);
    for (int k = 0; k < 100; k++) {
        double t = test_rand_uniform(&r, -30, 30);
        ck_assert_double_eq_tol(sakd_t_two_sided(t, 1), 1 - 2 * atan(fabs(t)) / PI, 1e-12);
        ck_assert_double_eq_tol(sakd_t_two_sided(t, 2), 1 - fabs(t) / sqrt(2 + t * t), 1e-12);
    }
    for (int k = 0; k < 40; k++) {
        double t = test_rand_uniform(&r, -8, 8), df = test_rand_uniform(&r, 1.05, 40);
        double want = t_tail_simpson(t, df), got = sakd_t_two_sided(t, df);
        ck_assert_msg(fabs(got - want) < 1e-9, "t %g df %g: %.12g, Simpson %.12g", t, df, got,
                      want);
    }
    ck_assert_double_eq(sakd_t_two_sided(0, 3.5), 1);
    ck_assert_double_eq(sakd_t_two_sided(INFINITY, 3.5), 0);
    ck_assert(isnan(sakd_t_two_sided(1, 0)));
    ck_assert(isnan(sakd_t_two_sided(NAN, 3)));
}
END_TEST

static void mean_var(const double *x, size_t n, long double *m, long double *v)
{
    long double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *m = s / n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - *m) * (x[i] - *m);
    *v = ss / (n - 1);
}

START_TEST(test_welch_and_paired)
{
    test_rng r = test_rng_new(0x3e1c4);
    for (int k = 0; k < 50; k++) {
        size_t na = test_rand_size(&r, 2, 9), nb = test_rand_size(&r, 2, 9);
        double a[9], b[9], shift = test_rand_uniform(&r, -2, 2);
        for (size_t i = 0; i < 9; i++) {
            a[i] = test_rand_uniform(&r, 88, 91);
            b[i] = test_rand_uniform(&r, 88, 91) + shift;
        }
        long double ma, va, mb, vb;
        mean_var(a, na, &ma, &va);
        mean_var(b, nb, &mb, &vb);
        long double se2 = va / na + vb / nb;
        long double df =
            se2 * se2 / ((va / na) * (va / na) / (na - 1) + (vb / nb) * (vb / nb) / (nb - 1));
        long double pooled = sqrtl(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2));
        sakd_ttest w;
        sakd_welch(a, na, b, nb, &w);
        ck_assert_double_eq_tol(w.diff, (double)(mb - ma), 1e-11);
        ck_assert_double_eq_tol(w.t, (double)((mb - ma) / sqrtl(se2)), 1e-9);
        ck_assert_double_eq_tol(w.df, (double)df, 1e-9);
        ck_assert_double_eq_tol(w.pooled, (double)pooled, 1e-11);
        ck_assert_double_eq_tol(w.effect, (double)((mb - ma) / pooled), 1e-9);
        ck_assert_double_eq_tol(w.p, t_tail_simpson(w.t, w.df), 1e-8);
        /* B against A: the same test, the sign turned. */
        sakd_ttest back;
        sakd_welch(b, nb, a, na, &back);
        ck_assert_double_eq_tol(back.t, -w.t, 1e-12);
        ck_assert_double_eq_tol(back.p, w.p, 1e-12);

        size_t n = na < nb ? na : nb;
        double d[9];
        for (size_t i = 0; i < n; i++)
            d[i] = b[i] - a[i];
        long double md, vd;
        mean_var(d, n, &md, &vd);
        sakd_ttest p;
        sakd_paired(a, b, n, &p);
        ck_assert_double_eq_tol(p.diff, (double)md, 1e-11);
        ck_assert_double_eq_tol(p.pooled, (double)sqrtl(vd), 1e-11);
        ck_assert_double_eq_tol(p.t, (double)(md / sqrtl(vd / n)), 1e-9);
        ck_assert_double_eq(p.df, (double)(n - 1));
        ck_assert_double_eq_tol(p.p, t_tail_simpson(p.t, p.df), 1e-8);
    }
    /* Too few runs, or no spread: no test, the difference still. */
    double one[1] = {90}, two[2] = {91, 91}, three[3] = {89, 90, 91};
    sakd_ttest w;
    sakd_welch(one, 1, three, 3, &w);
    ck_assert_double_eq_tol(w.diff, 0, 1e-12);
    ck_assert(isnan(w.t) && isnan(w.p) && isnan(w.pooled));
    sakd_welch(two, 2, two, 2, &w);
    ck_assert(isnan(w.t) && isnan(w.p) && isnan(w.effect));
    ck_assert_double_eq(w.pooled, 0);
    sakd_paired(two, three, 1, &w);
    ck_assert_double_eq_tol(w.diff, -2, 1e-12);
    ck_assert(isnan(w.t) && isnan(w.p));
    double m, s;
    sakd_mean_std(three, 3, &m, &s);
    ck_assert_double_eq_tol(m, 90, 1e-12);
    ck_assert_double_eq_tol(s, 1, 1e-12);
    sakd_mean_std(one, 1, &m, &s);
    ck_assert_double_eq(s, 0);
    sakd_mean_std(one, 0, &m, &s);
    ck_assert(isnan(m) && isnan(s));
}
END_TEST

Suite *suite_stats(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_beta_inc);
    tcase_add_test(tc, test_t_two_sided);
    tcase_add_test(tc, test_welch_and_paired);
    suite_add_tcase(s, tc);
    return s;
}
