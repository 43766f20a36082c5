/* checkpoint.c — writing and reading HDF5 checkpoints (DESIGN.md §3.1) through io/h5. */
#include "io/checkpoint.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/h5.h"
#include "runtime/log.h"
#include "version.h"

struct sakd_checkpoint {
    sakd_h5_file file;
    char path[PATH_MAX];
    sakd_ckpt_tensor *model; /* [n_model], name order */
    size_t n_model;
    sakd_ckpt_tensor *optim; /* [n_optim], name order */
    size_t n_optim;
    int has_meta;
};

static size_t numel_of(int ndim, const size_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* Index of the first element that is NaN or Inf, or n. */
static size_t first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

/* ---- writing --------------------------------------------------------------------------- */

static sakd_status write_tensor(sakd_h5_file f, const char *group, const sakd_ckpt_tensor *t,
                                int is_optim)
{
    const char *kind = is_optim ? "optimizer state" : "model tensor";
    size_t len = strnlen(t->name, sizeof t->name);
    if (len == 0 || len == sizeof t->name)
        return sakd_error(SAKD_ERR_ARG, "%s name empty or not terminated", kind);
    const char *slash = strchr(t->name, '/');
    if (is_optim ? (!slash || slash == t->name || !slash[1] || strchr(slash + 1, '/'))
                 : slash != NULL)
        return sakd_error(SAKD_ERR_ARG, "%s name '%s' must be %s", kind, t->name,
                          is_optim ? "\"<param>/<state>\"" : "free of '/'");
    if (t->ndim < 0 || t->ndim > 5)
        return sakd_error(SAKD_ERR_ARG, "%s %s: rank %d (0 to 5)", kind, t->name, t->ndim);
    size_t n = numel_of(t->ndim, t->shape);
    if (n > 0 && !t->data)
        return sakd_error(SAKD_ERR_ARG, "%s %s: no data", kind, t->name);
    size_t bad = n > 0 ? first_nonfinite(t->data, n) : n;
    if (bad < n)
        return sakd_error(SAKD_ERR_ARG, "%s %s: element %zu is %s", kind, t->name, bad,
                          isnan(t->data[bad]) ? "NaN" : "Inf");
    char path[sizeof t->name + 16];
    snprintf(path, sizeof path, "%s/%s", group, t->name);
    return sakd_h5_write_float(f, path, t->ndim, t->shape, t->data);
}

static sakd_status write_meta(sakd_h5_file f, const sakd_ckpt_meta *m)
{
    const char *g = "/meta";
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "config", m->config ? m->config : ""));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "arch", m->arch));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "model", m->model));
    SAKD_TRY(sakd_h5_set_attr_double(f, g, "width", m->width));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "T", m->T));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "dataset", m->dataset));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "classes", m->classes));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "in_channels", m->in_channels));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "epoch", m->epoch));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "step", m->step));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "seed", m->seed));
    SAKD_TRY(sakd_h5_set_attr_double(f, g, "test_acc", m->test_acc));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "git", m->git));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "device", m->device));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "driver", m->driver));
    SAKD_TRY(sakd_h5_set_attr_string(f, g, "optimizer", m->optimizer));
    SAKD_TRY(sakd_h5_set_attr_int(f, g, "rng_counter", m->rng_counter));
    return SAKD_OK;
}

static sakd_status write_all(sakd_h5_file f, const sakd_ckpt_tensor *model, size_t n_model,
                             const sakd_ckpt_tensor *optim, size_t n_optim,
                             const sakd_ckpt_meta *meta)
{
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(created, sizeof created, "unknown");
    SAKD_TRY(sakd_h5_set_attr_string(f, "/", "format", SAKD_CHECKPOINT_FORMAT));
    SAKD_TRY(sakd_h5_set_attr_int(f, "/", "format_version", SAKD_CHECKPOINT_VERSION));
    SAKD_TRY(sakd_h5_set_attr_string(f, "/", "sakd_version", sakd_version()));
    SAKD_TRY(sakd_h5_set_attr_string(f, "/", "created", created));
    for (size_t i = 0; i < n_model; i++)
        SAKD_TRY(write_tensor(f, "/model", &model[i], 0));
    for (size_t i = 0; i < n_optim; i++)
        SAKD_TRY(write_tensor(f, "/optim", &optim[i], 1));
    if (meta)
        SAKD_TRY(write_meta(f, meta));
    return SAKD_OK;
}

sakd_status sakd_checkpoint_write(const char *path, const sakd_ckpt_tensor *model, size_t n_model,
                                  const sakd_ckpt_tensor *optim, size_t n_optim,
                                  const sakd_ckpt_meta *meta)
{
    if (!path || !*path || !model || n_model == 0 || (n_optim > 0 && !optim))
        return sakd_error(SAKD_ERR_ARG, "sakd_checkpoint_write: no path or no model tensors (%s)",
                          path ? path : "(null)");
    char tmp[PATH_MAX];
    sakd_h5_file f;
    SAKD_TRY(sakd_h5_create_temp(path, &f, tmp, sizeof tmp));
    sakd_status st = write_all(f, model, n_model, optim, n_optim, meta);
    if (st != SAKD_OK) {
        sakd_h5_abort(f, tmp);
        return sakd_error(st, "writing checkpoint %s: %s; the old file is kept", path,
                          sakd_error_detail());
    }
    st = sakd_h5_commit(f, tmp, path);
    if (st != SAKD_OK)
        return sakd_error(st, "writing checkpoint %s: %s", path, sakd_error_detail());
    return SAKD_OK;
}

/* ---- opening --------------------------------------------------------------------------- */

typedef struct list_ctx {
    sakd_checkpoint *ck;
    const char *group;
    sakd_ckpt_tensor **list;
    size_t *count, cap;
} list_ctx;

static sakd_status list_one(const char *name, void *user)
{
    list_ctx *l = user;
    if (strlen(name) >= sizeof l->list[0]->name)
        return sakd_error(SAKD_ERR_FORMAT, "%s: tensor name %s/%s is too long (at most %zu)",
                          l->ck->path, l->group, name, sizeof l->list[0]->name - 1);
    if (*l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        sakd_ckpt_tensor *grown = realloc(*l->list, cap * sizeof *grown);
        if (!grown)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory listing %s", l->ck->path);
        *l->list = grown;
        l->cap = cap;
    }
    sakd_ckpt_tensor *t = &(*l->list)[*l->count];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    char path[sizeof t->name + 16];
    snprintf(path, sizeof path, "%s/%s", l->group, name);
    sakd_h5_dtype dtype;
    SAKD_TRY(sakd_h5_dataset_info(l->ck->file, path, 5, &t->ndim, t->shape, &dtype));
    (*l->count)++;
    return SAKD_OK;
}

static sakd_status open_checks(sakd_checkpoint *ck)
{
    const char *p = ck->path;
    if (!sakd_h5_has_attr(ck->file, "/", "format"))
        return sakd_error(SAKD_ERR_FORMAT,
                          "%s is not a sakd checkpoint: the root has no 'format' attribute", p);
    char *format = NULL;
    sakd_status st = sakd_h5_get_attr_string(ck->file, "/", "format", &format);
    if (st != SAKD_OK)
        return sakd_error(SAKD_ERR_FORMAT, "%s is not a sakd checkpoint: %s", p,
                          sakd_error_detail());
    int ok = strcmp(format, SAKD_CHECKPOINT_FORMAT) == 0;
    if (!ok)
        sakd_error(SAKD_ERR_FORMAT, "%s is not a sakd checkpoint: format is '%s', expected '%s'", p,
                   format, SAKD_CHECKPOINT_FORMAT);
    free(format);
    if (!ok)
        return SAKD_ERR_FORMAT;
    long long version;
    st = sakd_h5_get_attr_int(ck->file, "/", "format_version", &version);
    if (st != SAKD_OK)
        return sakd_error(SAKD_ERR_FORMAT, "%s: no integer format_version: %s", p,
                          sakd_error_detail());
    if (version != SAKD_CHECKPOINT_VERSION)
        return sakd_error(SAKD_ERR_FORMAT,
                          "%s: checkpoint format_version %lld, this sakd reads version %d%s", p,
                          version, SAKD_CHECKPOINT_VERSION,
                          version > SAKD_CHECKPOINT_VERSION ? " (written by a newer sakd)" : "");
    if (!sakd_h5_exists(ck->file, "/model"))
        return sakd_error(SAKD_ERR_FORMAT, "%s: checkpoint has no /model group", p);
    list_ctx lm = {ck, "/model", &ck->model, &ck->n_model, 0};
    SAKD_TRY(sakd_h5_visit_datasets(ck->file, "/model", list_one, &lm));
    if (sakd_h5_exists(ck->file, "/optim")) {
        list_ctx lo = {ck, "/optim", &ck->optim, &ck->n_optim, 0};
        SAKD_TRY(sakd_h5_visit_datasets(ck->file, "/optim", list_one, &lo));
    }
    ck->has_meta = sakd_h5_exists(ck->file, "/meta");
    return SAKD_OK;
}

sakd_status sakd_checkpoint_open(sakd_checkpoint **ck, const char *path)
{
    if (!ck || !path)
        return sakd_error(SAKD_ERR_ARG, "sakd_checkpoint_open: NULL argument");
    *ck = NULL;
    sakd_checkpoint *c = calloc(1, sizeof *c);
    if (!c)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory opening %s", path);
    c->file = -1;
    if ((size_t)snprintf(c->path, sizeof c->path, "%s", path) >= sizeof c->path) {
        free(c);
        return sakd_error(SAKD_ERR_ARG, "checkpoint path too long: %s", path);
    }
    sakd_status st = sakd_h5_open(path, &c->file);
    if (st == SAKD_OK)
        st = open_checks(c);
    if (st != SAKD_OK) {
        sakd_checkpoint_close(c);
        return st;
    }
    *ck = c;
    return SAKD_OK;
}

void sakd_checkpoint_close(sakd_checkpoint *ck)
{
    if (!ck)
        return;
    sakd_h5_close(ck->file);
    free(ck->model);
    free(ck->optim);
    free(ck);
}

const char *sakd_checkpoint_path(const sakd_checkpoint *ck)
{
    return ck ? ck->path : NULL;
}

/* ---- listing --------------------------------------------------------------------------- */

static const sakd_ckpt_tensor *find(const sakd_ckpt_tensor *list, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

size_t sakd_checkpoint_model_count(const sakd_checkpoint *ck)
{
    return ck ? ck->n_model : 0;
}

const sakd_ckpt_tensor *sakd_checkpoint_model_info(const sakd_checkpoint *ck, size_t i)
{
    return ck && i < ck->n_model ? &ck->model[i] : NULL;
}

int sakd_checkpoint_has_model(const sakd_checkpoint *ck, const char *name)
{
    return ck && find(ck->model, ck->n_model, name) != NULL;
}

size_t sakd_checkpoint_optim_count(const sakd_checkpoint *ck)
{
    return ck ? ck->n_optim : 0;
}

const sakd_ckpt_tensor *sakd_checkpoint_optim_info(const sakd_checkpoint *ck, size_t i)
{
    return ck && i < ck->n_optim ? &ck->optim[i] : NULL;
}

int sakd_checkpoint_has_optim(const sakd_checkpoint *ck, const char *name)
{
    return ck && find(ck->optim, ck->n_optim, name) != NULL;
}

int sakd_checkpoint_has_meta(const sakd_checkpoint *ck)
{
    return ck && ck->has_meta;
}

/* ---- reading --------------------------------------------------------------------------- */

static sakd_status read_tensor(sakd_checkpoint *ck, const char *group, const char *kind,
                               const sakd_ckpt_tensor *list, size_t n, const char *name, int ndim,
                               const size_t *shape, float *out)
{
    if (!ck || !name || ndim < 0 || ndim > 5 || (ndim > 0 && !shape) || !out)
        return sakd_error(SAKD_ERR_ARG, "reading a checkpoint %s: bad arguments", kind);
    if (!find(list, n, name))
        return sakd_error(SAKD_ERR_NOT_FOUND, "%s: checkpoint has no %s %s (%s/%s)", ck->path, kind,
                          name, group, name);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", group, name);
    sakd_status st = sakd_h5_read_float(ck->file, path, ndim, shape, out);
    if (st != SAKD_OK)
        return st;
    size_t numel = numel_of(ndim, shape);
    size_t bad = first_nonfinite(out, numel);
    if (bad < numel)
        return sakd_error(SAKD_ERR_FORMAT, "%s: %s %s element %zu is %s", ck->path, kind, name, bad,
                          isnan(out[bad]) ? "NaN" : "Inf");
    return SAKD_OK;
}

sakd_status sakd_checkpoint_read_model(sakd_checkpoint *ck, const char *name, int ndim,
                                       const size_t *shape, float *out)
{
    return read_tensor(ck, "/model", "tensor", ck ? ck->model : NULL, ck ? ck->n_model : 0, name,
                       ndim, shape, out);
}

sakd_status sakd_checkpoint_read_optim(sakd_checkpoint *ck, const char *name, int ndim,
                                       const size_t *shape, float *out)
{
    return read_tensor(ck, "/optim", "optimizer state", ck ? ck->optim : NULL, ck ? ck->n_optim : 0,
                       name, ndim, shape, out);
}

/* Copies an optional string attribute into a fixed field (cut with a warning when longer). */
static sakd_status meta_string(sakd_checkpoint *ck, const char *obj, const char *name, char *dst,
                               size_t size)
{
    if (!sakd_h5_has_attr(ck->file, obj, name))
        return SAKD_OK;
    char *s;
    SAKD_TRY(sakd_h5_get_attr_string(ck->file, obj, name, &s));
    if (strlen(s) >= size)
        sakd_log(SAKD_LOG_WARN, "%s: attribute %s of %s is cut to %zu characters", ck->path, name,
                 obj, size - 1);
    snprintf(dst, size, "%s", s);
    free(s);
    return SAKD_OK;
}

static sakd_status meta_int(sakd_checkpoint *ck, const char *name, long long *v)
{
    *v = 0;
    if (!sakd_h5_has_attr(ck->file, "/meta", name))
        return SAKD_OK;
    return sakd_h5_get_attr_int(ck->file, "/meta", name, v);
}

static sakd_status meta_long(sakd_checkpoint *ck, const char *name, long *v)
{
    long long x;
    SAKD_TRY(meta_int(ck, name, &x));
    if (x < LONG_MIN || x > LONG_MAX)
        return sakd_error(SAKD_ERR_FORMAT, "%s: attribute %s of /meta is out of range", ck->path,
                          name);
    *v = (long)x;
    return SAKD_OK;
}

static sakd_status meta_double(sakd_checkpoint *ck, const char *name, double *v)
{
    *v = 0;
    if (!sakd_h5_has_attr(ck->file, "/meta", name))
        return SAKD_OK;
    return sakd_h5_get_attr_double(ck->file, "/meta", name, v);
}

static sakd_status read_meta_fields(sakd_checkpoint *ck, sakd_ckpt_meta *m)
{
    SAKD_TRY(meta_string(ck, "/", "sakd_version", m->sakd_version, sizeof m->sakd_version));
    SAKD_TRY(meta_string(ck, "/", "created", m->created, sizeof m->created));
    if (!ck->has_meta)
        return SAKD_OK;
    const char *g = "/meta";
    if (sakd_h5_has_attr(ck->file, g, "config"))
        SAKD_TRY(sakd_h5_get_attr_string(ck->file, g, "config", &m->config));
    SAKD_TRY(meta_string(ck, g, "arch", m->arch, sizeof m->arch));
    SAKD_TRY(meta_string(ck, g, "model", m->model, sizeof m->model));
    SAKD_TRY(meta_double(ck, "width", &m->width));
    SAKD_TRY(meta_long(ck, "T", &m->T));
    SAKD_TRY(meta_string(ck, g, "dataset", m->dataset, sizeof m->dataset));
    SAKD_TRY(meta_long(ck, "classes", &m->classes));
    SAKD_TRY(meta_long(ck, "in_channels", &m->in_channels));
    SAKD_TRY(meta_long(ck, "epoch", &m->epoch));
    SAKD_TRY(meta_int(ck, "step", &m->step));
    SAKD_TRY(meta_int(ck, "seed", &m->seed));
    SAKD_TRY(meta_double(ck, "test_acc", &m->test_acc));
    SAKD_TRY(meta_string(ck, g, "git", m->git, sizeof m->git));
    SAKD_TRY(meta_string(ck, g, "device", m->device, sizeof m->device));
    SAKD_TRY(meta_string(ck, g, "driver", m->driver, sizeof m->driver));
    SAKD_TRY(meta_string(ck, g, "optimizer", m->optimizer, sizeof m->optimizer));
    SAKD_TRY(meta_int(ck, "rng_counter", &m->rng_counter));
    return SAKD_OK;
}

sakd_status sakd_checkpoint_read_meta(sakd_checkpoint *ck, sakd_ckpt_meta *meta)
{
    if (!ck || !meta)
        return sakd_error(SAKD_ERR_ARG, "sakd_checkpoint_read_meta: NULL argument");
    memset(meta, 0, sizeof *meta);
    sakd_status st = read_meta_fields(ck, meta);
    if (st != SAKD_OK)
        sakd_ckpt_meta_free(meta);
    return st;
}

void sakd_ckpt_meta_free(sakd_ckpt_meta *meta)
{
    if (!meta)
        return;
    free(meta->config);
    meta->config = NULL;
}
