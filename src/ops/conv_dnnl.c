/* conv_dnnl.c — convolution through oneDNN on the host provider. Per context: a CPU engine and
 * stream, and per convolution shape the three primitives (forward training, backward data,
 * backward weights) with format "any", so that oneDNN picks its fastest implementation and
 * layouts; the reorders between those layouts and sakd's NCHW/OIHW are cached beside them.
 * Operands are sakd's mapped buffers (zero-copy, ops/host.h); converted copies live in four
 * scratch buffers of the context (two for activations, two for weights) grown to the largest
 * shape, so that memory does not grow with the number of shapes.
 *
 * Threads: oneDNN runs on the OpenMP runtime it was built with; its thread count is set to the
 * host provider's before every call, and the calls never overlap PoCL's kernels (the maps wait
 * for the queue). Results are the same run after run for a given thread count (oneDNN's
 * reductions split the work in fixed ranges). */
#include "config.h"

#include "ops/conv_dnnl.h"
#include "ops/ops_state.h"

#include <stdio.h>
#include <string.h>

#ifdef SAKD_HAVE_ONEDNN

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include <oneapi/dnnl/dnnl.h>

#include "ops/host.h"
#include "runtime/profile.h"
#include "runtime/timer.h"

/* oneDNN's entry points, loaded with dlopen on first use (see load_library). */
#define DNNL_FUNCS(X)                                                                              \
    X(const dnnl_version_t *, dnnl_version, (void))                                                \
    X(dnnl_cpu_isa_t, dnnl_get_effective_cpu_isa, (void))                                          \
    X(dnnl_status_t, dnnl_engine_create, (dnnl_engine_t *, dnnl_engine_kind_t, size_t))            \
    X(dnnl_status_t, dnnl_engine_destroy, (dnnl_engine_t))                                         \
    X(dnnl_status_t, dnnl_stream_create, (dnnl_stream_t *, dnnl_engine_t, unsigned))               \
    X(dnnl_status_t, dnnl_stream_destroy, (dnnl_stream_t))                                         \
    X(dnnl_status_t, dnnl_stream_wait, (dnnl_stream_t))                                            \
    X(dnnl_status_t, dnnl_memory_desc_init_by_tag,                                                 \
      (dnnl_memory_desc_t *, int, const dnnl_dims_t, dnnl_data_type_t, dnnl_format_tag_t))         \
    X(int, dnnl_memory_desc_equal, (const dnnl_memory_desc_t *, const dnnl_memory_desc_t *))       \
    X(size_t, dnnl_memory_desc_get_size, (const dnnl_memory_desc_t *))                             \
    X(dnnl_status_t, dnnl_memory_create,                                                           \
      (dnnl_memory_t *, const dnnl_memory_desc_t *, dnnl_engine_t, void *))                        \
    X(dnnl_status_t, dnnl_memory_destroy, (dnnl_memory_t))                                         \
    X(dnnl_status_t, dnnl_convolution_forward_desc_init,                                           \
      (dnnl_convolution_desc_t *, dnnl_prop_kind_t, dnnl_alg_kind_t, const dnnl_memory_desc_t *,   \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,         \
       const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t))                                   \
    X(dnnl_status_t, dnnl_convolution_backward_data_desc_init,                                     \
      (dnnl_convolution_desc_t *, dnnl_alg_kind_t, const dnnl_memory_desc_t *,                     \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_dims_t,                  \
       const dnnl_dims_t, const dnnl_dims_t))                                                      \
    X(dnnl_status_t, dnnl_convolution_backward_weights_desc_init,                                  \
      (dnnl_convolution_desc_t *, dnnl_alg_kind_t, const dnnl_memory_desc_t *,                     \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,         \
       const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t))                                   \
    X(dnnl_status_t, dnnl_primitive_desc_create,                                                   \
      (dnnl_primitive_desc_t *, const_dnnl_op_desc_t, const_dnnl_primitive_attr_t, dnnl_engine_t,  \
       const_dnnl_primitive_desc_t))                                                               \
    X(dnnl_status_t, dnnl_primitive_desc_destroy, (dnnl_primitive_desc_t))                         \
    X(const dnnl_memory_desc_t *, dnnl_primitive_desc_query_md,                                    \
      (const_dnnl_primitive_desc_t, dnnl_query_t, int))                                            \
    X(dnnl_status_t, dnnl_reorder_primitive_desc_create,                                           \
      (dnnl_primitive_desc_t *, const dnnl_memory_desc_t *, dnnl_engine_t,                         \
       const dnnl_memory_desc_t *, dnnl_engine_t, const_dnnl_primitive_attr_t))                    \
    X(dnnl_status_t, dnnl_primitive_create, (dnnl_primitive_t *, const_dnnl_primitive_desc_t))     \
    X(dnnl_status_t, dnnl_primitive_destroy, (dnnl_primitive_t))                                   \
    X(dnnl_status_t, dnnl_primitive_execute,                                                       \
      (const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t *))

#define DNNL_FIELD(ret, name, args) ret(*name) args;
static struct {
    DNNL_FUNCS(DNNL_FIELD)
} D;
#undef DNNL_FIELD

/* Reorders cached per shape: into oneDNN's layouts (inputs) and back (outputs). */
enum { R_X_F, R_W_F, R_Y, R_GY_D, R_W_D, R_GX, R_X_W, R_GY_W, R_GW, R_COUNT };

/* sakd's activation layouts (runtime/tensor.h): plain NCHW, channel-blocked by 8 or by 16. */
enum { L_PLAIN, L_B8, L_B16, L_COUNT };

static int layout_index(int layout)
{
    return layout == 16 ? L_B16 : layout == 8 ? L_B8 : L_PLAIN;
}

typedef struct dnnl_entry {
    sakd_conv_host_geom g;
    int bias;
    /* sakd's layouts: activations in each of L_COUNT layouts (a blocked one only where the
     * block divides the channels: else zeroed, has[] 0), weights OIHW, bias */
    dnnl_memory_desc_t x_u[L_COUNT], y_u[L_COUNT], w_u, b_u;
    int x_has[L_COUNT], y_has[L_COUNT];
    dnnl_primitive_desc_t fpd, bdpd, bwpd;
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    dnnl_primitive_t reorder[R_COUNT][L_COUNT]; /* by the layout of sakd's tensor */
} dnnl_entry;

struct sakd_conv_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_entry *entries;
    size_t n, cap;
    void *scratch[4];
    size_t scratch_bytes[4];
};

int sakd_conv_dnnl_built(void)
{
    return 1;
}

#define STR_(x) #x
#define STR(x) STR_(x)
#define ONEDNN_SONAME "libdnnl.so." STR(DNNL_VERSION_MAJOR)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

/* Loads oneDNN once per process. OpenMP, which oneDNN runs on, reads its settings when it
 * loads: unless the user chose them, its threads are told to sleep between parallel regions
 * (OMP_WAIT_POLICY=passive: spinning, they take the cores PoCL's next kernel needs; measured
 * here, an SNN step of 812–833 ms spinning against 630–689 ms passive) and their number is the
 * host provider's. */
static void load_library(void)
{
    char n[16];
    snprintf(n, sizeof n, "%d", sakd_host_threads());
    setenv("OMP_WAIT_POLICY", "passive", 0);
    setenv("OMP_NUM_THREADS", n, 0);
    void *h = dlopen(ONEDNN_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error, "cannot load %s: %s", ONEDNN_SONAME, dlerror());
        return;
    }
#define DNNL_LOAD(ret, name, args)                                                                 \
    if (!(*(void **)&D.name = dlsym(h, #name))) {                                                  \
        snprintf(load_error, sizeof load_error, "%s has no %s", ONEDNN_SONAME, #name);             \
        return;                                                                                    \
    }
    DNNL_FUNCS(DNNL_LOAD)
#undef DNNL_LOAD
}

sakd_status sakd_conv_dnnl_load(void)
{
    pthread_once(&load_once, load_library);
    if (load_error[0])
        return sakd_error(SAKD_ERR_NOT_FOUND, "oneDNN: %s (Debian package libdnnl2)", load_error);
    return SAKD_OK;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

void sakd_conv_dnnl_describe(char *buf, size_t size)
{
    if (sakd_conv_dnnl_load() != SAKD_OK) {
        snprintf(buf, size, "oneDNN (%s)", load_error);
        sakd_error_clear();
        return;
    }
    const dnnl_version_t *v = D.dnnl_version();
    snprintf(buf, size, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
             isa_name(D.dnnl_get_effective_cpu_isa()));
}

static sakd_status dnnl_fail(dnnl_status_t s, const char *what, const sakd_conv_host_geom *g)
{
    return sakd_error(s == dnnl_out_of_memory ? SAKD_ERR_NOMEM : SAKD_ERR_ARG,
                      "oneDNN %s of the convolution [%zu,%zu,%zu,%zu] k%zux%zu s%zu -> %zu failed "
                      "(status %d)",
                      what, g->n, g->cin, g->h, g->w, g->kh, g->kw, g->sh, g->cout, (int)s);
}

#define DNNL_TRY(call, what, g)                                                                    \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success)                                                                    \
            return dnnl_fail(s_, what, g);                                                         \
    } while (0)

static void entry_free(dnnl_entry *e)
{
    for (int r = 0; r < R_COUNT; r++)
        for (int l = 0; l < L_COUNT; l++)
            if (e->reorder[r][l])
                D.dnnl_primitive_destroy(e->reorder[r][l]);
    if (e->fwd)
        D.dnnl_primitive_destroy(e->fwd);
    if (e->bwd_data)
        D.dnnl_primitive_destroy(e->bwd_data);
    if (e->bwd_weights)
        D.dnnl_primitive_destroy(e->bwd_weights);
    if (e->fpd)
        D.dnnl_primitive_desc_destroy(e->fpd);
    if (e->bdpd)
        D.dnnl_primitive_desc_destroy(e->bdpd);
    if (e->bwpd)
        D.dnnl_primitive_desc_destroy(e->bwpd);
}

static void state_free(struct sakd_conv_dnnl *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_free(&s->entries[i]);
    free(s->entries);
    for (int i = 0; i < 4; i++)
        free(s->scratch[i]);
    if (s->stream)
        D.dnnl_stream_destroy(s->stream);
    if (s->engine)
        D.dnnl_engine_destroy(s->engine);
    free(s);
}

static void release(sakd_ctx *ctx)
{
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    if (!os)
        return;
    state_free(os->conv_dnnl);
    os->conv_dnnl = NULL;
}

static sakd_status state_get(sakd_ctx *ctx, struct sakd_conv_dnnl **out)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (!os->conv_dnnl) {
        SAKD_TRY(sakd_conv_dnnl_load());
        struct sakd_conv_dnnl *s = calloc(1, sizeof *s);
        if (!s)
            return sakd_error(SAKD_ERR_NOMEM, "no memory for oneDNN's state");
        if (D.dnnl_engine_create(&s->engine, dnnl_cpu, 0) != dnnl_success ||
            D.dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags) !=
                dnnl_success) {
            state_free(s);
            return sakd_error(SAKD_ERR_NOT_FOUND, "oneDNN: no CPU engine");
        }
        sakd_status st = sakd_ctx_on_release(ctx, release);
        if (st != SAKD_OK) {
            state_free(s);
            return st;
        }
        os->conv_dnnl = s;
    }
    *out = os->conv_dnnl;
    return SAKD_OK;
}

/* OpenMP's thread count for oneDNN's next calls: the host provider's. Looked up at run time
 * (libgomp comes with oneDNN), so that sakd itself is not built with OpenMP. */
static void set_threads(void)
{
    static void (*omp_set)(int) = NULL;
    static int looked;
    if (!looked) {
        *(void **)&omp_set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
        looked = 1;
    }
    if (omp_set)
        omp_set(sakd_host_threads());
}

static int same_geom(const sakd_conv_host_geom *a, const sakd_conv_host_geom *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* The primitives of one shape, made on first use. */
static sakd_status entry_get(struct sakd_conv_dnnl *s, const sakd_conv_host_geom *g, int bias,
                             dnnl_entry **out)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->entries[i].bias == bias && same_geom(&s->entries[i].g, g)) {
            *out = &s->entries[i];
            return SAKD_OK;
        }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        dnnl_entry *e = realloc(s->entries, cap * sizeof *e);
        if (!e)
            return sakd_error(SAKD_ERR_NOMEM, "no memory for oneDNN's primitive cache");
        s->entries = e;
        s->cap = cap;
    }
    dnnl_entry *e = &s->entries[s->n];
    memset(e, 0, sizeof *e);
    e->g = *g;
    e->bias = bias;
    dnnl_dims_t xd = {(dnnl_dim_t)g->n, (dnnl_dim_t)g->cin, (dnnl_dim_t)g->h, (dnnl_dim_t)g->w};
    dnnl_dims_t wd = {(dnnl_dim_t)g->cout, (dnnl_dim_t)g->cin, (dnnl_dim_t)g->kh,
                      (dnnl_dim_t)g->kw};
    dnnl_dims_t yd = {(dnnl_dim_t)g->n, (dnnl_dim_t)g->cout, (dnnl_dim_t)g->ho, (dnnl_dim_t)g->wo};
    dnnl_dims_t bd = {(dnnl_dim_t)g->cout};
    dnnl_dims_t strides = {(dnnl_dim_t)g->sh, (dnnl_dim_t)g->sw};
    dnnl_dims_t pad_l = {(dnnl_dim_t)g->ph, (dnnl_dim_t)g->pw};
    /* sakd's padding is symmetric and its output extent (in + 2·pad − k) / stride + 1 rounds
     * down, as oneDNN's does */
    dnnl_dims_t pad_r = {(dnnl_dim_t)g->ph, (dnnl_dim_t)g->pw};
    dnnl_memory_desc_t xa, wa, ya, ba;
    static const dnnl_format_tag_t tags[L_COUNT] = {dnnl_nchw, dnnl_nChw8c, dnnl_nChw16c};
    static const size_t blocks[L_COUNT] = {1, 8, 16};
    for (int l = 0; l < L_COUNT; l++) {
        if ((e->x_has[l] = g->cin % blocks[l] == 0))
            DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&e->x_u[l], 4, xd, dnnl_f32, tags[l]),
                     "descriptor", g);
        if ((e->y_has[l] = g->cout % blocks[l] == 0))
            DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&e->y_u[l], 4, yd, dnnl_f32, tags[l]),
                     "descriptor", g);
    }
    DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&e->w_u, 4, wd, dnnl_f32, dnnl_oihw), "descriptor", g);
    DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&e->b_u, 1, bd, dnnl_f32, dnnl_x), "descriptor", g);
    DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any),
             "descriptor", g);
    DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any),
             "descriptor", g);
    DNNL_TRY(D.dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, dnnl_format_tag_any),
             "descriptor", g);
    ba = e->b_u;
    dnnl_convolution_desc_t fd, dd, wdsc;
    DNNL_TRY(D.dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                  dnnl_convolution_direct, &xa, &wa,
                                                  bias ? &ba : NULL, &ya, strides, pad_l, pad_r),
             "forward descriptor", g);
    DNNL_TRY(D.dnnl_primitive_desc_create(&e->fpd, &fd, NULL, s->engine, NULL), "forward", g);
    DNNL_TRY(D.dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &xa, &wa, &ya,
                                                        strides, pad_l, pad_r),
             "backward-data descriptor", g);
    DNNL_TRY(D.dnnl_primitive_desc_create(&e->bdpd, &dd, NULL, s->engine, e->fpd), "backward data",
             g);
    DNNL_TRY(D.dnnl_convolution_backward_weights_desc_init(&wdsc, dnnl_convolution_direct, &xa, &wa,
                                                           bias ? &ba : NULL, &ya, strides, pad_l,
                                                           pad_r),
             "backward-weights descriptor", g);
    DNNL_TRY(D.dnnl_primitive_desc_create(&e->bwpd, &wdsc, NULL, s->engine, e->fpd),
             "backward weights", g);
    DNNL_TRY(D.dnnl_primitive_create(&e->fwd, e->fpd), "forward primitive", g);
    DNNL_TRY(D.dnnl_primitive_create(&e->bwd_data, e->bdpd), "backward-data primitive", g);
    DNNL_TRY(D.dnnl_primitive_create(&e->bwd_weights, e->bwpd), "backward-weights primitive", g);
    s->n++;
    *out = e;
    return SAKD_OK;
}

/* Memory objects made for one call, destroyed at its end. */
typedef struct call_mems {
    dnnl_memory_t m[16];
    int n;
} call_mems;

static void mems_free(call_mems *c)
{
    for (int i = 0; i < c->n; i++)
        D.dnnl_memory_destroy(c->m[i]);
    c->n = 0;
}

/* Scratch buffer `slot` of at least `bytes` (64-byte aligned for oneDNN's vector loads). */
static sakd_status scratch(struct sakd_conv_dnnl *s, int slot, size_t bytes, void **out)
{
    if (s->scratch_bytes[slot] < bytes) {
        free(s->scratch[slot]);
        s->scratch[slot] = NULL;
        s->scratch_bytes[slot] = 0;
        size_t rounded = (bytes + 63) / 64 * 64;
        if (!(s->scratch[slot] = aligned_alloc(64, rounded)))
            return sakd_error(SAKD_ERR_NOMEM,
                              "no memory for oneDNN's convolution scratch (%zu bytes)", bytes);
        s->scratch_bytes[slot] = rounded;
    }
    *out = s->scratch[slot];
    return SAKD_OK;
}

typedef struct call {
    struct sakd_conv_dnnl *s;
    dnnl_entry *e;
    call_mems mems;
} call;

static sakd_status wrap(call *c, const dnnl_memory_desc_t *md, void *ptr, dnnl_memory_t *out)
{
    dnnl_memory_t m;
    if (c->mems.n == (int)(sizeof c->mems.m / sizeof c->mems.m[0]))
        return sakd_error(SAKD_ERR_ARG, "oneDNN convolution: too many operands");
    DNNL_TRY(D.dnnl_memory_create(&m, md, c->s->engine, ptr), "memory", &c->e->g);
    c->mems.m[c->mems.n++] = m;
    *out = m;
    return SAKD_OK;
}

/* Reorder `r` between oneDNN's layout and sakd's tensor in layout index l. */
static sakd_status run_reorder(call *c, int r, int l, const dnnl_memory_desc_t *from,
                               dnnl_memory_t src, const dnnl_memory_desc_t *to, dnnl_memory_t dst)
{
    dnnl_entry *e = c->e;
    if (!e->reorder[r][l]) {
        dnnl_primitive_desc_t pd;
        DNNL_TRY(
            D.dnnl_reorder_primitive_desc_create(&pd, from, c->s->engine, to, c->s->engine, NULL),
            "reorder", &e->g);
        dnnl_status_t st = D.dnnl_primitive_create(&e->reorder[r][l], pd);
        D.dnnl_primitive_desc_destroy(pd);
        DNNL_TRY(st, "reorder primitive", &e->g);
    }
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    DNNL_TRY(D.dnnl_primitive_execute(e->reorder[r][l], c->s->stream, 2, a), "reorder", &e->g);
    return SAKD_OK;
}

/* The memory oneDNN reads an input from: sakd's own buffer (layout index l, descriptor user)
 * when the layouts agree, else scratch `slot` after a reorder. */
static sakd_status input(call *c, int r, int l, const dnnl_memory_desc_t *user, void *ptr,
                         const dnnl_memory_desc_t *want, int slot, dnnl_memory_t *out)
{
    dnnl_memory_t u;
    SAKD_TRY(wrap(c, user, ptr, &u));
    if (D.dnnl_memory_desc_equal(user, want)) {
        *out = u;
        return SAKD_OK;
    }
    void *buf;
    SAKD_TRY(scratch(c->s, slot, D.dnnl_memory_desc_get_size(want), &buf));
    SAKD_TRY(wrap(c, want, buf, out));
    return run_reorder(c, r, l, user, u, want, *out);
}

/* The memory oneDNN writes an output to (*out), and sakd's buffer (*user_mem, NULL when they
 * are the same) to reorder it into afterwards. */
static sakd_status output(call *c, const dnnl_memory_desc_t *user, void *ptr,
                          const dnnl_memory_desc_t *have, int slot, dnnl_memory_t *out,
                          dnnl_memory_t *user_mem)
{
    *user_mem = NULL;
    if (D.dnnl_memory_desc_equal(user, have))
        return wrap(c, user, ptr, out);
    void *buf;
    SAKD_TRY(scratch(c->s, slot, D.dnnl_memory_desc_get_size(have), &buf));
    SAKD_TRY(wrap(c, have, buf, out));
    return wrap(c, user, ptr, user_mem);
}

static const dnnl_memory_desc_t *qmd(dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return D.dnnl_primitive_desc_query_md(pd, what, 0);
}

/* An activation of sakd's: its mapped buffer and its layout index. */
typedef struct act {
    float *p;
    int l;
} act;

static sakd_status forward(call *c, act x, float *w, float *b, act y)
{
    dnnl_entry *e = c->e;
    dnnl_memory_t xm, wm, ym, yu, bm = NULL;
    SAKD_TRY(input(c, R_X_F, x.l, &e->x_u[x.l], x.p, qmd(e->fpd, dnnl_query_src_md), 0, &xm));
    SAKD_TRY(input(c, R_W_F, 0, &e->w_u, w, qmd(e->fpd, dnnl_query_weights_md), 2, &wm));
    SAKD_TRY(output(c, &e->y_u[y.l], y.p, qmd(e->fpd, dnnl_query_dst_md), 1, &ym, &yu));
    if (b)
        SAKD_TRY(wrap(c, &e->b_u, b, &bm));
    dnnl_exec_arg_t a[4] = {
        {DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}, {DNNL_ARG_BIAS, bm}};
    DNNL_TRY(D.dnnl_primitive_execute(e->fwd, c->s->stream, b ? 4 : 3, a), "forward", &e->g);
    if (yu)
        SAKD_TRY(run_reorder(c, R_Y, y.l, qmd(e->fpd, dnnl_query_dst_md), ym, &e->y_u[y.l], yu));
    DNNL_TRY(D.dnnl_stream_wait(c->s->stream), "forward", &e->g);
    return SAKD_OK;
}

static sakd_status backward(call *c, act x, float *w, act gy, act gx, float *gw, float *gb)
{
    dnnl_entry *e = c->e;
    const dnnl_memory_desc_t *gy_d = qmd(e->bdpd, dnnl_query_diff_dst_md);
    const dnnl_memory_desc_t *gy_w = qmd(e->bwpd, dnnl_query_diff_dst_md);
    dnnl_memory_t gym = NULL, m1, m2, m3, mu;
    if (gx.p) {
        SAKD_TRY(input(c, R_GY_D, gy.l, &e->y_u[gy.l], gy.p, gy_d, 0, &gym));
        SAKD_TRY(input(c, R_W_D, 0, &e->w_u, w, qmd(e->bdpd, dnnl_query_weights_md), 2, &m1));
        SAKD_TRY(output(c, &e->x_u[gx.l], gx.p, qmd(e->bdpd, dnnl_query_diff_src_md), 1, &m2, &mu));
        dnnl_exec_arg_t a[3] = {
            {DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_WEIGHTS, m1}, {DNNL_ARG_DIFF_SRC, m2}};
        DNNL_TRY(D.dnnl_primitive_execute(e->bwd_data, c->s->stream, 3, a), "backward data", &e->g);
        if (mu)
            SAKD_TRY(run_reorder(c, R_GX, gx.l, qmd(e->bdpd, dnnl_query_diff_src_md), m2,
                                 &e->x_u[gx.l], mu));
    }
    if (!gw) /* the data gradient alone (the weight gradient computed elsewhere) */
        goto wait;
    /* gy as the data gradient read it serves the weight gradient too when both want the same
     * layout */
    if (!gym || !D.dnnl_memory_desc_equal(gy_d, gy_w))
        SAKD_TRY(input(c, R_GY_W, gy.l, &e->y_u[gy.l], gy.p, gy_w, 0, &gym));
    SAKD_TRY(input(c, R_X_W, x.l, &e->x_u[x.l], x.p, qmd(e->bwpd, dnnl_query_src_md), 1, &m1));
    SAKD_TRY(output(c, &e->w_u, gw, qmd(e->bwpd, dnnl_query_diff_weights_md), 3, &m2, &mu));
    m3 = NULL;
    if (gb)
        SAKD_TRY(wrap(c, &e->b_u, gb, &m3));
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, m1},
                            {DNNL_ARG_DIFF_DST, gym},
                            {DNNL_ARG_DIFF_WEIGHTS, m2},
                            {DNNL_ARG_DIFF_BIAS, m3}};
    DNNL_TRY(D.dnnl_primitive_execute(e->bwd_weights, c->s->stream, gb ? 4 : 3, a),
             "backward weights", &e->g);
    if (mu)
        SAKD_TRY(
            run_reorder(c, R_GW, 0, qmd(e->bwpd, dnnl_query_diff_weights_md), m2, &e->w_u, mu));
wait:
    DNNL_TRY(D.dnnl_stream_wait(c->s->stream), "backward", &e->g);
    return SAKD_OK;
}

static sakd_status begin(call *c, sakd_ctx *ctx, const sakd_conv_host_geom *g, int bias)
{
    memset(c, 0, sizeof *c);
    SAKD_TRY(state_get(ctx, &c->s));
    SAKD_TRY(entry_get(c->s, g, bias, &c->e));
    set_threads();
    return SAKD_OK;
}

static const int block_of[L_COUNT] = {0, 8, 16};

/* The blocked layout index among u[] (those has[] marks) equal to md, or -1. */
static int native(const dnnl_memory_desc_t *u, const int *has, const dnnl_memory_desc_t *md)
{
    for (int l = L_B8; l < L_COUNT; l++)
        if (has[l] && D.dnnl_memory_desc_equal(&u[l], md))
            return l;
    return -1;
}

sakd_status sakd_conv2d_dnnl_native(sakd_ctx *ctx, const sakd_conv_host_geom *g, int bias,
                                    int *in_blk, int *out_blk)
{
    call c;
    SAKD_TRY(begin(&c, ctx, g, bias));
    dnnl_entry *e = c.e;
    int xf = native(e->x_u, e->x_has, qmd(e->fpd, dnnl_query_src_md)),
        xd = native(e->x_u, e->x_has, qmd(e->bdpd, dnnl_query_diff_src_md)),
        xw = native(e->x_u, e->x_has, qmd(e->bwpd, dnnl_query_src_md));
    int yf = native(e->y_u, e->y_has, qmd(e->fpd, dnnl_query_dst_md));
    *in_blk = xf >= 0 && xf == xd && xf == xw ? block_of[xf] : 0;
    /* the output in the forward's block even where a backward primitive would take the
     * gradient in another: that one reorder against reorders in all three */
    *out_blk = yf >= 0 ? block_of[yf] : 0;
    return SAKD_OK;
}

/* A layout this entry can take for activation `t` (channels: its C). */
static sakd_status check_layout(const char *op, const sakd_tensor *t, const dnnl_entry *e,
                                int is_input)
{
    if (!t)
        return SAKD_OK;
    int l = layout_index(t->layout);
    const int *has = is_input ? e->x_has : e->y_has;
    if (block_of[l] != t->layout || !has[l])
        return sakd_error(SAKD_ERR_ARG,
                          "%s: tensor '%s' has layout %d; the convolution takes 0, or a block of "
                          "8 or 16 dividing its %zu channels",
                          op, t->name, t->layout, is_input ? e->g.cin : e->g.cout);
    return SAKD_OK;
}

sakd_status sakd_conv2d_dnnl_forward(sakd_tensor *out, const sakd_tensor *in,
                                     const sakd_tensor *weight, const sakd_tensor *bias,
                                     const sakd_conv_host_geom *g)
{
    sakd_ctx *ctx = in->ctx;
    call c;
    SAKD_TRY(begin(&c, ctx, g, bias != NULL));
    SAKD_TRY(check_layout("conv2d_forward", in, c.e, 1));
    SAKD_TRY(check_layout("conv2d_forward", out, c.e, 0));
    sakd_host_maps maps = {0};
    float *x, *w, *y, *b;
    sakd_status st = sakd_host_map_tensor(ctx, &maps, in, &x, SAKD_OK);
    st = sakd_host_map_tensor(ctx, &maps, weight, &w, st);
    st = sakd_host_map_tensor(ctx, &maps, out, &y, st);
    st = sakd_host_map_tensor(ctx, &maps, bias, &b, st);
    if (st == SAKD_OK) {
        size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo;
        sakd_conv_host_record(ctx, 0, 0, g->cout, P, K, g->n);
        double t0 = sakd_time_now();
        st = forward(&c, (act){x, layout_index(in->layout)}, w, b,
                     (act){y, layout_index(out->layout)});
        sakd_profile_add(ctx, "conv2d_onednn_fwd", (sakd_time_now() - t0) * 1e3);
    }
    mems_free(&c.mems);
    return sakd_host_unmap(ctx, &maps, st);
}

sakd_status sakd_conv2d_dnnl_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                      sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                      const sakd_tensor *in, const sakd_tensor *weight,
                                      const sakd_conv_host_geom *g)
{
    sakd_ctx *ctx = in->ctx;
    call c;
    SAKD_TRY(begin(&c, ctx, g, grad_bias != NULL));
    SAKD_TRY(check_layout("conv2d_backward", in, c.e, 1));
    SAKD_TRY(check_layout("conv2d_backward", grad_in, c.e, 1));
    SAKD_TRY(check_layout("conv2d_backward", grad_out, c.e, 0));
    sakd_host_maps maps = {0};
    float *x, *w, *gy, *gw, *gx, *gb;
    sakd_status st = sakd_host_map_tensor(ctx, &maps, in, &x, SAKD_OK);
    st = sakd_host_map_tensor(ctx, &maps, weight, &w, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_out, &gy, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_weight, &gw, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_in, &gx, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_bias, &gb, st);
    if (st == SAKD_OK) {
        size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo;
        if (gw)
            sakd_conv_host_record(ctx, 0, 1, g->cout, K, P, g->n);
        if (gx)
            sakd_conv_host_record(ctx, 1, 0, K, P, g->cout, g->n);
        double t0 = sakd_time_now();
        st = backward(&c, (act){x, layout_index(in->layout)}, w,
                      (act){gy, layout_index(grad_out->layout)},
                      (act){gx, grad_in ? layout_index(grad_in->layout) : 0}, gw, gb);
        sakd_profile_add(ctx, "conv2d_onednn_bwd", (sakd_time_now() - t0) * 1e3);
    }
    mems_free(&c.mems);
    return sakd_host_unmap(ctx, &maps, st);
}

#else /* !SAKD_HAVE_ONEDNN */

int sakd_conv_dnnl_built(void)
{
    return 0;
}

void sakd_conv_dnnl_describe(char *buf, size_t size)
{
    snprintf(buf, size, "oneDNN (not built)");
}

sakd_status sakd_conv_dnnl_load(void)
{
    return sakd_error(SAKD_ERR_NOT_FOUND,
                      "sakd was built without oneDNN (configure --with-onednn; Debian package "
                      "libdnnl-dev)");
}

static sakd_status not_built(void)
{
    return sakd_error(SAKD_ERR_NOT_FOUND,
                      "sakd was built without oneDNN (configure --with-onednn; Debian package "
                      "libdnnl-dev)");
}

sakd_status sakd_conv2d_dnnl_forward(sakd_tensor *out, const sakd_tensor *in,
                                     const sakd_tensor *weight, const sakd_tensor *bias,
                                     const sakd_conv_host_geom *g)
{
    (void)out, (void)in, (void)weight, (void)bias, (void)g;
    return not_built();
}

sakd_status sakd_conv2d_dnnl_native(sakd_ctx *ctx, const sakd_conv_host_geom *g, int bias,
                                    int *in_blk, int *out_blk)
{
    (void)ctx, (void)g, (void)bias;
    *in_blk = *out_blk = 0;
    return not_built();
}

sakd_status sakd_conv2d_dnnl_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                      sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                      const sakd_tensor *in, const sakd_tensor *weight,
                                      const sakd_conv_host_geom *g)
{
    (void)grad_in, (void)grad_weight, (void)grad_bias, (void)grad_out, (void)in, (void)weight,
        (void)g;
    return not_built();
}

#endif
