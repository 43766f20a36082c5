/* onednn_conv.c — times oneDNN's convolution (forward, backward data, backward weights) on the
 * convolution shapes of a ResNet-19 training step, to compare with sakd's host convolution
 * (`sakd bench ops`, im2col + host BLAS) on the same machine. Not part of the build: compiled
 * and run by experiments/bench/conv_onednn.sh.
 *
 * Two ways oneDNN could serve as sakd's convolution provider are timed per shape:
 *   nchw — sakd's layout: tensors stay NCHW (activations) and OIHW (weights); oneDNN gets
 *          format "any", picks its preferred (blocked) layouts, and every reorder between
 *          sakd's layout and oneDNN's is done and timed inside the call, as a drop-in
 *          provider behind sakd_conv2d_forward/backward would have to;
 *   any  — the same primitives with the reorders left out: what a whole network kept in
 *          oneDNN's blocked layouts end to end could at best reach (every other op of sakd —
 *          BN, LIF, residual adds, the losses — would then need that layout too).
 * bwd is backward data + backward weights (the first layer, whose input needs no gradient,
 * too, as `sakd bench ops` times it). Median wall time of R runs after one warm-up.
 * --dt bf16 gives the primitives bfloat16 tensors (float accumulation; AMX or AVX-512 BF16
 * where the CPU has them): nchw then includes the float <-> bf16 conversions a provider behind
 * sakd's float tensors would pay. A measurement of what mixed precision could gain, not a
 * path sakd has. --layout nchw|nhwc gives the primitives that activation layout instead of
 * "any" (the nchw route's reorders then vanish: what oneDNN does with sakd's layout as it is);
 * --width 0.125 halves the channels of the width-0.25 shapes (the headline network's). */
#define _POSIX_C_SOURCE 200809L
#include <oneapi/dnnl/dnnl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success) {                                                                  \
            fprintf(stderr, "onednn_conv: %s failed (status %d) at line %d\n", #call, (int)s_,     \
                    __LINE__);                                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct shape {
    int n, cin, h, cout, k, stride;
} shape;

static dnnl_engine_t eng;
static dnnl_data_type_t dt = dnnl_f32;                  /* of the primitives' tensors (--dt) */
static dnnl_format_tag_t act_tag = dnnl_format_tag_any; /* their activations' layout (--layout) */
static dnnl_stream_t strm;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static dnnl_memory_t new_mem(const dnnl_memory_desc_t *md, int fill)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    if (fill && md->data_type != dnnl_f32) {
        /* zeros: no bf16 conversion here; the timings do not depend on the values */
        void *p;
        CHECK(dnnl_memory_get_data_handle(m, &p));
        memset(p, 0, dnnl_memory_desc_get_size(md));
    } else if (fill) {
        void *p;
        CHECK(dnnl_memory_get_data_handle(m, &p));
        size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
        float *f = p;
        for (size_t i = 0; i < n; i++)
            f[i] = (float)rand() / RAND_MAX - 0.5f;
    }
    return m;
}

/* A reorder from `from` to `to`, or NULL when the layouts are the same. */
typedef struct reorder {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} reorder;

static reorder make_reorder(dnnl_memory_t from, const dnnl_memory_desc_t *to_md)
{
    reorder r = {0};
    const dnnl_memory_desc_t *from_md;
    CHECK(dnnl_memory_get_memory_desc(from, &from_md));
    r.src = from;
    if (dnnl_memory_desc_equal(from_md, to_md)) {
        r.dst = from;
        return r;
    }
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, from_md, eng, to_md, eng, NULL));
    CHECK(dnnl_primitive_create(&r.prim, pd));
    CHECK(dnnl_primitive_desc_destroy(pd));
    r.dst = new_mem(to_md, 0);
    return r;
}

static void run_reorder(const reorder *r)
{
    if (!r->prim)
        return;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
    CHECK(dnnl_primitive_execute(r->prim, strm, 2, a));
}

static const dnnl_memory_desc_t *qmd(dnnl_primitive_desc_t pd, dnnl_query_t q)
{
    return dnnl_primitive_desc_query_md(pd, q, 0);
}

static double median(double *t, int n)
{
    qsort(t, n, sizeof *t, cmp_double);
    return t[n / 2];
}

static void bench_shape(const shape *s, int reps)
{
    int ho = (s->h + 2 * (s->k / 2) - s->k) / s->stride + 1, pad = s->k / 2;
    dnnl_dims_t src_d = {s->n, s->cin, s->h, s->h}, wei_d = {s->cout, s->cin, s->k, s->k},
                dst_d = {s->n, s->cout, ho, ho}, strides = {s->stride, s->stride},
                pads = {pad, pad};
    dnnl_memory_desc_t src_u, wei_u, dst_u, src_a, wei_a, dst_a;
    CHECK(dnnl_memory_desc_init_by_tag(&src_u, 4, src_d, dnnl_f32, dnnl_nchw));
    CHECK(dnnl_memory_desc_init_by_tag(&wei_u, 4, wei_d, dnnl_f32, dnnl_oihw));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_u, 4, dst_d, dnnl_f32, dnnl_nchw));
    CHECK(dnnl_memory_desc_init_by_tag(&src_a, 4, src_d, dt, act_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&wei_a, 4, wei_d, dt, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_a, 4, dst_d, dt, act_tag));

    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd, bdpd, bwpd;
    CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                             &src_a, &wei_a, NULL, &dst_a, strides, pads, pads));
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    CHECK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &src_a, &wei_a,
                                                   &dst_a, strides, pads, pads));
    CHECK(dnnl_primitive_desc_create(&bdpd, &bdd, NULL, eng, fpd));
    CHECK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &src_a, &wei_a,
                                                      NULL, &dst_a, strides, pads, pads));
    CHECK(dnnl_primitive_desc_create(&bwpd, &bwd, NULL, eng, fpd));

    dnnl_primitive_t fwd, bwdd, bwdw;
    CHECK(dnnl_primitive_create(&fwd, fpd));
    CHECK(dnnl_primitive_create(&bwdd, bdpd));
    CHECK(dnnl_primitive_create(&bwdw, bwpd));

    /* sakd's tensors, in sakd's layouts */
    dnnl_memory_t x = new_mem(&src_u, 1), w = new_mem(&wei_u, 1), y = new_mem(&dst_u, 0),
                  gy = new_mem(&dst_u, 1), gx = new_mem(&src_u, 0), gw = new_mem(&wei_u, 0);
    /* to oneDNN's layouts (inputs) and back (outputs) */
    reorder rx = make_reorder(x, qmd(fpd, dnnl_query_src_md));
    reorder rw = make_reorder(w, qmd(fpd, dnnl_query_weights_md));
    reorder rwd = make_reorder(w, qmd(bdpd, dnnl_query_weights_md));
    reorder rgy = make_reorder(gy, qmd(bdpd, dnnl_query_diff_dst_md));
    reorder rgyw = make_reorder(gy, qmd(bwpd, dnnl_query_diff_dst_md));
    reorder rxw = make_reorder(x, qmd(bwpd, dnnl_query_src_md));
    dnnl_memory_t y_o = new_mem(qmd(fpd, dnnl_query_dst_md), 0);
    dnnl_memory_t gx_o = new_mem(qmd(bdpd, dnnl_query_diff_src_md), 0);
    dnnl_memory_t gw_o = new_mem(qmd(bwpd, dnnl_query_diff_weights_md), 0);
    reorder ry = make_reorder(y_o, &dst_u), rgx = make_reorder(gx_o, &src_u),
            rgw = make_reorder(gw_o, &wei_u);
    if (ry.prim) {
        dnnl_memory_destroy(ry.dst);
        ry.dst = y;
    }
    if (rgx.prim) {
        dnnl_memory_destroy(rgx.dst);
        rgx.dst = gx;
    }
    if (rgw.prim) {
        dnnl_memory_destroy(rgw.dst);
        rgw.dst = gw;
    }

    dnnl_exec_arg_t fa[3] = {
        {DNNL_ARG_SRC, rx.dst}, {DNNL_ARG_WEIGHTS, rw.dst}, {DNNL_ARG_DST, y_o}};
    dnnl_exec_arg_t da[3] = {
        {DNNL_ARG_DIFF_DST, rgy.dst}, {DNNL_ARG_WEIGHTS, rwd.dst}, {DNNL_ARG_DIFF_SRC, gx_o}};
    dnnl_exec_arg_t wa[3] = {
        {DNNL_ARG_SRC, rxw.dst}, {DNNL_ARG_DIFF_DST, rgyw.dst}, {DNNL_ARG_DIFF_WEIGHTS, gw_o}};

    double tf[64], tb[64], tfa[64], tba[64];
    for (int r = -1; r < reps; r++) {
        /* nchw: with the reorders */
        double t0 = now_ms();
        run_reorder(&rx);
        run_reorder(&rw);
        CHECK(dnnl_primitive_execute(fwd, strm, 3, fa));
        run_reorder(&ry);
        CHECK(dnnl_stream_wait(strm));
        double t1 = now_ms();
        run_reorder(&rgy);
        run_reorder(&rwd);
        CHECK(dnnl_primitive_execute(bwdd, strm, 3, da));
        run_reorder(&rgx);
        run_reorder(&rgyw);
        run_reorder(&rxw);
        CHECK(dnnl_primitive_execute(bwdw, strm, 3, wa));
        run_reorder(&rgw);
        CHECK(dnnl_stream_wait(strm));
        double t2 = now_ms();
        /* any: the primitives alone */
        CHECK(dnnl_primitive_execute(fwd, strm, 3, fa));
        CHECK(dnnl_stream_wait(strm));
        double t3 = now_ms();
        CHECK(dnnl_primitive_execute(bwdd, strm, 3, da));
        CHECK(dnnl_primitive_execute(bwdw, strm, 3, wa));
        CHECK(dnnl_stream_wait(strm));
        double t4 = now_ms();
        if (r >= 0) {
            tf[r] = t1 - t0;
            tb[r] = t2 - t1;
            tfa[r] = t3 - t2;
            tba[r] = t4 - t3;
        }
    }
    double flop = 2.0 * s->n * s->cout * ho * ho * (double)s->cin * s->k * s->k;
    double mf = median(tf, reps), mb = median(tb, reps), mfa = median(tfa, reps),
           mba = median(tba, reps);
    const char *impl = NULL;
    CHECK(dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &impl));
    char label[64];
    snprintf(label, sizeof label, "[%d,%d,%d,%d] k%d s%d ->%d", s->n, s->cin, s->h, s->h, s->k,
             s->stride, s->cout);
    printf("%-34s %9.3f %9.3f %8.2f %8.2f %9.3f %9.3f %8.2f %8.2f  %s\n", label, mf, mb,
           flop / mf / 1e6, 2 * flop / mb / 1e6, mfa, mba, flop / mfa / 1e6, 2 * flop / mba / 1e6,
           impl ? impl : "?");

    reorder *rs[] = {&rx, &rw, &rwd, &rgy, &rgyw, &rxw, &ry, &rgx, &rgw};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        if (rs[i]->prim) {
            dnnl_primitive_destroy(rs[i]->prim);
            if (i < 6)
                dnnl_memory_destroy(rs[i]->dst);
        }
    dnnl_memory_t ms[] = {x, w, y, gy, gx, gw, y_o, gx_o, gw_o};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        dnnl_memory_destroy(ms[i]);
    dnnl_primitive_destroy(fwd);
    dnnl_primitive_destroy(bwdd);
    dnnl_primitive_destroy(bwdw);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bdpd);
    dnnl_primitive_desc_destroy(bwpd);
}

int main(int argc, char **argv)
{
    int T = 4, B = 32, reps = 5, half = 0;
    const char *layout = "any";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--T") == 0)
            T = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0)
            B = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--width") == 0 && strcmp(argv[i + 1], "0.25") == 0)
            half = 0;
        else if (strcmp(argv[i], "--width") == 0 && strcmp(argv[i + 1], "0.125") == 0)
            half = 1;
        else if (strcmp(argv[i], "--layout") == 0 && strcmp(argv[i + 1], "any") == 0)
            act_tag = dnnl_format_tag_any, layout = argv[i + 1];
        else if (strcmp(argv[i], "--layout") == 0 && strcmp(argv[i + 1], "nchw") == 0)
            act_tag = dnnl_nchw, layout = argv[i + 1];
        else if (strcmp(argv[i], "--layout") == 0 && strcmp(argv[i + 1], "nhwc") == 0)
            act_tag = dnnl_nhwc, layout = argv[i + 1];
        else if (strcmp(argv[i], "--dt") == 0 && strcmp(argv[i + 1], "f32") == 0)
            dt = dnnl_f32;
        else if (strcmp(argv[i], "--dt") == 0 && strcmp(argv[i + 1], "bf16") == 0)
            dt = dnnl_bf16;
        else {
            fprintf(stderr, "usage: onednn_conv [--T T] [--batch B] [--reps R] [--dt f32|bf16] "
                            "[--width 0.25|0.125] [--layout any|nchw|nhwc]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 64 || T < 1 || B < 1) {
        fprintf(stderr, "onednn_conv: --reps 1..64, --T and --batch >= 1\n");
        return 2;
    }
    srand(1);
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    const dnnl_version_t *v = dnnl_version();
    printf("# oneDNN %d.%d.%d (%s), CPU ISA %d, %s threads\n", v->major, v->minor, v->patch,
           v->hash, (int)dnnl_get_effective_cpu_isa(),
           getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "default");
    printf("# resnet19 width %s, input 1x28x28, T %d, batch %d; median of %d after a warm-up\n",
           half ? "0.125" : "0.25", T, B, reps);
    printf("# primitives in %s, activations in layout %s; nchw: sakd's float layouts with every "
           "reorder timed; any: primitives alone\n",
           dt == dnnl_bf16 ? "bf16" : "f32", layout);
    printf("%-34s %9s %9s %8s %8s %9s %9s %8s %8s  %s\n", "shape", "nchw_fwd", "nchw_bwd",
           "GFLOP/s", "GFLOP/s", "any_fwd", "any_bwd", "GFLOP/s", "GFLOP/s", "implementation");
    int n = T * B;
    /* the shapes `sakd bench ops --width 0.25 --size 28` lists, in its order */
    const shape shapes[] = {
        {B, 1, 28, 16, 3, 1},   {n, 16, 28, 32, 3, 1},  {n, 32, 28, 32, 3, 1},
        {n, 16, 28, 32, 1, 1},  {n, 32, 28, 64, 3, 2},  {n, 64, 14, 64, 3, 1},
        {n, 32, 28, 64, 1, 2},  {n, 64, 14, 128, 3, 2}, {n, 128, 7, 128, 3, 1},
        {n, 64, 14, 128, 1, 2},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        shape sh = shapes[i];
        if (half) { /* width 0.125: every channel count but the image's halved */
            sh.cin = sh.cin > 1 ? sh.cin / 2 : 1;
            sh.cout /= 2;
        }
        bench_shape(&sh, reps);
    }
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return 0;
}
