/* meta.c — key = value run files (meta.ini, report.ini) and the provenance of a run. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness/meta.h"
#include "runtime/file.h"
#include "ops/gemm.h"
#include "runtime/device.h"
#include "runtime/strbuf.h"
#include "version.h"

void sakd_meta_init(sakd_meta *m)
{
    memset(m, 0, sizeof *m);
}

void sakd_meta_free(sakd_meta *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* A copy of `s` on one line, without surrounding blanks. */
static char *one_line(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *d = strdup(s);
    if (!d)
        return NULL;
    for (char *p = d; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(d);
    while (n && (d[n - 1] == ' ' || d[n - 1] == '\t'))
        d[--n] = '\0';
    return d;
}

sakd_status sakd_meta_set(sakd_meta *m, const char *key, const char *value)
{
    char *v = one_line(value ? value : "");
    if (!v)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for %s", key);
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->keys[i], key)) {
            free(m->values[i]);
            m->values[i] = v;
            return SAKD_OK;
        }
    if (m->count == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 32;
        char **k = realloc(m->keys, cap * sizeof *k);
        if (k)
            m->keys = k;
        char **vv = k ? realloc(m->values, cap * sizeof *vv) : NULL;
        if (!vv) {
            free(v);
            return sakd_error(SAKD_ERR_NOMEM, "out of memory for %s", key);
        }
        m->values = vv;
        m->cap = cap;
    }
    m->keys[m->count] = strdup(key);
    if (!m->keys[m->count]) {
        free(v);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for %s", key);
    }
    m->values[m->count++] = v;
    return SAKD_OK;
}

sakd_status sakd_meta_setf(sakd_meta *m, const char *key, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sakd_meta_set(m, key, buf);
}

const char *sakd_meta_get(const sakd_meta *m, const char *key)
{
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->keys[i], key))
            return m->values[i];
    return NULL;
}

double sakd_meta_number(const sakd_meta *m, const char *key)
{
    const char *v = sakd_meta_get(m, key);
    if (!v || !*v)
        return NAN;
    char *end;
    double x = strtod(v, &end);
    return *end ? NAN : x;
}

sakd_status sakd_meta_read(sakd_meta *m, const char *path)
{
    sakd_meta_init(m);
    char *text;
    size_t size;
    if (access(path, F_OK) != 0)
        return sakd_error(SAKD_ERR_NOT_FOUND, "%s does not exist", path);
    SAKD_TRY(sakd_file_read(path, &text, &size));
    if (memchr(text, '\0', size)) {
        free(text);
        return sakd_error(SAKD_ERR_FORMAT, "%s: not a text file (NUL byte)", path);
    }
    sakd_status st = SAKD_OK;
    int line = 0;
    for (char *p = text, *next; p && *p && st == SAKD_OK; p = next) {
        line++;
        char *nl = strchr(p, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        char *kend = eq;
        while (kend && kend > p && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        if (!eq || kend == p) {
            st = sakd_error(SAKD_ERR_FORMAT, "%s:%d: expected `key = value`, found `%.60s`", path,
                            line, p);
            break;
        }
        *kend = '\0';
        const char *value = eq + 1;
        st = sakd_meta_set(m, p, value);
    }
    free(text);
    if (st != SAKD_OK)
        sakd_meta_free(m);
    return st;
}

sakd_status sakd_meta_write(const sakd_meta *m, const char *path, const char *title)
{
    sakd_strbuf b = {0};
    if (title)
        sakd_strbuf_printf(&b, "# %s\n", title);
    for (size_t i = 0; i < m->count; i++)
        sakd_strbuf_printf(&b, "%s = %s\n", m->keys[i], m->values[i]);
    if (b.failed) {
        free(b.data);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory writing %s", path);
    }
    sakd_status st = sakd_file_write_atomic(path, b.data ? b.data : "", b.size);
    free(b.data);
    return st;
}

void sakd_meta_now(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sakd_meta_git_describe(char *buf, size_t size)
{
    /* Taken when the library was built, not from the source tree now: the tree may have moved
     * on since (a commit, an edit) while this binary runs. */
    snprintf(buf, size, "%s", sakd_build_git());
}

sakd_status sakd_meta_provenance(sakd_meta *m, const char *device_spec)
{
    char buf[1024];
    SAKD_TRY(sakd_meta_set(m, "sakd_version", sakd_version()));
    sakd_meta_git_describe(buf, sizeof buf);
    SAKD_TRY(sakd_meta_set(m, "git", buf[0] ? buf : "unknown (not built from a git checkout)"));
#if defined(__clang__)
    SAKD_TRY(sakd_meta_setf(m, "compiler", "clang %s", __clang_version__));
#elif defined(__GNUC__)
    SAKD_TRY(sakd_meta_setf(m, "compiler", "gcc %s", __VERSION__));
#else
    SAKD_TRY(sakd_meta_set(m, "compiler", "unknown"));
#endif
    SAKD_TRY(sakd_meta_set(m, "clblast", sakd_clblast_version()));
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    SAKD_TRY(sakd_meta_setf(m, "hdf5", "%u.%u.%u", maj, min, rel));
    struct utsname u;
    if (uname(&u) == 0)
        SAKD_TRY(sakd_meta_setf(m, "host", "%s (%s %s %s)", u.nodename, u.sysname, u.release,
                                u.machine));
    sakd_device_info *list = NULL;
    size_t count = 0, idx = 0;
    sakd_status st = sakd_device_list(&list, &count);
    if (st == SAKD_OK)
        st = sakd_device_select(list, count, device_spec, &idx);
    if (st == SAKD_OK) {
        const sakd_device_info *d = &list[idx];
        SAKD_TRY(
            sakd_meta_setf(m, "opencl_platform", "%s (%s)", d->platform_name, d->platform_version));
        SAKD_TRY(sakd_meta_setf(m, "opencl_device", "%u:%u %s", d->platform_index, d->device_index,
                                d->name));
        SAKD_TRY(sakd_meta_set(m, "opencl_driver", d->driver));
    } else {
        SAKD_TRY(sakd_meta_setf(m, "opencl_device", "none: %s", sakd_error_detail()));
    }
    if (list)
        sakd_device_list_free(list);
    sakd_error_clear();
    return SAKD_OK;
}

sakd_status sakd_meta_from_report(sakd_meta *m, const sakd_report *r)
{
    const struct {
        const char *key;
        double v;
    } items[] = {{"epochs", r->epochs_done},
                 {"test_acc", r->test_acc},
                 {"best_acc", r->best_acc},
                 {"test_loss", r->test_loss},
                 {"train_acc", r->train_acc},
                 {"loss_total", r->loss_total},
                 {"loss_ce", r->loss_ce},
                 {"loss_feature", r->loss_feature},
                 {"loss_logit", r->loss_logit},
                 {"mean_firing_rate", r->mean_firing_rate},
                 {"sops_per_image", r->sops_per_image},
                 {"macs_per_image", r->macs_per_image},
                 {"energy_uj", r->energy_uj},
                 {"images_per_s", r->images_per_s},
                 {"peak_mem_mib", r->peak_mem_mib},
                 {"train_wall_s", r->wall_s}};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        SAKD_TRY(sakd_meta_setf(m, items[i].key, "%.9g", items[i].v));
    if (r->spike_passes + r->dense_passes) {
        /* The training passes (forward, weight gradient) of the convolutions that read spikes:
         * how many ran spike-driven, the synaptic operations those executed and the dense
         * multiply-accumulates they replaced (run.spike_layers). */
        SAKD_TRY(sakd_meta_setf(m, "spike_fed_passes", "%zu", r->spike_passes + r->dense_passes));
        SAKD_TRY(sakd_meta_setf(m, "spike_driven_passes", "%zu", r->spike_passes));
        SAKD_TRY(sakd_meta_setf(m, "spike_sops_executed", "%.9g", r->spike_ops));
        SAKD_TRY(sakd_meta_setf(m, "spike_macs_replaced", "%.9g", r->spike_replaced_macs));
    }
    for (size_t i = 0; i < r->n_layers; i++) {
        char key[128];
        snprintf(key, sizeof key, "layer.%s", r->layer_name[i]);
        SAKD_TRY(sakd_meta_setf(m, key, "%.9g", r->layer_rate[i]));
    }
    return SAKD_OK;
}
