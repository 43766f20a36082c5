/* test_gemm_tune.c — GEMM tuning: the tuning file's round trip and refusals, call recording,
 * profiling totals, and a small search whose chosen parameters still compute GEMMs right
 * (against a double-precision CPU reference) on both the direct and the indirect path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_tuning.h"
#include "tune/gemm_search.h"
#include "ops/ops_state.h"
#include "runtime/profile.h"
#include "testutil.h"

/* float32 sums of k products of values in [-1, 1]: error grows like k·eps; 1e-5·k bounds it
 * with a wide margin while a wrong element (off by a whole product) stays far above. */
#define GEMM_TOL_PER_K 1e-5

static void fill_device_fields(const sakd_ctx *ctx, sakd_gemm_tuning *t)
{
    snprintf(t->platform, sizeof t->platform, "%s", ctx->info.platform_name);
    snprintf(t->device, sizeof t->device, "%s", ctx->info.name);
    snprintf(t->driver, sizeof t->driver, "%s", ctx->info.driver);
    snprintf(t->clblast, sizeof t->clblast, "%s", sakd_clblast_version());
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char *xgemm_names[16] = {"GEMMK", "KREG",  "KWG",   "KWI", "MDIMA", "MDIMC",
                                      "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                      "STRM",  "STRN",  "VWM",   "VWN"};

static const char *direct_names[10] = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD",
                                       "PADA", "PADB",   "VWMD",   "VWND",   "WGD"};

START_TEST(test_tuning_file_round_trip)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(71);
    char dir[512], path[600];
    test_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/t.ini", dir);
    sakd_gemm_tuning t, u;
    memset(&t, 0, sizeof t);
    fill_device_fields(ctx, &t);
    snprintf(t.workload, sizeof t.workload, "resnet19 w0.25 T4 b32 (fashion-mnist sakd)");
    snprintf(t.date, sizeof t.date, "2026-01-02T03:04:05Z");
    t.ms_default = 1234.5;
    t.ms_tuned = 321.25;
    t.gflops_default = 12.5;
    t.gflops_tuned = 48.25;
    t.xgemm.n = 16;
    for (size_t i = 0; i < 16; i++) {
        snprintf(t.xgemm.names[i], sizeof t.xgemm.names[i], "%s", xgemm_names[i]);
        t.xgemm.values[i] = test_rand_size(&r, 0, 256);
    }
    t.routine.n = 1;
    snprintf(t.routine.names[0], sizeof t.routine.names[0], "XGEMM_MIN_INDIRECT_SIZE");
    t.routine.values[0] = test_rand_size(&r, 0, 100000);
    /* Classes need complete general sets; their own sets round-trip too. */
    t.direct.n = 10;
    for (size_t i = 0; i < 10; i++) {
        snprintf(t.direct.names[i], sizeof t.direct.names[i], "%s", direct_names[i]);
        t.direct.values[i] = test_rand_size(&r, 0, 64);
    }
    const char *cls[2] = {"TN", "NT-batched"};
    t.n_classes = 2;
    for (int c = 0; c < 2; c++) {
        sakd_gemm_class_params *k = &t.classes[c];
        snprintf(k->name, sizeof k->name, "%s", cls[c]);
        k->xgemm = t.xgemm;
        k->direct = t.direct;
        k->routine = t.routine;
        k->xgemm.values[6] = test_rand_size(&r, 0, 256);
        k->direct.values[9] = test_rand_size(&r, 0, 64);
        k->routine.values[0] = test_rand_size(&r, 0, 100000);
        k->ms_general = 100.5 + c;
        k->ms_tuned = 50.25 + c;
    }
    TEST_OK(sakd_gemm_tuning_write(path, &t));
    TEST_OK(sakd_gemm_tuning_read(path, &u));
    ck_assert_uint_eq(u.n_classes, 2);
    for (int c = 0; c < 2; c++) {
        const sakd_gemm_class_params *a = &t.classes[c], *b = &u.classes[c];
        ck_assert_str_eq(b->name, a->name);
        ck_assert(fabs(b->ms_general - a->ms_general) < 1e-3);
        ck_assert(fabs(b->ms_tuned - a->ms_tuned) < 1e-3);
        ck_assert_uint_eq(b->xgemm.n, 16);
        ck_assert_uint_eq(b->direct.n, 10);
        ck_assert_uint_eq(b->routine.n, 1);
        for (size_t i = 0; i < 16; i++)
            ck_assert_uint_eq(b->xgemm.values[i], a->xgemm.values[i]);
        for (size_t i = 0; i < 10; i++)
            ck_assert_uint_eq(b->direct.values[i], a->direct.values[i]);
        ck_assert_uint_eq(b->routine.values[0], a->routine.values[0]);
    }
    ck_assert_str_eq(u.platform, t.platform);
    ck_assert_str_eq(u.device, t.device);
    ck_assert_str_eq(u.driver, t.driver);
    ck_assert_str_eq(u.clblast, t.clblast);
    ck_assert_str_eq(u.workload, t.workload);
    ck_assert_str_eq(u.date, t.date);
    ck_assert(fabs(u.ms_default - t.ms_default) < 1e-3 && fabs(u.ms_tuned - t.ms_tuned) < 1e-3);
    ck_assert(fabs(u.gflops_tuned - t.gflops_tuned) < 1e-2);
    ck_assert_uint_eq(u.xgemm.n, 16);
    ck_assert_uint_eq(u.direct.n, 10);
    ck_assert_uint_eq(u.routine.n, 1);
    for (size_t i = 0; i < 16; i++) {
        ck_assert_str_eq(u.xgemm.names[i], t.xgemm.names[i]);
        ck_assert_uint_eq(u.xgemm.values[i], t.xgemm.values[i]);
    }
    ck_assert_uint_eq(u.routine.values[0], t.routine.values[0]);
    /* The default path is per device and lies in the cache directory. */
    char p1[4096];
    TEST_OK(sakd_gemm_tuning_path(ctx, p1, sizeof p1));
    ck_assert_ptr_nonnull(strstr(p1, "/gemm-tuning-"));
    test_rmtree(dir);
}
END_TEST

/* A bad tuning file is refused with a message naming the file and the offending key. */
static void expect_refused(const char *path, const char *text, const char *needle)
{
    write_text(path, text);
    sakd_gemm_tuning t;
    sakd_status st = sakd_gemm_tuning_read(path, &t);
    ck_assert_msg(st == SAKD_ERR_FORMAT, "'%s' was not refused as a format error", text);
    ck_assert_msg(strstr(sakd_error_detail(), path), "message '%s' does not name the file",
                  sakd_error_detail());
    ck_assert_msg(strstr(sakd_error_detail(), needle), "message '%s' does not say '%s'",
                  sakd_error_detail(), needle);
}

START_TEST(test_tuning_file_refusals)
{
    sakd_ctx *ctx = test_ctx();
    char dir[512], path[600];
    test_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.ini", dir);
    const char *dev = "[device]\nplatform = P\nname = D\ndriver = 1\nclblast = 1.5.3\n";
    char text[1024];
    snprintf(text, sizeof text, "%s[Xgemm]\nMWG = -3\n", dev);
    expect_refused(path, text, "MWG");
    snprintf(text, sizeof text, "%s[Xgemm]\nMWG = 64x\n", dev);
    expect_refused(path, text, "MWG");
    snprintf(text, sizeof text, "%s[bogus]\nthing = 1\n", dev);
    expect_refused(path, text, "[bogus] thing");
    snprintf(text, sizeof text, "%s[Xgemm]\nMWG = 64\nNWG = 64\n", dev);
    expect_refused(path, text, "[Xgemm] needs all");
    expect_refused(path, "[Xgemm]\nMWG = 64\n", "[device]");
    snprintf(text, sizeof text, "%s[Xgemm.NX]\nMWG = 64\n", dev);
    expect_refused(path, text, "'NX' is not a GEMM call class");
    snprintf(text, sizeof text, "%s[Xgemm.TN]\nMWG = 64\n", dev);
    expect_refused(path, text, "class TN needs complete");
    snprintf(text, sizeof text, "%s[class.NN-batched]\nms_tuned = fast\n", dev);
    expect_refused(path, text, "ms_tuned");
    expect_refused(path, "not an ini file at all\n", "syntax");
    /* A missing file is an I/O error naming it. */
    sakd_gemm_tuning t;
    snprintf(path, sizeof path, "%s/missing.ini", dir);
    ck_assert_int_ne(sakd_gemm_tuning_read(path, &t), SAKD_OK);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "missing.ini"));
    /* A tuning for another device is not applied. */
    memset(&t, 0, sizeof t);
    fill_device_fields(ctx, &t);
    snprintf(t.device, sizeof t.device, "some other device");
    ck_assert_int_eq(sakd_gemm_tuning_apply(ctx, &t), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "some other device"));
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), ctx->info.name));
    fill_device_fields(ctx, &t);
    snprintf(t.clblast, sizeof t.clblast, "0.0.1");
    ck_assert_int_eq(sakd_gemm_tuning_apply(ctx, &t), SAKD_ERR_ARG);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_record_calls)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(72);
    size_t m = test_rand_size(&r, 3, 40), n = test_rand_size(&r, 3, 40),
           k = test_rand_size(&r, 3, 40), batch = test_rand_size(&r, 2, 4);
    size_t big = batch * 64 * 64;
    sakd_tensor a, b, c;
    TEST_OK(sakd_tensor_new(&a, ctx, "A", 1, &big));
    TEST_OK(sakd_tensor_new(&b, ctx, "B", 1, &big));
    TEST_OK(sakd_tensor_new(&c, ctx, "C", 1, &big));
    TEST_OK(sakd_tensor_fill(&a, 0.5f));
    TEST_OK(sakd_tensor_fill(&b, 0.25f));
    sakd_gemm_log log = {0};
    sakd_mat ma = {a.buf, 0, k}, mb = {b.buf, 0, n}, mc = {c.buf, 0, n};
    TEST_OK(sakd_gemm_record_start(ctx, &log));
    TEST_OK(sakd_gemm(ctx, 0, 0, m, n, k, 1.0f, ma, mb, 0.0f, mc));
    TEST_OK(sakd_gemm(ctx, 0, 0, m, n, k, 1.0f, ma, mb, 1.0f, mc));
    TEST_OK(sakd_gemm(ctx, 1, 0, k, n, m, 1.0f, (sakd_mat){a.buf, 0, k}, mb, 0.0f, mc));
    TEST_OK(
        sakd_gemm_batched(ctx, 0, 0, m, n, k, 1.0f, ma, m * k, mb, k * n, 0.0f, mc, m * n, batch));
    sakd_gemm_record_stop(ctx);
    TEST_OK(sakd_gemm(ctx, 0, 0, m, n, k, 1.0f, ma, mb, 0.0f, mc)); /* not recorded */
    ck_assert_uint_eq(log.n, 3);
    ck_assert_uint_eq(log.shapes[0].count, 2);
    ck_assert_uint_eq(log.shapes[1].count, 1);
    ck_assert_uint_eq(log.shapes[2].count, 1);
    ck_assert(log.shapes[0].m == m && log.shapes[0].n == n && log.shapes[0].k == k);
    ck_assert(log.shapes[1].trans_a == 1 && log.shapes[1].m == k && log.shapes[1].k == m);
    ck_assert(log.shapes[2].batch == batch && log.shapes[2].stride_a == m * k &&
              log.shapes[2].stride_b == k * n && log.shapes[2].stride_c == m * n);
    ck_assert(sakd_gemm_shape_flops(&log.shapes[0]) == 2.0 * m * n * k);
    ck_assert(sakd_gemm_shape_flops(&log.shapes[2]) == 2.0 * m * n * k * batch);
    sakd_gemm_log_free(&log);
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
    sakd_tensor_free(&c);
}
END_TEST

static const sakd_profile_total *find_total(const sakd_ctx *ctx, const char *label)
{
    const sakd_profile_total *t;
    size_t n = sakd_profile_totals(ctx, &t);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].label, label) == 0)
            return &t[i];
    return NULL;
}

START_TEST(test_profile_totals)
{
    ck_assert_int_ne(sakd_profile_start(test_ctx()), SAKD_OK); /* no profiling queue */
    ck_assert_ptr_null(sakd_profile_event(test_ctx(), NULL, "x"));
    sakd_ctx *ctx;
    TEST_OK(sakd_ctx_new(&ctx, NULL, SAKD_CTX_PROFILING));
    test_rng r = test_rng_new(73);
    size_t fills = test_rand_size(&r, 1, 5), n = 64 * 64;
    sakd_tensor a, b, c;
    TEST_OK(sakd_tensor_new(&a, ctx, "A", 1, &n));
    TEST_OK(sakd_tensor_new(&b, ctx, "B", 1, &n));
    TEST_OK(sakd_tensor_new(&c, ctx, "C", 1, &n));
    TEST_OK(sakd_profile_start(ctx));
    for (size_t i = 0; i < fills; i++)
        TEST_OK(sakd_rng_uniform_fill(&a, 5, i, -1.0f, 1.0f));
    TEST_OK(sakd_rng_uniform_fill(&b, 6, 0, -1.0f, 1.0f));
    sakd_mat m = {a.buf, 0, 64}, mb = {b.buf, 0, 64}, mc = {c.buf, 0, 64};
    TEST_OK(sakd_gemm(ctx, 0, 0, 64, 64, 64, 1.0f, m, mb, 0.0f, mc));
    float *host = malloc(n * sizeof *host);
    TEST_OK(sakd_tensor_download(&c, host));
    TEST_OK(sakd_profile_collect(ctx));
    const sakd_profile_total *t = find_total(ctx, "uniform_fill");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->count, fills + 1);
    ck_assert(t->ms >= 0.0);
    t = find_total(ctx, "gemm");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->count, 1);
    ck_assert(t->ms > 0.0);
    t = find_total(ctx, "transfer");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->count, 1);
    /* Collecting again adds nothing; reset clears. */
    TEST_OK(sakd_profile_collect(ctx));
    ck_assert_uint_eq(find_total(ctx, "gemm")->count, 1);
    sakd_profile_reset(ctx);
    const sakd_profile_total *all;
    ck_assert_uint_eq(sakd_profile_totals(ctx, &all), 0);
    free(host);
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
    sakd_tensor_free(&c);
    sakd_ctx_free(ctx);
}
END_TEST

/* Runs `s` on fresh random operands and compares every element with a double reference. */
static void check_shape_result(sakd_ctx *ctx, const sakd_gemm_shape *s, test_rng *r)
{
    size_t nb = s->batch ? s->batch : 1;
    size_t ea = (s->trans_a ? (s->k - 1) * s->lda + s->m : (s->m - 1) * s->lda + s->k) +
                (nb - 1) * s->stride_a;
    size_t eb = (s->trans_b ? (s->n - 1) * s->ldb + s->k : (s->k - 1) * s->ldb + s->n) +
                (nb - 1) * s->stride_b;
    size_t ec = (s->m - 1) * s->ldc + s->n + (nb - 1) * s->stride_c;
    float *ha = malloc(ea * sizeof *ha), *hb = malloc(eb * sizeof *hb), *hc = malloc(ec * 4);
    test_fill_uniform(r, ha, ea, -1, 1);
    test_fill_uniform(r, hb, eb, -1, 1);
    sakd_tensor a, b, c;
    TEST_OK(sakd_tensor_new(&a, ctx, "A", 1, &ea));
    TEST_OK(sakd_tensor_new(&b, ctx, "B", 1, &eb));
    TEST_OK(sakd_tensor_new(&c, ctx, "C", 1, &ec));
    TEST_OK(sakd_tensor_upload(&a, ha));
    TEST_OK(sakd_tensor_upload(&b, hb));
    test_poison(hc, ec);
    TEST_OK(sakd_tensor_upload(&c, hc));
    sakd_mat ma = {a.buf, 0, s->lda}, mb = {b.buf, 0, s->ldb}, mc = {c.buf, 0, s->ldc};
    if (s->batch)
        TEST_OK(sakd_gemm_batched(ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, ma,
                                  s->stride_a, mb, s->stride_b, 0.0f, mc, s->stride_c, s->batch));
    else
        TEST_OK(sakd_gemm(ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, ma, mb, 0.0f, mc));
    TEST_OK(sakd_tensor_download(&c, hc));
    for (size_t q = 0; q < nb; q++)
        for (size_t i = 0; i < s->m; i++)
            for (size_t j = 0; j < s->n; j++) {
                double ref = 0.0;
                for (size_t l = 0; l < s->k; l++) {
                    double av = s->trans_a ? ha[q * s->stride_a + l * s->lda + i]
                                           : ha[q * s->stride_a + i * s->lda + l];
                    double bv = s->trans_b ? hb[q * s->stride_b + j * s->ldb + l]
                                           : hb[q * s->stride_b + l * s->ldb + j];
                    ref += av * bv;
                }
                double got = hc[q * s->stride_c + i * s->ldc + j];
                ck_assert_msg(fabs(got - ref) <= GEMM_TOL_PER_K * (double)s->k,
                              "C[%zu][%zu][%zu] = %g, reference %g (m %zu n %zu k %zu, seed %llu)",
                              q, i, j, got, ref, s->m, s->n, s->k, (unsigned long long)test_seed());
            }
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
    sakd_tensor_free(&c);
    free(ha);
    free(hb);
    free(hc);
}

START_TEST(test_search_keeps_results_right)
{
    /* A fresh context that sees CLBlast's defaults (no stored tuning). */
    setenv("SAKD_GEMM_TUNING", "off", 1);
    sakd_ctx *ctx;
    TEST_OK(sakd_ctx_new(&ctx, NULL, 0));
    test_rng r = test_rng_new(74);
    sakd_gemm_shape shapes[2];
    memset(shapes, 0, sizeof shapes);
    for (int i = 0; i < 2; i++) {
        sakd_gemm_shape *s = &shapes[i];
        s->trans_a = (int)test_rand_size(&r, 0, 1);
        s->trans_b = (int)test_rand_size(&r, 0, 1);
        s->m = test_rand_size(&r, 17, 90);
        s->n = test_rand_size(&r, 17, 90);
        s->k = test_rand_size(&r, 17, 90);
        s->lda = (s->trans_a ? s->m : s->k) + test_rand_size(&r, 0, 3);
        s->ldb = (s->trans_b ? s->k : s->n) + test_rand_size(&r, 0, 3);
        s->ldc = s->n + test_rand_size(&r, 0, 3);
        s->count = test_rand_size(&r, 1, 3);
    }
    sakd_gemm_log log = {shapes, 2, 2};
    /* Plain GEMMs and one candidate of the indirect kernel: every candidate and every path
     * switch is a fresh OpenCL compile of CLBlast's GEMM program (tens of seconds on PoCL),
     * and this test is about correctness, not speed (the batched routine and the direct
     * kernel are exercised by `sakd tune` runs; their results pass the same replay check). A
     * fixed sampling seed lets PoCL's kernel cache serve reruns. */
    /* A start tuning whose indirect set (small tiles, valid on any OpenCL device) must be the
     * first candidate tried, as the log shows. */
    sakd_gemm_tuning start;
    memset(&start, 0, sizeof start);
    static const char *const xn[] = {"GEMMK", "KREG",  "KWG",   "KWI", "MDIMA", "MDIMC",
                                     "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                     "STRM",  "STRN",  "VWM",   "VWN"};
    static const size_t xv[] = {0, 1, 16, 2, 8, 8, 32, 8, 8, 32, 0, 0, 0, 0, 1, 1};
    start.xgemm.n = 16;
    for (size_t i = 0; i < 16; i++) {
        snprintf(start.xgemm.names[i], sizeof start.xgemm.names[i], "%s", xn[i]);
        start.xgemm.values[i] = xv[i];
    }
    FILE *lg = tmpfile();
    ck_assert_ptr_nonnull(lg);
    sakd_gemm_tune_opts o = {1, 0, 0, 1, 60.0, lg, 0, &start};
    sakd_gemm_tuning best;
    TEST_OK(sakd_gemm_tune(ctx, &log, &o, &best));
    rewind(lg);
    char line[1024];
    int after_mark = 0, started = 0;
    while (fgets(line, sizeof line, lg)) {
        if (strstr(line, "the start tuning's set first")) {
            after_mark = 1;
            continue;
        }
        if (after_mark) {
            started = strstr(line, "GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=8 "
                                   "NDIMC=8 NWG=32 SA=0 SB=0 STRM=0 STRN=0 VWM=1 VWN=1") != NULL;
            break;
        }
    }
    fclose(lg);
    ck_assert_msg(started, "the start tuning's indirect set was not the first candidate");
    ck_assert_str_eq(best.device, ctx->info.name);
    ck_assert_str_eq(best.driver, ctx->info.driver);
    ck_assert(best.ms_default > 0.0 && best.ms_tuned > 0.0);
    ck_assert(best.ms_tuned <= best.ms_default); /* the defaults are kept when nothing wins */
    ck_assert(best.xgemm.n == 0 || best.xgemm.n == 16);
    ck_assert(best.direct.n == 0 || best.direct.n == 10);
    /* What is in effect now (the chosen parameters, or the last candidate tried when the
     * defaults stayed) computes right. */
    for (int i = 0; i < 2; i++)
        check_shape_result(ctx, &shapes[i], &r);
    sakd_ctx_free(ctx);
    unsetenv("SAKD_GEMM_TUNING");
}
END_TEST

static void set_params(sakd_gemm_params *p, const char *const *names, const size_t *values,
                       size_t n)
{
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(p->names[i], sizeof p->names[i], "%s", names[i]);
        p->values[i] = values[i];
    }
}

START_TEST(test_class_sets_switch)
{
    /* A tuning whose general set sends every call to the indirect kernel while the TN class
     * has a set of its own that sends its calls to the direct kernel: calls of both classes
     * in turn switch CLBlast's parameters back and forth, and every result is right. */
    setenv("SAKD_GEMM_TUNING", "off", 1);
    sakd_ctx *ctx;
    TEST_OK(sakd_ctx_new(&ctx, NULL, 0));
    TEST_OK(sakd_gemm_provider_set(ctx, "clblast"));
    sakd_gemm_tuning t;
    memset(&t, 0, sizeof t);
    fill_device_fields(ctx, &t);
    static const size_t general_x[16] = {0, 1, 16, 2, 8, 8, 32, 8, 8, 32, 0, 0, 0, 0, 4, 4};
    static const size_t class_x[16] = {0, 1, 8, 2, 4, 4, 16, 4, 8, 64, 1, 1, 0, 0, 4, 2};
    static const size_t direct[10] = {2, 8, 8, 8, 8, 1, 1, 2, 2, 32};
    const char *routine_name[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
    const size_t all_indirect[1] = {0}, all_direct[1] = {100000};
    set_params(&t.xgemm, xgemm_names, general_x, 16);
    set_params(&t.direct, direct_names, direct, 10);
    set_params(&t.routine, routine_name, all_indirect, 1);
    t.n_classes = 1;
    snprintf(t.classes[0].name, sizeof t.classes[0].name, "TN");
    set_params(&t.classes[0].xgemm, xgemm_names, class_x, 16);
    set_params(&t.classes[0].direct, direct_names, direct, 10);
    set_params(&t.classes[0].routine, routine_name, all_direct, 1);
    TEST_OK(sakd_gemm_tuning_apply(ctx, &t));
    ck_assert_int_eq(sakd_ops_state_peek(ctx)->gemm_active_set, -1);
    test_rng r = test_rng_new(75);
    for (int i = 0; i < 4; i++) {
        sakd_gemm_shape s;
        memset(&s, 0, sizeof s);
        s.trans_a = i % 2; /* NN, TN, NN, TN */
        s.m = test_rand_size(&r, 5, 70);
        s.n = test_rand_size(&r, 5, 70);
        s.k = test_rand_size(&r, 5, 70);
        s.lda = (s.trans_a ? s.m : s.k) + test_rand_size(&r, 0, 3);
        s.ldb = s.n + test_rand_size(&r, 0, 3);
        s.ldc = s.n + test_rand_size(&r, 0, 3);
        check_shape_result(ctx, &s, &r);
        ck_assert_int_eq(sakd_ops_state_peek(ctx)->gemm_active_set, s.trans_a ? 0 : -1);
    }
    sakd_ctx_free(ctx);
    unsetenv("SAKD_GEMM_TUNING");
}
END_TEST

Suite *suite_gemm_tune(void)
{
    Suite *s = suite_create("gemm_tune");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    /* Tuning is CLBlast's: its parameters are applied and switched on CLBlast's GEMMs. */
    tcase_add_checked_fixture(tc, test_provider_clblast, test_provider_reset);
    tcase_add_test(tc, test_tuning_file_round_trip);
    tcase_add_test(tc, test_tuning_file_refusals);
    tcase_add_test(tc, test_record_calls);
    tcase_add_test(tc, test_profile_totals);
    tcase_add_test(tc, test_search_keeps_results_right);
    tcase_add_test(tc, test_class_sets_switch);
    suite_add_tcase(s, tc);
    return s;
}
