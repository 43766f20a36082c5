/* selftest.c — `sakd selftest`: GEMM, element-wise and random kernels on the selected device
 * against a double-precision CPU reference. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "ops/gemm.h"
#include "ops/gemm_tuning.h"

/* Float GEMM with k products per output may err by up to k·eps times the
 * sum of |products| (Higham's gamma_k bound); 2x for alpha/beta rounding. */
#define GEMM_BOUND_FACTOR 2.0
/* axpby: two products and a sum in float, possibly fused: a few ulps. */
#define AXPBY_RTOL (4.0 * FLT_EPSILON)
/* Normals use the device's log/sqrt/sin/cos (<= 4 ulp each in OpenCL 1.2). */
#define NORMAL_TOL 1e-5

void help_selftest(void)
{
    printf("usage: sakd selftest [--device SPEC]\n\n"
           "Runs GEMMs (odd sizes, transposes, offsets, batched) through CLBlast, an\n"
           "element-wise kernel and the random-number kernels on the selected device,\n"
           "compares each with a double-precision CPU reference and prints the largest\n"
           "error beside its bound. Exit status 1 when any check fails.\n");
}

typedef struct gemm_case {
    size_t m, n, k;
    int ta, tb;
    size_t pad; /* extra columns in every leading dimension and offset */
    size_t batch;
} gemm_case;

static double frand(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return ((*state >> 8) / 16777216.0) * 2.0 - 1.0;
}

/* Runs one GEMM case; returns the worst error/bound ratio, or -1 on a device error. */
static double gemm_check(sakd_ctx *ctx, const gemm_case *g, unsigned *seed, double *max_err)
{
    size_t ar = g->ta ? g->k : g->m, ac = g->ta ? g->m : g->k;
    size_t br = g->tb ? g->n : g->k, bc = g->tb ? g->k : g->n;
    size_t lda = ac + g->pad, ldb = bc + g->pad, ldc = g->n + g->pad;
    size_t sa = ar * lda, sb = br * ldb, sc = g->m * ldc, off = g->pad;
    size_t na = off + g->batch * sa, nb = off + g->batch * sb, nc = off + g->batch * sc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    float *out = malloc(nc * sizeof *out);
    const float alpha = 0.75f, beta = -0.5f;
    double ratio = -1.0;
    sakd_tensor ta = {0}, tb = {0}, tc = {0};
    if (!a || !b || !c || !out)
        goto done;
    for (size_t i = 0; i < na; i++)
        a[i] = (float)frand(seed);
    for (size_t i = 0; i < nb; i++)
        b[i] = (float)frand(seed);
    for (size_t i = 0; i < nc; i++)
        c[i] = (float)frand(seed);
    if (sakd_tensor_new(&ta, ctx, "A", 1, &na) || sakd_tensor_new(&tb, ctx, "B", 1, &nb) ||
        sakd_tensor_new(&tc, ctx, "C", 1, &nc) || sakd_tensor_upload(&ta, a) ||
        sakd_tensor_upload(&tb, b) || sakd_tensor_upload(&tc, c))
        goto done;
    sakd_mat ma = {ta.buf, off, lda}, mb = {tb.buf, off, ldb}, mc = {tc.buf, off, ldc};
    sakd_status st = g->batch == 1
                         ? sakd_gemm(ctx, g->ta, g->tb, g->m, g->n, g->k, alpha, ma, mb, beta, mc)
                         : sakd_gemm_batched(ctx, g->ta, g->tb, g->m, g->n, g->k, alpha, ma, sa, mb,
                                             sb, beta, mc, sc, g->batch);
    if (st != SAKD_OK || sakd_tensor_download(&tc, out))
        goto done;
    ratio = 0.0;
    *max_err = 0.0;
    for (size_t p = 0; p < g->batch; p++)
        for (size_t i = 0; i < g->m; i++)
            for (size_t j = 0; j < g->n; j++) {
                double acc = 0.0, mag = 0.0;
                for (size_t l = 0; l < g->k; l++) {
                    double x = a[off + p * sa + (g->ta ? l * lda + i : i * lda + l)];
                    double y = b[off + p * sb + (g->tb ? j * ldb + l : l * ldb + j)];
                    acc += x * y;
                    mag += fabs(x * y);
                }
                size_t ci = off + p * sc + i * ldc + j;
                double ref = alpha * acc + beta * (double)c[ci];
                double bound = GEMM_BOUND_FACTOR * (double)(g->k + 2) * FLT_EPSILON *
                               (fabs(alpha) * mag + fabs(beta * c[ci]));
                double err = fabs((double)out[ci] - ref);
                if (err > *max_err)
                    *max_err = err;
                if (!(err <= bound)) /* also catches NaN */
                    ratio = INFINITY;
                else if (bound > 0 && err / bound > ratio)
                    ratio = err / bound;
            }
    /* Padding between rows must be untouched. */
    for (size_t p = 0; p < g->batch; p++)
        for (size_t i = 0; i < g->m; i++)
            for (size_t j = g->n; j < ldc; j++)
                if (out[off + p * sc + i * ldc + j] != c[off + p * sc + i * ldc + j])
                    ratio = INFINITY;
done:
    sakd_tensor_free(&ta);
    sakd_tensor_free(&tb);
    sakd_tensor_free(&tc);
    free(a);
    free(b);
    free(c);
    free(out);
    return ratio;
}

static int report(const char *what, double err, double ratio)
{
    int ok = ratio >= 0.0 && ratio <= 1.0;
    if (ratio < 0.0)
        printf("  %-34s device error: %s\n", what, sakd_error_detail());
    else
        printf("  %-34s max error %.3g (%.3g of bound)  %s\n", what, err, ratio,
               ok ? "ok" : "FAIL");
    return ok;
}

static int axpby_check(sakd_ctx *ctx, unsigned *seed)
{
    const size_t n = 1000 + 37, off = 13; /* not a multiple of any work-group size */
    size_t total = n + off;
    float *x = malloc(total * sizeof *x), *y = malloc(total * sizeof *y);
    float *out = malloc(total * sizeof *out);
    sakd_tensor tx = {0}, ty = {0}, vx, vy;
    double ratio = -1.0, max_err = 0.0;
    const float a = 1.25f, b = -0.75f;
    if (!x || !y || !out)
        goto done;
    for (size_t i = 0; i < total; i++) {
        x[i] = (float)frand(seed);
        y[i] = (float)frand(seed);
    }
    if (sakd_tensor_new(&tx, ctx, "x", 1, &total) || sakd_tensor_new(&ty, ctx, "y", 1, &total) ||
        sakd_tensor_upload(&tx, x) || sakd_tensor_upload(&ty, y) ||
        sakd_tensor_view(&vx, &tx, "x[off:]", off, 1, &n) ||
        sakd_tensor_view(&vy, &ty, "y[off:]", off, 1, &n) || sakd_axpby(&vy, &vx, a, b) ||
        sakd_tensor_download(&ty, out))
        goto done;
    ratio = 0.0;
    for (size_t i = 0; i < total; i++) {
        double ref = i < off ? y[i] : (double)a * x[i] + (double)b * y[i];
        double err = fabs(out[i] - ref);
        double bound = AXPBY_RTOL * (fabs((double)a * x[i]) + fabs((double)b * y[i]));
        if (i < off)
            bound = 0.0; /* before the view: untouched */
        if (err > max_err)
            max_err = err;
        if (!(err <= bound))
            ratio = INFINITY;
        else if (bound > 0 && err / bound > ratio)
            ratio = err / bound;
    }
done:
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    free(x);
    free(y);
    free(out);
    return report("axpby n=1037 offset 13", max_err, ratio);
}

static int rng_check(sakd_ctx *ctx, unsigned *seed)
{
    const size_t n = 4099;
    frand(seed);
    uint64_t key = ((uint64_t)*seed << 32) ^ 0x5a4b3c2d1e0fULL;
    uint64_t base = 1000003;
    float *out = malloc(n * sizeof *out);
    sakd_tensor t = {0};
    int ok = 1;
    double ratio = -1.0, max_err = 0.0;
    if (!out || sakd_tensor_new(&t, ctx, "random", 1, &n) ||
        sakd_rng_uniform_fill(&t, key, base, 0.0f, 1.0f) || sakd_tensor_download(&t, out)) {
        ok = report("uniform random n=4099", 0, -1);
        goto done;
    }
    ratio = 0.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(out[i] - sakd_rng_uniform(key, base + i));
        if (err > max_err)
            max_err = err;
        if (err != 0.0)
            ratio = INFINITY;
    }
    ok &= report("uniform random n=4099 (exact)", max_err, ratio);
    if (sakd_rng_normal_fill(&t, key, base, 0.0f, 1.0f) || sakd_tensor_download(&t, out)) {
        ok &= report("normal random n=4099", 0, -1);
        goto done;
    }
    ratio = 0.0;
    max_err = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ref = sakd_rng_normal(key, base + i);
        double err = fabs(out[i] - ref), bound = NORMAL_TOL * (1.0 + fabs(ref));
        if (err > max_err)
            max_err = err;
        if (!(err <= bound))
            ratio = INFINITY;
        else if (err / bound > ratio)
            ratio = err / bound;
    }
    ok &= report("normal random n=4099", max_err, ratio);
done:
    sakd_tensor_free(&t);
    free(out);
    return ok;
}

int cmd_selftest(cli_opts *opts, int argc, char **argv)
{
    int rc = cli_parse_common(opts, argc, argv, help_selftest);
    if (rc >= 0)
        return rc;
    sakd_ctx *ctx;
    sakd_status st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the OpenCL device");
    printf("selftest on %u:%u %s (%s, driver %s)\n", ctx->info.platform_index,
           ctx->info.device_index, ctx->info.name, ctx->info.platform_name, ctx->info.driver);
    unsigned seed = (unsigned)time(NULL);
    printf("  random inputs from seed %u\n", seed);
    static const gemm_case cases[] = {
        {37, 29, 53, 0, 0, 0, 1}, {64, 17, 100, 1, 0, 3, 1}, {13, 71, 31, 0, 1, 5, 1},
        {50, 50, 77, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0, 1},     {19, 23, 41, 0, 1, 2, 3},
    };
    int ok = 1;
    /* Every GEMM provider that can serve this device, then the automatic choice. */
    static const char *const providers[] = {"clblast", "host"};
    for (size_t p = 0; p < sizeof providers / sizeof providers[0]; p++) {
        if (sakd_gemm_provider_set(ctx, providers[p]) != SAKD_OK) {
            printf("  GEMM provider %s: not available here (%s)\n", providers[p],
                   sakd_error_detail());
            sakd_error_clear();
            continue;
        }
        char provider[512];
        sakd_gemm_provider_describe(ctx, provider, sizeof provider);
        printf("  GEMM provider: %s\n", provider);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const gemm_case *g = &cases[i];
            char what[96];
            snprintf(what, sizeof what, "%s gemm%s %zux%zux%zu %c%c pad %zu", providers[p],
                     g->batch > 1 ? "_batched" : "", g->m, g->n, g->k, g->ta ? 'T' : 'N',
                     g->tb ? 'T' : 'N', g->pad);
            double err = 0.0, ratio = gemm_check(ctx, g, &seed, &err);
            ok &= report(what, err, ratio);
        }
    }
    st = sakd_gemm_provider_set(ctx, NULL);
    char provider[512];
    sakd_gemm_provider_describe(ctx, provider, sizeof provider);
    printf("  GEMM provider of training runs here: %s\n", provider);
    ok &= axpby_check(ctx, &seed);
    ok &= rng_check(ctx, &seed);
    sakd_ctx_free(ctx);
    printf("selftest %s\n", ok ? "passed" : "FAILED");
    return ok ? SAKD_EXIT_OK : SAKD_EXIT_FAIL;
}
