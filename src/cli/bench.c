/* bench.c — `sakd bench`: device benchmarks (ops: bench_ops.c). `gemm` measures CLBlast SGEMM
 * throughput over a range of sizes; the largest figure is the device's GEMM peak that other
 * benchmarks divide by. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/gemm.h"
#include "ops/gemm_tuning.h"
#include "runtime/timer.h"

void help_bench(void)
{
    printf("usage: sakd bench gemm [--device SPEC] [--sizes N,N,...] [--reps R]\n"
           "       sakd bench ops [OPTIONS]   (see 'sakd bench ops --help')\n\n"
           "gemm: times C = A·B for square float32 matrices of each size N (default\n"
           "128,256,512,1024) through CLBlast on the selected device: R timed runs\n"
           "(default 5) after one warm-up, median wall time with the queue drained,\n"
           "GFLOP/s = 2·N³ / time. The largest GFLOP/s is reported as the device's\n"
           "measured GEMM peak.\n\n");
    help_bench_ops();
    printf("\n");
    help_bench_train();
    printf("\n");
    help_bench_lif_layer();
    printf("\n");
    help_bench_spikes();
}

int cli_parse_sizes(const char *text, long max, size_t *list, size_t cap, size_t *count)
{
    *count = 0;
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > max || (*end && *end != ',') || *count == cap) {
            fprintf(stderr,
                    "sakd: error: --sizes wants at most %zu sizes from 1 to %ld separated by "
                    "commas, not '%s'\n",
                    cap, max, text);
            return SAKD_EXIT_USAGE;
        }
        list[(*count)++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    if (*count == 0) {
        fprintf(stderr, "sakd: error: --sizes is empty\n");
        return SAKD_EXIT_USAGE;
    }
    return -1;
}

/* Median seconds of one n x n x n SGEMM. */
sakd_status cli_time_gemm(sakd_ctx *ctx, size_t n, int reps, double *seconds)
{
    size_t nn = n * n;
    sakd_tensor a = {0}, b = {0}, c = {0};
    double *times = calloc((size_t)reps, sizeof *times);
    sakd_status st = times ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    if (st == SAKD_OK)
        st = sakd_tensor_new(&a, ctx, "bench A", 1, &nn);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&b, ctx, "bench B", 1, &nn);
    if (st == SAKD_OK)
        st = sakd_tensor_new(&c, ctx, "bench C", 1, &nn);
    if (st == SAKD_OK)
        st = sakd_rng_uniform_fill(&a, 1, 0, -1.0f, 1.0f);
    if (st == SAKD_OK)
        st = sakd_rng_uniform_fill(&b, 2, 0, -1.0f, 1.0f);
    sakd_mat ma = {a.buf, 0, n}, mb = {b.buf, 0, n}, mc = {c.buf, 0, n};
    for (int r = -1; r < reps && st == SAKD_OK; r++) {
        st = sakd_ctx_finish(ctx);
        double t0 = sakd_time_now();
        if (st == SAKD_OK)
            st = sakd_gemm(ctx, 0, 0, n, n, n, 1.0f, ma, mb, 0.0f, mc);
        if (st == SAKD_OK)
            st = sakd_ctx_finish(ctx);
        if (r >= 0)
            times[r] = sakd_time_now() - t0;
    }
    if (st == SAKD_OK)
        *seconds = sakd_median(times, (size_t)reps);
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
    sakd_tensor_free(&c);
    free(times);
    return st;
}

static int bench_gemm(cli_opts *opts, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'},
        {"sizes", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sizes = "128,256,512,1024";
    long reps = 5;
    int c;
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    while ((c = getopt_long(argc, argv, "d:s:r:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 's': sizes = optarg; break;
        case 'r':
            if (!cli_parse_long("bench gemm", "--reps", optarg, 1, 1000, &reps))
                return SAKD_EXIT_USAGE;
            break;
        case 'h': help_bench(); return SAKD_EXIT_OK;
        default: return SAKD_EXIT_USAGE;
        }
    }
    size_t list[32], count = 0;
    int rc = cli_parse_sizes(sizes, 16384, list, 32, &count);
    if (rc >= 0)
        return rc;
    sakd_ctx *ctx;
    sakd_status st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the OpenCL device");
    printf("# sakd bench gemm on %s (%s, driver %s), %d timed runs each, median\n", ctx->info.name,
           ctx->info.platform_name, ctx->info.driver, (int)reps);
    /* The first GEMM applies a stored tuning: do one before saying which. */
    double warm;
    st = cli_time_gemm(ctx, 64, 1, &warm);
    if (st != SAKD_OK) {
        sakd_ctx_free(ctx);
        return cli_fail(st, "benchmarking GEMM");
    }
    char gemm_desc[512];
    sakd_gemm_provider_describe(ctx, gemm_desc, sizeof gemm_desc);
    printf("# GEMM provider: %s\n", gemm_desc);
    printf("%8s %12s %10s\n", "N", "time_ms", "GFLOP/s");
    double peak = 0.0;
    for (size_t i = 0; i < count && st == SAKD_OK; i++) {
        double s;
        st = cli_time_gemm(ctx, list[i], (int)reps, &s);
        if (st != SAKD_OK)
            break;
        double gflops = 2.0 * (double)list[i] * list[i] * list[i] / s * 1e-9;
        if (gflops > peak)
            peak = gflops;
        printf("%8zu %12.3f %10.2f\n", list[i], s * 1e3, gflops);
    }
    if (st == SAKD_OK)
        printf("# measured GEMM peak: %.2f GFLOP/s\n", peak);
    sakd_ctx_free(ctx);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "benchmarking GEMM");
}

int cmd_bench(cli_opts *opts, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help_bench();
        return argc < 2 ? SAKD_EXIT_USAGE : SAKD_EXIT_OK;
    }
    if (strcmp(argv[1], "gemm") == 0)
        return bench_gemm(opts, argc - 1, argv + 1);
    if (strcmp(argv[1], "ops") == 0)
        return cli_bench_ops(opts, argc - 1, argv + 1);
    if (strcmp(argv[1], "train") == 0)
        return cli_bench_train(opts, argc - 1, argv + 1);
    if (strcmp(argv[1], "lif-layer") == 0)
        return cli_bench_lif_layer(opts, argc - 1, argv + 1);
    if (strcmp(argv[1], "spikes") == 0)
        return cli_bench_spikes(opts, argc - 1, argv + 1);
    fprintf(stderr, "sakd: error: no benchmark '%s'; 'sakd bench --help' lists them\n", argv[1]);
    return SAKD_EXIT_USAGE;
}
