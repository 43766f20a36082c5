/* bench_spikes.c — `sakd bench spikes`: the time of a convolution's forward pass and weight
 * gradient, dense (the device's convolution route) against spike-driven (ops/conv_spike.h, on
 * the host), over input densities from 0 to 1 at the 3×3 convolution shapes of ResNet-19, and
 * the density where they cross. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/conv_spike.h"
#include "ops/host.h"
#include "ops/linear.h"
#include "ops/spike_route.h"
#include "runtime/timer.h"

void help_bench_spikes(void)
{
    printf("usage: sakd bench spikes [--device SPEC] [--width W] [--T T] [--batch B]\n"
           "                         [--densities D,D,...] [--reps R] [--csv FILE]\n"
           "                         [--no-device] [--only conv|linear] [--save]\n\n"
           "Times the forward pass plus the weight gradient of each 3x3 convolution shape of\n"
           "ResNet-19 at width W (default 0.25) on 28x28 input, and of VGG-11's spike-fed\n"
           "linear layer (classifier.3, 4096*W -> 4096*W), N = T*B samples (default T 4,\n"
           "batch 32), with Bernoulli spike inputs of each density (default\n"
           "0,0.05,0.1,0.15,0.2,0.3,0.4,0.6,0.8,1): dense through the device's convolution\n"
           "route, or its linear layer's GEMMs (the data gradient left out), and\n"
           "spike-driven on the host from the inputs\n"
           "that fired (the active set built inside the timing), and the spike-driven\n"
           "kernels of cl/conv_spike.cl on the device (spike_dev_ms). Median of R runs\n"
           "(default 3) after a warm-up; prints ms, the host spike/dense ratio and, per\n"
           "shape, the density below which the host's spike-driven pass is faster (none:\n"
           "never; above 1: always). --csv appends shape,N,width,density,dense_ms,spike_ms,\n"
           "spike_dev_ms rows. --no-device skips the device kernels (slow on a CPU device);\n"
           "--only conv or --only linear times those shapes alone.\n"
           "--save writes the crossovers of the route training takes here (the host's where\n"
           "the host BLAS serves this device, else the device kernels') to this device's\n"
           "crossover file, keeping the other shapes it holds; from it run.spike_layers =\n"
           "auto runs each spike-fed layer of those shapes spike-driven in the steps\n"
           "where its input is sparser (ops/spike_route.h).\n");
}

/* The 3x3 convolution shapes of ResNet-19 (DESIGN.md §2.4) at width 1 on 28x28 input, and the
 * spike-fed linear layer of VGG-11's classifier (classifier.3, 4096 -> 4096 at width 1; run as
 * a 1x1 convolution of 1x1 maps, as the graph does). */
static const struct {
    size_t c, m, h, stride, k;
} shapes[] = {{128, 128, 28, 1, 3}, {128, 256, 28, 2, 3}, {256, 256, 14, 1, 3},
              {256, 512, 14, 2, 3}, {512, 512, 7, 1, 3},  {4096, 4096, 1, 1, 1}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])
#define MAX_DENS 32

typedef struct spike_bench {
    sakd_ctx *ctx;
    sakd_spike_conv_shape s;
    sakd_conv2d_params p;
    sakd_tensor x, w, y, gy, gw, work;
    float *hx, *hw, *hy, *hgy, *hgw;
    int reps;
    int no_device; /* skip the device kernels */
} spike_bench;

static void bench_free(spike_bench *b)
{
    sakd_tensor *ts[] = {&b->x, &b->w, &b->y, &b->gy, &b->gw, &b->work};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
    free(b->hx);
    free(b->hw);
    free(b->hy);
    free(b->hgy);
    free(b->hgw);
}

/* Tensors of shape k at `width` for N samples, weights and output gradients random. */
static sakd_status bench_new(spike_bench *b, size_t k, double width, size_t N)
{
    size_t c = (size_t)fmax(1, round(shapes[k].c * width)),
           m = (size_t)fmax(1, round(shapes[k].m * width)), h = shapes[k].h, st = shapes[k].stride,
           kk = shapes[k].k, pad = kk / 2, ho = sakd_conv2d_out_size(h, kk, st, pad);
    b->s = (sakd_spike_conv_shape){N, c, h, h, m, kk, kk, st, st, pad, pad, ho, ho};
    b->p = (sakd_conv2d_params){st, st, pad, pad};
    size_t xs[4] = {N, c, h, h}, ws[4] = {m, c, kk, kk}, ys[4] = {N, m, ho, ho},
           work = sakd_conv2d_workspace_floats(N, c, m, kk, kk, ho, ho);
    SAKD_TRY(sakd_tensor_new(&b->x, b->ctx, "x", 4, xs));
    SAKD_TRY(sakd_tensor_new(&b->w, b->ctx, "weight", 4, ws));
    SAKD_TRY(sakd_tensor_new(&b->y, b->ctx, "y", 4, ys));
    SAKD_TRY(sakd_tensor_new(&b->gy, b->ctx, "grad_out", 4, ys));
    SAKD_TRY(sakd_tensor_new(&b->gw, b->ctx, "grad_weight", 4, ws));
    SAKD_TRY(sakd_tensor_new(&b->work, b->ctx, "workspace", 1, &work));
    SAKD_TRY(sakd_rng_uniform_fill(&b->w, 7, 0, -0.1f, 0.1f));
    SAKD_TRY(sakd_rng_uniform_fill(&b->gy, 8, 0, -1.0f, 1.0f));
    size_t nx = N * c * h * h, nw = m * c * kk * kk, ny = N * m * ho * ho;
    b->hx = malloc(nx * sizeof *b->hx);
    b->hw = malloc(nw * sizeof *b->hw);
    b->hy = malloc(ny * sizeof *b->hy);
    b->hgy = malloc(ny * sizeof *b->hgy);
    b->hgw = malloc(nw * sizeof *b->hgw);
    if (!b->hx || !b->hw || !b->hy || !b->hgy || !b->hgw)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the benchmark's host arrays");
    SAKD_TRY(sakd_tensor_download(&b->w, b->hw));
    return sakd_tensor_download(&b->gy, b->hgy);
}

/* Bernoulli(density) spikes into x, from a stream of (seed 9, counter). */
static sakd_status spikes(spike_bench *b, double density, uint64_t counter)
{
    size_t n = sakd_tensor_numel(&b->x);
    uint64_t z = 0x9e3779b97f4a7c15ULL * (counter + 1);
    for (size_t i = 0; i < n; i++) { /* splitmix64: fast, and enough for a benchmark input */
        uint64_t v = (z += 0x9e3779b97f4a7c15ULL);
        v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
        v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
        v ^= v >> 31;
        b->hx[i] = (double)(v >> 11) * 0x1.0p-53 < density ? 1.0f : 0.0f;
    }
    return sakd_tensor_upload(&b->x, b->hx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median ms of the dense forward + weight gradient, of the spike-driven ones on the host, and of
 * the spike-driven kernels on the device (cl/conv_spike.cl). */
static sakd_status time_all(spike_bench *b, double *dense_ms, double *spike_ms, double *dev_ms)
{
    double td[16], ts[16], tk[16];
    sakd_spike_set set = {0};
    sakd_status st = SAKD_OK;
    for (int r = -1; r < b->reps && st == SAKD_OK; r++) { /* r = -1: warm-up */
        double t0 = sakd_time_now();
        if (b->s.kh == 1 && b->s.h == 1) { /* a linear layer: the dense route of sakd_linear */
            sakd_tensor w = b->w, gw = b->gw;
            w.ndim = gw.ndim = 2;
            st = sakd_linear_forward(&b->y, &b->x, &w, NULL);
            if (st == SAKD_OK)
                st = sakd_linear_backward(NULL, &gw, NULL, &b->gy, &b->x, &w);
        } else {
            st = sakd_conv2d_forward(&b->y, &b->work, &b->x, &b->w, NULL, &b->p);
            if (st == SAKD_OK)
                st =
                    sakd_conv2d_backward(NULL, &b->gw, NULL, &b->work, &b->gy, &b->x, &b->w, &b->p);
        }
        if (st == SAKD_OK)
            st = sakd_ctx_finish(b->ctx);
        double t1 = sakd_time_now();
        if (st == SAKD_OK)
            st = sakd_spike_set_build(&set, b->hx, 1.0f, b->s.n, b->s.c, b->s.h, b->s.w, 0);
        if (st == SAKD_OK)
            st = sakd_spike_conv_forward(b->hy, &set, b->hw, NULL, &b->s, 0);
        if (st == SAKD_OK)
            st = sakd_spike_conv_grad_weight(b->hgw, NULL, &set, b->hgy, &b->s, 0);
        double t2 = sakd_time_now();
        if (st == SAKD_OK && !b->no_device)
            st = sakd_spike_conv_forward_device(&b->y, &b->x, 1.0f, &b->w, NULL, &b->p);
        if (st == SAKD_OK && !b->no_device)
            st = sakd_spike_conv_grad_weight_device(&b->gw, &b->x, 1.0f, &b->gy, &b->p);
        if (st == SAKD_OK)
            st = sakd_ctx_finish(b->ctx);
        double t3 = sakd_time_now();
        if (r >= 0) {
            td[r] = (t1 - t0) * 1e3;
            ts[r] = (t2 - t1) * 1e3;
            tk[r] = (t3 - t2) * 1e3;
        }
    }
    sakd_spike_set_free(&set);
    SAKD_TRY(st);
    qsort(td, (size_t)b->reps, sizeof *td, cmp_double);
    qsort(ts, (size_t)b->reps, sizeof *ts, cmp_double);
    qsort(tk, (size_t)b->reps, sizeof *tk, cmp_double);
    *dense_ms = td[b->reps / 2];
    *spike_ms = ts[b->reps / 2];
    *dev_ms = tk[b->reps / 2];
    return SAKD_OK;
}

typedef struct spikes_opts {
    double width;
    long T, batch, reps;
    double dens[MAX_DENS];
    size_t n_dens;
    const char *csv;
    int save, no_device;
    const char *only; /* "conv", "linear" or NULL (both) */
} spikes_opts;

static int parse_densities(const char *text, spikes_opts *o)
{
    o->n_dens = 0;
    for (const char *p = text; *p && o->n_dens < MAX_DENS;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0 || v > 1 || (*end && *end != ','))
            return 0;
        o->dens[o->n_dens++] = v;
        p = *end ? end + 1 : end;
    }
    return o->n_dens > 0;
}

static int parse_spikes_opts(cli_opts *opts, int argc, char **argv, spikes_opts *o)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'},
        {"width", required_argument, NULL, 'w'},
        {"T", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'b'},
        {"densities", required_argument, NULL, 'D'},
        {"reps", required_argument, NULL, 'r'},
        {"csv", required_argument, NULL, 'c'},
        {"save", no_argument, NULL, 's'},
        {"no-device", no_argument, NULL, 'n'},
        {"only", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (spikes_opts){.width = 0.25, .T = 4, .batch = 32, .reps = 3};
    parse_densities("0,0.05,0.1,0.15,0.2,0.3,0.4,0.6,0.8,1", o);
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "d:h", long_opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 'w':
            o->width = strtod(optarg, NULL);
            ok = o->width > 0 && o->width <= 4;
            break;
        case 'T': ok = cli_parse_long("bench spikes", "--T", optarg, 1, 64, &o->T); break;
        case 'b': ok = cli_parse_long("bench spikes", "--batch", optarg, 1, 4096, &o->batch); break;
        case 'r': ok = cli_parse_long("bench spikes", "--reps", optarg, 1, 15, &o->reps); break;
        case 'D': ok = parse_densities(optarg, o); break;
        case 'c': o->csv = optarg; break;
        case 's': o->save = 1; break;
        case 'n': o->no_device = 1; break;
        case 'o':
            o->only = optarg;
            ok = !strcmp(optarg, "conv") || !strcmp(optarg, "linear");
            break;
        case 'h': help_bench_spikes(); return SAKD_EXIT_OK;
        default: ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "sakd: error: bench spikes: bad value for an option ('sakd bench "
                            "spikes --help')\n");
            return SAKD_EXIT_USAGE;
        }
    }
    return -1;
}

/* The density where spike/dense crosses 1 between the measured points (linear), or -1 when the
 * spike-driven pass is never faster, 2 when it always is. */
static double crossover(const double *d, const double *ratio, size_t n)
{
    if (ratio[0] >= 1.0)
        return -1.0;
    for (size_t i = 1; i < n; i++)
        if (ratio[i] >= 1.0)
            return d[i - 1] + (d[i] - d[i - 1]) * (1.0 - ratio[i - 1]) / (ratio[i] - ratio[i - 1]);
    return 2.0;
}

int cli_bench_spikes(cli_opts *opts, int argc, char **argv)
{
    spikes_opts o;
    int rc = parse_spikes_opts(opts, argc, argv, &o);
    if (rc >= 0)
        return rc;
    sakd_ctx *ctx;
    sakd_status st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "bench spikes");
    FILE *csv = o.csv ? fopen(o.csv, "a") : NULL;
    if (o.csv && !csv) {
        sakd_ctx_free(ctx);
        fprintf(stderr, "sakd: error: cannot open %s\n", o.csv);
        return SAKD_EXIT_FAIL;
    }
    /* --save keeps the crossovers of the route training takes on this context: the host passes
     * in a host-provider context, else the device kernels. */
    int host_route = !strcmp(sakd_spike_route(ctx), "host");
    if (o.save && !host_route && o.no_device) {
        fprintf(stderr,
                "sakd: error: bench spikes: --save on %s needs the device kernels' "
                "timings: leave out --no-device\n",
                ctx->info.name);
        sakd_ctx_free(ctx);
        if (csv)
            fclose(csv);
        return SAKD_EXIT_USAGE;
    }
    char route[512];
    sakd_conv_provider_describe(ctx, route, sizeof route);
    size_t N = (size_t)(o.T * o.batch);
    const char *what = !o.only ? "resnet19's 3x3 convolutions (28x28 input) and vgg11's "
                                 "spike-fed linear layer"
                       : !strcmp(o.only, "conv") ? "resnet19's 3x3 convolutions (28x28 input)"
                                                 : "vgg11's spike-fed linear layer";
    printf("# sakd bench spikes: %s at width %g, N = %zu, on %s\n"
           "# dense: %s; spike-driven: the host, %d threads; median of %ld\n",
           what, o.width, N, ctx->info.name, route, sakd_host_threads(), o.reps);
    printf("%-26s %7s %10s %10s %7s %12s\n", "shape", "density", "dense_ms", "spike_ms", "ratio",
           "spike_dev_ms");
    char keys[N_SHAPES][64];
    double cross[N_SHAPES];
    size_t measured = 0;
    for (size_t k = 0; k < N_SHAPES && st == SAKD_OK; k++) {
        int linear = shapes[k].k == 1 && shapes[k].h == 1;
        if (o.only && strcmp(o.only, linear ? "linear" : "conv"))
            continue;
        spike_bench b = {.ctx = ctx, .reps = (int)o.reps, .no_device = o.no_device};
        st = bench_new(&b, k, o.width, N);
        double ratio[MAX_DENS], ratio_dev[MAX_DENS];
        char name[64];
        if (b.s.kh == 1 && b.s.h == 1)
            snprintf(name, sizeof name, "linear %zu -> %zu", b.s.c, b.s.m);
        else
            snprintf(name, sizeof name, "%zux%zux%zu s%zu -> %zu", b.s.c, b.s.h, b.s.w,
                     b.s.stride_h, b.s.m);
        for (size_t i = 0; i < o.n_dens && st == SAKD_OK; i++) {
            double dm = 0, sm = 0, km = 0;
            st = spikes(&b, o.dens[i], k * MAX_DENS + i);
            if (st == SAKD_OK)
                st = time_all(&b, &dm, &sm, &km);
            if (st != SAKD_OK)
                break;
            ratio[i] = sm / dm;
            ratio_dev[i] = km / dm;
            printf("%-26s %7.3f %10.3f %10.3f %7.3f %12.3f\n", name, o.dens[i], dm, sm, ratio[i],
                   km);
            if (csv)
                fprintf(csv, "%s,%zu,%g,%g,%.4f,%.4f,%.4f\n", name, N, o.width, o.dens[i], dm, sm,
                        km);
        }
        for (int dev = 0; dev < 2 && st == SAKD_OK; dev++) {
            if (dev && o.no_device)
                break;
            double x = crossover(o.dens, dev ? ratio_dev : ratio, o.n_dens);
            const char *which = dev ? "device kernels" : "host";
            if (dev == !host_route) {
                sakd_spike_shape_key(&b.s, keys[measured], sizeof keys[measured]);
                /* at runtime: spike-driven below it */
                cross[measured++] = x < 0 ? 0.0 : x > 1 ? 1.01 : x;
            }
            if (x < 0)
                printf("%-26s crossover (%s): none (spike-driven slower at every density)\n", name,
                       which);
            else if (x > 1)
                printf("%-26s crossover (%s): above 1 (spike-driven faster at every density)\n",
                       name, which);
            else
                printf("%-26s crossover (%s): spike-driven faster below density %.3f\n", name,
                       which, x);
        }
        bench_free(&b);
    }
    if (csv)
        fclose(csv);
    if (st == SAKD_OK && o.save) {
        const char *k[N_SHAPES];
        for (size_t i = 0; i < measured; i++)
            k[i] = keys[i];
        char path[1024];
        st = sakd_spike_crossover_write(ctx, measured, k, cross);
        if (st == SAKD_OK && sakd_spike_crossover_path(ctx, path, sizeof path) == SAKD_OK)
            printf("# the %s crossover densities saved to %s (run.spike_layers = auto reads "
                   "them)\n",
                   host_route ? "host's" : "device kernels'", path);
    }
    sakd_ctx_free(ctx);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "bench spikes");
}
