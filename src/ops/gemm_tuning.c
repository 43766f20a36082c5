/* gemm_tuning.c — records a model's GEMM calls, and reads, writes and applies the stored CLBlast
 * GEMM parameters (the search that finds them is a tool beside ops: tune/gemm_search.c). */
#include "ops/gemm_tuning.h"
#include "ops/ops_state.h"

#include <clblast_c.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "runtime/file.h"
#include "ops/gemm.h"
#include "ops/gemm_provider.h"
#include "runtime/program.h"
#include "runtime/rng.h"
#include "runtime/strbuf.h"
#include "runtime/timer.h"

/* ---- recording ----------------------------------------------------------------------------- */

sakd_status sakd_gemm_record_start(sakd_ctx *ctx, sakd_gemm_log *log)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    os->gemm_log = log;
    return SAKD_OK;
}

void sakd_gemm_record_stop(sakd_ctx *ctx)
{
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    if (os)
        os->gemm_log = NULL;
}

void sakd_gemm_log_free(sakd_gemm_log *log)
{
    free(log->shapes);
    memset(log, 0, sizeof *log);
}

static int same_shape(const sakd_gemm_shape *a, const sakd_gemm_shape *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->m == b->m && a->n == b->n &&
           a->k == b->k && a->lda == b->lda && a->ldb == b->ldb && a->ldc == b->ldc &&
           a->batch == b->batch && a->stride_a == b->stride_a && a->stride_b == b->stride_b &&
           a->stride_c == b->stride_c;
}

void sakd_gemm_log_add(sakd_gemm_log *log, const sakd_gemm_shape *s)
{
    for (size_t i = 0; i < log->n; i++)
        if (same_shape(&log->shapes[i], s)) {
            log->shapes[i].count++;
            return;
        }
    if (log->n == log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 32;
        sakd_gemm_shape *p = realloc(log->shapes, cap * sizeof *p);
        if (!p)
            return;
        log->shapes = p;
        log->cap = cap;
    }
    log->shapes[log->n] = *s;
    log->shapes[log->n].count = 1;
    log->n++;
}

double sakd_gemm_shape_flops(const sakd_gemm_shape *s)
{
    return 2.0 * (double)s->m * (double)s->n * (double)s->k * (double)(s->batch ? s->batch : 1);
}

/* ---- the tuning file ----------------------------------------------------------------------- */

sakd_status sakd_gemm_tuning_path(const sakd_ctx *ctx, char *buf, size_t size)
{
    char version[64];
    snprintf(version, sizeof version, "clblast %s", sakd_clblast_version());
    return sakd_device_cache_file(ctx, "gemm-tuning", version, "GEMM tuning", buf, size);
}

void sakd_gemm_class_name(int trans_a, int trans_b, int batched, char *buf, size_t size)
{
    snprintf(buf, size, "%c%c%s", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
             batched ? "-batched" : "");
}

/* The class `name` of t (created when `create` and there is room; NULL if `name` is not a
 * class name). */
static sakd_gemm_class_params *find_class(sakd_gemm_tuning *t, const char *name, int create)
{
    for (size_t i = 0; i < t->n_classes; i++)
        if (strcmp(t->classes[i].name, name) == 0)
            return &t->classes[i];
    int known = 0;
    for (int k = 0; k < 8 && !known; k++) {
        char cand[16];
        sakd_gemm_class_name(k & 1, (k >> 1) & 1, k >> 2, cand, sizeof cand);
        known = strcmp(cand, name) == 0;
    }
    if (!create || !known || t->n_classes == SAKD_GEMM_MAX_CLASSES)
        return NULL;
    sakd_gemm_class_params *c = &t->classes[t->n_classes++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

typedef struct reader {
    sakd_gemm_tuning *t;
    const char *path;
    char error[512];
} reader;

static int add_param(sakd_gemm_params *p, const char *section, const char *name, const char *value,
                     reader *r)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-') {
        snprintf(r->error, sizeof r->error, "%s: [%s] %s = '%s' is not a non-negative integer",
                 r->path, section, name, value);
        return 0;
    }
    if (p->n == SAKD_GEMM_MAX_PARAMS || strlen(name) >= sizeof p->names[0]) {
        snprintf(r->error, sizeof r->error, "%s: [%s] has too many parameters or %s is too long",
                 r->path, section, name);
        return 0;
    }
    snprintf(p->names[p->n], sizeof p->names[p->n], "%s", name);
    p->values[p->n++] = (size_t)v;
    return 1;
}

static int read_handler(void *user, const char *section, const char *name, const char *value)
{
    reader *r = user;
    sakd_gemm_tuning *t = r->t;
#define TEXT(sec, key, field)                                                                      \
    if (strcmp(section, sec) == 0 && strcmp(name, key) == 0) {                                     \
        snprintf(t->field, sizeof t->field, "%s", value);                                          \
        return 1;                                                                                  \
    }
#define NUMBER(sec, key, field)                                                                    \
    if (strcmp(section, sec) == 0 && strcmp(name, key) == 0) {                                     \
        t->field = strtod(value, NULL);                                                            \
        return 1;                                                                                  \
    }
    TEXT("device", "platform", platform)
    TEXT("device", "name", device)
    TEXT("device", "driver", driver)
    TEXT("device", "clblast", clblast)
    TEXT("result", "workload", workload)
    TEXT("result", "date", date)
    NUMBER("result", "gemm_ms_default", ms_default)
    NUMBER("result", "gemm_ms_tuned", ms_tuned)
    NUMBER("result", "gflops_default", gflops_default)
    NUMBER("result", "gflops_tuned", gflops_tuned)
#undef TEXT
#undef NUMBER
    if (strcmp(section, "Xgemm") == 0)
        return add_param(&t->xgemm, section, name, value, r);
    if (strcmp(section, "XgemmDirect") == 0)
        return add_param(&t->direct, section, name, value, r);
    if (strcmp(section, "GemmRoutine") == 0)
        return add_param(&t->routine, section, name, value, r);
    /* A class's own sets: [Xgemm.NAME], [XgemmDirect.NAME], [GemmRoutine.NAME], [class.NAME]. */
    const char *dot = strchr(section, '.');
    sakd_gemm_class_params *c = dot ? find_class(t, dot + 1, 1) : NULL;
    if (dot && !c) {
        snprintf(r->error, sizeof r->error,
                 "%s: [%s]: '%s' is not a GEMM call class (NN, NT, TN or TT, alone or with "
                 "-batched), or too many classes",
                 r->path, section, dot + 1);
        return 0;
    }
    size_t head = dot ? (size_t)(dot - section) : 0;
    if (c && head == 5 && strncmp(section, "Xgemm", 5) == 0)
        return add_param(&c->xgemm, section, name, value, r);
    if (c && head == 11 && strncmp(section, "XgemmDirect", 11) == 0)
        return add_param(&c->direct, section, name, value, r);
    if (c && head == 11 && strncmp(section, "GemmRoutine", 11) == 0)
        return add_param(&c->routine, section, name, value, r);
    if (c && head == 5 && strncmp(section, "class", 5) == 0) {
        if (strcmp(name, "ms_general") == 0 || strcmp(name, "ms_tuned") == 0) {
            char *end;
            double v = strtod(value, &end);
            if (end == value || *end) {
                snprintf(r->error, sizeof r->error, "%s: [%s] %s = '%s' is not a number", r->path,
                         section, name, value);
                return 0;
            }
            *(strcmp(name, "ms_general") == 0 ? &c->ms_general : &c->ms_tuned) = v;
            return 1;
        }
    }
    snprintf(r->error, sizeof r->error, "%s: unknown key [%s] %s", r->path, section, name);
    return 0;
}

sakd_status sakd_gemm_tuning_read(const char *path, sakd_gemm_tuning *t)
{
    memset(t, 0, sizeof *t);
    char *text;
    size_t size;
    SAKD_TRY(sakd_file_read(path, &text, &size));
    if (memchr(text, '\0', size)) {
        free(text);
        return sakd_error(SAKD_ERR_FORMAT, "%s is not a GEMM tuning file (binary data)", path);
    }
    reader r = {t, path, ""};
    int line = ini_parse_string(text, read_handler, &r);
    free(text);
    if (r.error[0])
        return sakd_error(SAKD_ERR_FORMAT, "%s", r.error);
    if (line != 0)
        return sakd_error(SAKD_ERR_FORMAT, "%s:%d: not a GEMM tuning file (syntax error)", path,
                          line);
    if (!t->device[0] || !t->platform[0])
        return sakd_error(SAKD_ERR_FORMAT, "%s: no [device] platform and name", path);
    /* A partial kernel section would make CLBlast fail at the first GEMM: refuse it now. */
    if ((t->xgemm.n && t->xgemm.n != SAKD_GEMM_XGEMM_PARAMS) ||
        (t->direct.n && t->direct.n != SAKD_GEMM_DIRECT_PARAMS))
        return sakd_error(SAKD_ERR_FORMAT,
                          "%s: [Xgemm] needs all %d parameters and [XgemmDirect] all %d", path,
                          (int)SAKD_GEMM_XGEMM_PARAMS, (int)SAKD_GEMM_DIRECT_PARAMS);
    /* Switching between sets needs every set complete, the general one included. */
    for (size_t i = 0; i < t->n_classes; i++) {
        const sakd_gemm_class_params *c = &t->classes[i];
        if (c->xgemm.n != SAKD_GEMM_XGEMM_PARAMS || c->direct.n != SAKD_GEMM_DIRECT_PARAMS ||
            c->routine.n != 1 || t->xgemm.n != SAKD_GEMM_XGEMM_PARAMS ||
            t->direct.n != SAKD_GEMM_DIRECT_PARAMS || t->routine.n != 1)
            return sakd_error(SAKD_ERR_FORMAT,
                              "%s: class %s needs complete [Xgemm.%s], [XgemmDirect.%s] and "
                              "[GemmRoutine.%s] sections, and the general [Xgemm], "
                              "[XgemmDirect] and [GemmRoutine] complete too",
                              path, c->name, c->name, c->name, c->name);
    }
    return SAKD_OK;
}

static void write_params(sakd_strbuf *b, const char *section, const sakd_gemm_params *p)
{
    if (!p->n)
        return;
    sakd_strbuf_printf(b, "\n[%s]\n", section);
    for (size_t i = 0; i < p->n; i++)
        sakd_strbuf_printf(b, "%s = %zu\n", p->names[i], p->values[i]);
}

sakd_status sakd_gemm_tuning_write(const char *path, const sakd_gemm_tuning *t)
{
    sakd_strbuf b = {0};
    sakd_strbuf_printf(&b,
                       "# CLBlast GEMM parameters found by 'sakd tune'; delete this file to go "
                       "back to CLBlast's defaults.\n[device]\nplatform = %s\nname = %s\n"
                       "driver = %s\nclblast = %s\n\n[result]\nworkload = %s\ndate = %s\n"
                       "gemm_ms_default = %.3f\ngemm_ms_tuned = %.3f\ngflops_default = %.2f\n"
                       "gflops_tuned = %.2f\n",
                       t->platform, t->device, t->driver, t->clblast, t->workload, t->date,
                       t->ms_default, t->ms_tuned, t->gflops_default, t->gflops_tuned);
    write_params(&b, "Xgemm", &t->xgemm);
    write_params(&b, "XgemmDirect", &t->direct);
    write_params(&b, "GemmRoutine", &t->routine);
    for (size_t i = 0; i < t->n_classes; i++) {
        const sakd_gemm_class_params *c = &t->classes[i];
        char sec[48];
        sakd_strbuf_printf(&b,
                           "\n# calls of class %s: their own set\n[class.%s]\n"
                           "ms_general = %.3f\nms_tuned = %.3f\n",
                           c->name, c->name, c->ms_general, c->ms_tuned);
        snprintf(sec, sizeof sec, "Xgemm.%s", c->name);
        write_params(&b, sec, &c->xgemm);
        snprintf(sec, sizeof sec, "XgemmDirect.%s", c->name);
        write_params(&b, sec, &c->direct);
        snprintf(sec, sizeof sec, "GemmRoutine.%s", c->name);
        write_params(&b, sec, &c->routine);
    }
    if (b.failed) {
        free(b.data);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory writing %s", path);
    }
    sakd_status st = sakd_file_write_atomic(path, b.data, b.size);
    free(b.data);
    return st;
}

sakd_status sakd_gemm_params_override(sakd_ctx *ctx, const char *kernel, const sakd_gemm_params *p)
{
    SAKD_TRY(sakd_clblast_attach(ctx));
    const char *names[SAKD_GEMM_MAX_PARAMS];
    for (size_t i = 0; i < p->n; i++)
        names[i] = p->names[i];
    CLBlastStatusCode s = CLBlastOverrideParameters(ctx->info.device, kernel,
                                                    CLBlastPrecisionSingle, p->n, names, p->values);
    if (s != CLBlastSuccess)
        return sakd_error(SAKD_ERR_CLBLAST, "CLBlast refused the %s parameters: %s (%d)", kernel,
                          sakd_clblast_strerror(s), (int)s);
    return SAKD_OK;
}

sakd_status sakd_gemm_tuning_apply(sakd_ctx *ctx, const sakd_gemm_tuning *t)
{
    const sakd_device_info *d = &ctx->info;
    if (strcmp(t->platform, d->platform_name) != 0 || strcmp(t->device, d->name) != 0 ||
        strcmp(t->driver, d->driver) != 0 || strcmp(t->clblast, sakd_clblast_version()) != 0)
        return sakd_error(SAKD_ERR_ARG,
                          "the tuning is for '%s' on '%s' (driver %s, CLBlast %s), not for this "
                          "'%s' on '%s' (driver %s, CLBlast %s); run 'sakd tune' again",
                          t->device, t->platform, t->driver, t->clblast, d->name, d->platform_name,
                          d->driver, sakd_clblast_version());
    if (t->xgemm.n)
        SAKD_TRY(sakd_gemm_params_override(ctx, "Xgemm", &t->xgemm));
    if (t->direct.n)
        SAKD_TRY(sakd_gemm_params_override(ctx, "XgemmDirect", &t->direct));
    if (t->routine.n)
        SAKD_TRY(sakd_gemm_params_override(ctx, "GemmRoutine", &t->routine));
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (!os->gemm_tuning) {
        os->gemm_tuning = malloc(sizeof *os->gemm_tuning);
        if (!os->gemm_tuning)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory for the GEMM tuning");
    }
    if (os->gemm_tuning != t)
        *os->gemm_tuning = *t;
    os->gemm_active_set = -1;
    return SAKD_OK;
}

static int same_params(const sakd_gemm_params *a, const sakd_gemm_params *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->values[i] != b->values[i] || strcmp(a->names[i], b->names[i]) != 0)
            return 0;
    return 1;
}

/* The three sets of set `i` of t (-1: the general ones). */
static void set_of(const sakd_gemm_tuning *t, int i, const sakd_gemm_params **x,
                   const sakd_gemm_params **d, const sakd_gemm_params **r)
{
    *x = i < 0 ? &t->xgemm : &t->classes[i].xgemm;
    *d = i < 0 ? &t->direct : &t->classes[i].direct;
    *r = i < 0 ? &t->routine : &t->classes[i].routine;
}

sakd_status sakd_gemm_tuning_select(sakd_ctx *ctx, int trans_a, int trans_b, int batched)
{
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    sakd_gemm_tuning *t = os ? os->gemm_tuning : NULL;
    if (!t || !t->n_classes)
        return SAKD_OK;
    char name[16];
    sakd_gemm_class_name(trans_a, trans_b, batched, name, sizeof name);
    int want = -1;
    for (size_t i = 0; i < t->n_classes && want < 0; i++)
        if (strcmp(t->classes[i].name, name) == 0)
            want = (int)i;
    if (want == os->gemm_active_set)
        return SAKD_OK;
    const sakd_gemm_params *cx, *cd, *cr, *wx, *wd, *wr;
    int known = os->gemm_active_set >= -1; /* -2: a switch failed half-way */
    set_of(t, known ? os->gemm_active_set : -1, &cx, &cd, &cr);
    set_of(t, want, &wx, &wd, &wr);
    /* Until every override has gone through, CLBlast's state is unknown: mark it so. */
    os->gemm_active_set = -2;
    if (!known || !same_params(cx, wx))
        SAKD_TRY(sakd_gemm_params_override(ctx, "Xgemm", wx));
    if (!known || !same_params(cd, wd))
        SAKD_TRY(sakd_gemm_params_override(ctx, "XgemmDirect", wd));
    if (!known || !same_params(cr, wr))
        SAKD_TRY(sakd_gemm_params_override(ctx, "GemmRoutine", wr));
    os->gemm_active_set = want;
    return SAKD_OK;
}
