/* test_shape.c — flatten view, repeat and mean over T, residual add and the SEW connect
 * functions, forward and backward, against double-precision CPU references with poisoned
 * outputs, central finite differences, determinism and bad shapes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A fixed-order float sum of T terms (then a division by T): (T + 2) ulps of Σ|terms|. */
#define SHAPE_SUM_ULPS(T) ((double)(T) + 2.0)
/* One float operation (add or multiply): half an ulp, with subtraction in 1 - out: 2 ulps. */
#define SHAPE_ELEM_ULPS 2.0
/* Central differences in double of polynomials of degree ≤ 2 in each input: exact up to the
 * rounding of x ± δ and the cancellation in the difference. */
#define SHAPE_FD_STEP 1e-4
#define SHAPE_FD_TOL 1e-8

typedef struct host_t {
    sakd_tensor t;
    float *h;
    size_t n;
} host_t;

/* A device tensor with random contents (or NaN when lo > hi) and its host copy. */
static void ht_new(host_t *x, const char *name, int ndim, const size_t *shape, test_rng *r,
                   double lo, double hi)
{
    TEST_OK(sakd_tensor_new(&x->t, test_ctx(), name, ndim, shape));
    x->n = sakd_tensor_numel(&x->t);
    x->h = malloc(x->n * sizeof *x->h);
    if (lo <= hi) {
        test_fill_uniform(r, x->h, x->n, lo, hi);
        TEST_OK(sakd_tensor_upload(&x->t, x->h));
    } else {
        TEST_OK(sakd_tensor_fill(&x->t, NAN));
    }
}

static void ht_get(host_t *x)
{
    TEST_OK(sakd_tensor_download(&x->t, x->h));
}

static void ht_free(host_t *x)
{
    sakd_tensor_free(&x->t);
    free(x->h);
}

#define POISON 1.0, -1.0 /* lo > hi: fill with NaN */

/* [T, B, C, H, W] shapes: T = 1, B = 1, C = 1 and odd sizes. */
static const size_t time_shapes[][5] = {
    {1, 2, 3, 5, 5}, {4, 1, 7, 3, 3}, {6, 3, 1, 7, 5}, {3, 2, 33, 1, 1}};

START_TEST(test_repeat_mean_time)
{
    test_rng r = test_rng_new(3800 + (uint64_t)_i);
    const size_t *d = time_shapes[_i];
    size_t T = d[0], small[4] = {d[1], d[2], d[3], d[4]}, big[4] = {d[0] * d[1], d[2], d[3], d[4]};
    host_t x, y, gy, gx, xm, ym, gym, gxm;
    /* repeat: x [B, ...] → y [T·B, ...] */
    ht_new(&x, "x", 4, small, &r, -2, 2);
    ht_new(&y, "y", 4, big, &r, POISON);
    ht_new(&gy, "gy", 4, big, &r, -1, 1);
    ht_new(&gx, "gx", 4, small, &r, POISON);
    TEST_OK(sakd_repeat_time_forward(&y.t, &x.t, T));
    TEST_OK(sakd_repeat_time_backward(&gx.t, &gy.t, T));
    ht_get(&y);
    ht_get(&gx);
    size_t m = x.n;
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < m; i++)
            ck_assert_msg(y.h[t * m + i] == x.h[i], "repeat y[%zu, %zu]", t, i);
    for (size_t i = 0; i < m; i++) {
        double sum = 0, mag = 0;
        for (size_t t = 0; t < T; t++)
            sum += gy.h[t * m + i], mag += fabs(gy.h[t * m + i]);
        ck_assert_msg(fabs(gx.h[i] - sum) <= SHAPE_SUM_ULPS(T) * FLT_EPSILON * mag,
                      "repeat gx[%zu] = %.9g, reference %.9g", i, gx.h[i], sum);
        /* Reference gradient Σ_t gy vs central differences of L = Σ gy·repeat(x) at x[i]. */
        double lp = 0, lm = 0;
        for (size_t t = 0; t < T; t++) {
            lp += gy.h[t * m + i] * ((double)x.h[i] + SHAPE_FD_STEP);
            lm += gy.h[t * m + i] * ((double)x.h[i] - SHAPE_FD_STEP);
        }
        ck_assert(fabs((lp - lm) / (2 * SHAPE_FD_STEP) - sum) <= SHAPE_FD_TOL * (1 + mag));
    }
    /* mean: xm [T·B, ...] → ym [B, ...] */
    ht_new(&xm, "xm", 4, big, &r, -2, 2);
    ht_new(&ym, "ym", 4, small, &r, POISON);
    ht_new(&gym, "gym", 4, small, &r, -1, 1);
    ht_new(&gxm, "gxm", 4, big, &r, POISON);
    TEST_OK(sakd_mean_time_forward(&ym.t, &xm.t, T));
    TEST_OK(sakd_mean_time_backward(&gxm.t, &gym.t, T));
    ht_get(&ym);
    ht_get(&gxm);
    for (size_t i = 0; i < m; i++) {
        double sum = 0, mag = 0;
        for (size_t t = 0; t < T; t++)
            sum += xm.h[t * m + i], mag += fabs(xm.h[t * m + i]);
        ck_assert_msg(fabs(ym.h[i] - sum / T) <= SHAPE_SUM_ULPS(T) * FLT_EPSILON * mag / T,
                      "mean y[%zu] = %.9g, reference %.9g", i, ym.h[i], sum / T);
        double g = (double)gym.h[i] / T;
        for (size_t t = 0; t < T; t++)
            ck_assert_msg(fabs(gxm.h[t * m + i] - g) <= 0.5 * FLT_EPSILON * fabs(g),
                          "mean gx[%zu, %zu] = %.9g, reference %.9g", t, i, gxm.h[t * m + i], g);
        /* gy/T vs central differences of gy·mean at x[0, i]. */
        double lp = gym.h[i] * (sum + SHAPE_FD_STEP) / T, lm = gym.h[i] * (sum - SHAPE_FD_STEP) / T;
        ck_assert(fabs((lp - lm) / (2 * SHAPE_FD_STEP) - g) <= SHAPE_FD_TOL * (1 + mag));
    }
    /* Determinism of the two reductions. */
    float *a = malloc(m * 4), *b = malloc(m * 4);
    TEST_OK(sakd_repeat_time_backward(&gx.t, &gy.t, T));
    TEST_OK(sakd_mean_time_forward(&ym.t, &xm.t, T));
    TEST_OK(sakd_tensor_download(&gx.t, a));
    TEST_OK(sakd_tensor_download(&ym.t, b));
    ck_assert(memcmp(a, gx.h, m * 4) == 0 && memcmp(b, ym.h, m * 4) == 0);
    free(a), free(b);
    ht_free(&x), ht_free(&y), ht_free(&gy), ht_free(&gx);
    ht_free(&xm), ht_free(&ym), ht_free(&gym), ht_free(&gxm);
}
END_TEST

/* Reference connect y = f(o, id) and its partial derivatives. */
static double ref_connect(int op, double o, double id)
{
    return op == SAKD_SEW_ADD ? o + id : op == SAKD_SEW_AND ? o * id : id * (1 - o);
}

static void ref_connect_grad(int op, double o, double id, double g, double *go, double *gid)
{
    switch (op) {
    case SAKD_SEW_ADD: *go = g, *gid = g; break;
    case SAKD_SEW_AND: *go = g * id, *gid = g * o; break;
    default: *go = -g * id, *gid = g * (1 - o); break;
    }
}

/* _i: shape index × connect (0 = residual add through sakd_add_*, 1..3 = SEW ADD/AND/IAND). */
START_TEST(test_connect)
{
    static const size_t shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 7}, {2, 33, 3, 5}};
    int which = _i % 4, op = which == 0 ? SAKD_SEW_ADD : which - 1;
    const size_t *shape = shapes[_i / 4];
    test_rng r = test_rng_new(3900 + (uint64_t)_i);
    host_t o, id, y, gy, go, gid;
    /* Spike-like inputs for AND/IAND are 0/1, but the ops are defined on reals: random reals. */
    ht_new(&o, "out", 4, shape, &r, -2, 2);
    ht_new(&id, "id", 4, shape, &r, -2, 2);
    ht_new(&y, "y", 4, shape, &r, POISON);
    ht_new(&gy, "gy", 4, shape, &r, -1, 1);
    ht_new(&go, "g_out", 4, shape, &r, POISON);
    ht_new(&gid, "g_id", 4, shape, &r, POISON);
    if (which == 0) {
        TEST_OK(sakd_add_forward(&y.t, &o.t, &id.t));
        TEST_OK(sakd_add_backward(&go.t, &gid.t, &gy.t));
    } else {
        TEST_OK(sakd_sew_forward(&y.t, &o.t, &id.t, (sakd_sew_connect)op));
        TEST_OK(sakd_sew_backward(&go.t, &gid.t, &o.t, &id.t, &gy.t, (sakd_sew_connect)op));
    }
    ht_get(&y), ht_get(&go), ht_get(&gid);
    for (size_t i = 0; i < y.n; i++) {
        double ov = o.h[i], iv = id.h[i], g = gy.h[i], rgo, rgid;
        double ry = ref_connect(op, ov, iv);
        ck_assert_msg(fabs(y.h[i] - ry) <= SHAPE_ELEM_ULPS * FLT_EPSILON *
                                               (fabs(ov) + fabs(iv) + fabs(ov * iv) + fabs(iv)),
                      "connect %d: y[%zu] = %.9g, reference %.9g", which, i, y.h[i], ry);
        ref_connect_grad(op, ov, iv, g, &rgo, &rgid);
        ck_assert_msg(fabs(go.h[i] - rgo) <= SHAPE_ELEM_ULPS * FLT_EPSILON * fabs(rgo) &&
                          fabs(gid.h[i] - rgid) <=
                              SHAPE_ELEM_ULPS * FLT_EPSILON * fabs(g) * (1 + fabs(ov)),
                      "connect %d: g_out[%zu] = %.9g (ref %.9g), g_id = %.9g (ref %.9g)", which, i,
                      go.h[i], rgo, gid.h[i], rgid);
        /* The reference gradient vs central differences of L = gy·f(o, id). */
        double fo =
            g *
            (ref_connect(op, ov + SHAPE_FD_STEP, iv) - ref_connect(op, ov - SHAPE_FD_STEP, iv)) /
            (2 * SHAPE_FD_STEP);
        double fi =
            g *
            (ref_connect(op, ov, iv + SHAPE_FD_STEP) - ref_connect(op, ov, iv - SHAPE_FD_STEP)) /
            (2 * SHAPE_FD_STEP);
        ck_assert_msg(fabs(fo - rgo) <= SHAPE_FD_TOL * (1 + fabs(rgo)) &&
                          fabs(fi - rgid) <= SHAPE_FD_TOL * (1 + fabs(rgid)),
                      "connect %d: finite differences %.12g %.12g vs %.12g %.12g", which, fo, fi,
                      rgo, rgid);
    }
    ht_free(&o), ht_free(&id), ht_free(&y), ht_free(&gy), ht_free(&go), ht_free(&gid);
}
END_TEST

START_TEST(test_flatten)
{
    test_rng r = test_rng_new(3950);
    size_t shape[4] = {3, 5, 2, 7};
    host_t x;
    ht_new(&x, "x", 4, shape, &r, -1, 1);
    sakd_tensor v;
    TEST_OK(sakd_flatten_view(&v, &x.t, "x flat"));
    ck_assert_int_eq(v.ndim, 2);
    ck_assert_uint_eq(v.shape[0], 3);
    ck_assert_uint_eq(v.shape[1], 70);
    ck_assert(v.buf == x.t.buf && v.offset == x.t.offset);
    float *h = malloc(x.n * 4);
    TEST_OK(sakd_tensor_download(&v, h));
    ck_assert(memcmp(h, x.h, x.n * 4) == 0);
    free(h);
    ht_free(&x);
}
END_TEST

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && strstr(sakd_error_detail(), name), "%s",
                  sakd_error_detail());
}

START_TEST(test_shape_bad_shapes)
{
    test_rng r = test_rng_new(3960);
    size_t s6[2] = {6, 4}, s2[2] = {2, 4}, s3[2] = {2, 5};
    host_t a, b, c;
    ht_new(&a, "six rows", 2, s6, &r, 0, 1);
    ht_new(&b, "two rows", 2, s2, &r, 0, 1);
    ht_new(&c, "other cols", 2, s3, &r, 0, 1);
    expect_arg_error(sakd_repeat_time_forward(&a.t, &b.t, 4), "repeat_time_forward", "six rows");
    expect_arg_error(sakd_repeat_time_backward(&c.t, &a.t, 3), "repeat_time_backward",
                     "other cols");
    expect_arg_error(sakd_mean_time_forward(&b.t, &a.t, 2), "mean_time_forward", "two rows");
    expect_arg_error(sakd_mean_time_backward(&a.t, &c.t, 3), "mean_time_backward", "other cols");
    expect_arg_error(sakd_add_forward(&b.t, &b.t, &c.t), "add_forward", "other cols");
    expect_arg_error(sakd_add_backward(&b.t, &c.t, &b.t), "add_backward", "other cols");
    expect_arg_error(sakd_sew_forward(&b.t, &c.t, &b.t, SAKD_SEW_AND), "sew_forward", "other cols");
    expect_arg_error(sakd_sew_backward(&b.t, &b.t, &b.t, &c.t, &b.t, SAKD_SEW_IAND), "sew_backward",
                     "other cols");
    ck_assert_int_eq(sakd_sew_forward(&b.t, &b.t, &b.t, (sakd_sew_connect)7), SAKD_ERR_ARG);
    /* A correct call still works: T = 3, 6 = 3·2 rows. */
    TEST_OK(sakd_repeat_time_forward(&a.t, &b.t, 3));
    ht_free(&a), ht_free(&b), ht_free(&c);
}
END_TEST

Suite *suite_shape(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_repeat_mean_time, 0, 4);
    tcase_add_loop_test(tc, test_connect, 0, 12);
    tcase_add_test(tc, test_flatten);
    tcase_add_test(tc, test_shape_bad_shapes);
    suite_add_tcase(s, tc);
    return s;
}
