/* spike_route.c — the spike-driven or dense choice of spike-fed layers (spike_route.h):
 * the mode, and the per-device crossover file that `sakd bench spikes --save` writes. */
#include "ops/spike_route.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/host.h"
#include "ops/ops_state.h"
#include "runtime/file.h"
#include "runtime/program.h"
#include "runtime/strbuf.h"

const char *sakd_spike_layers_names(void)
{
    return "auto, dense, spike";
}

void sakd_spike_shape_key(const sakd_spike_conv_shape *s, char *buf, size_t size)
{
    snprintf(buf, size, "%zux%zux%zu s%zu k%zux%zu p%zu -> %zu", s->c, s->h, s->w, s->stride_h,
             s->kh, s->kw, s->pad_h, s->m);
}

const char *sakd_spike_route(sakd_ctx *ctx)
{
    return sakd_host_active(ctx) ? "host" : "device";
}

sakd_status sakd_spike_crossover_path(sakd_ctx *ctx, char *buf, size_t size)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "spike-crossover-%s", sakd_spike_route(ctx));
    return sakd_device_cache_file(ctx, prefix, NULL, "spike crossover", buf, size);
}

typedef struct reader {
    sakd_ops_state *os;
    const char *path;
    char device[256];
    char error[512];
} reader;

static int read_handler(void *user, const char *section, const char *name, const char *value)
{
    reader *r = user;
    sakd_ops_state *os = r->os;
    if (!strcmp(section, "device")) {
        if (!strcmp(name, "name"))
            snprintf(r->device, sizeof r->device, "%s", value);
        return 1; /* platform, driver, path, date, workload: provenance */
    }
    if (strcmp(section, "crossover")) {
        snprintf(r->error, sizeof r->error, "%s: unknown section [%s]", r->path, section);
        return 0;
    }
    char *end;
    double d = strtod(value, &end);
    if (end == value || *end || !(d >= 0.0) || d > 1e9 || strlen(name) >= 64) {
        snprintf(r->error, sizeof r->error,
                 "%s: [crossover] '%s' = '%s' is not a shape and a density >= 0", r->path, name,
                 value);
        return 0;
    }
    void *k = realloc(os->spike_keys, (os->spike_n + 1) * sizeof *os->spike_keys);
    if (k)
        os->spike_keys = k;
    void *v = k ? realloc(os->spike_density, (os->spike_n + 1) * sizeof *os->spike_density) : NULL;
    if (v)
        os->spike_density = v;
    if (!v) {
        snprintf(r->error, sizeof r->error, "%s: out of memory", r->path);
        return 0;
    }
    snprintf(os->spike_keys[os->spike_n], sizeof os->spike_keys[0], "%s", name);
    os->spike_density[os->spike_n++] = d;
    return 1;
}

/* Loads ctx's crossover file into os (none there: no shapes). */
static sakd_status load(sakd_ctx *ctx, sakd_ops_state *os)
{
    os->spike_n = 0;
    os->spike_file[0] = '\0';
    char path[1024];
    SAKD_TRY(sakd_spike_crossover_path(ctx, path, sizeof path));
    if (access(path, F_OK) != 0)
        return SAKD_OK;
    char *text;
    size_t size;
    SAKD_TRY(sakd_file_read(path, &text, &size));
    reader r = {.os = os, .path = path};
    int line = memchr(text, '\0', size) ? -1 : ini_parse_string(text, read_handler, &r);
    free(text);
    if (r.error[0] || line != 0 || strcmp(r.device, ctx->info.name)) {
        os->spike_n = 0;
        if (r.error[0])
            return sakd_error(SAKD_ERR_FORMAT, "%s (run 'sakd bench spikes --save' again)",
                              r.error);
        if (line != 0)
            return sakd_error(SAKD_ERR_FORMAT,
                              "%s:%d: not a spike crossover file (run 'sakd bench spikes --save' "
                              "again)",
                              path, line);
        return sakd_error(SAKD_ERR_FORMAT, "%s: measured on '%s', not on %s", path, r.device,
                          ctx->info.name);
    }
    snprintf(os->spike_file, sizeof os->spike_file, "%s", path);
    return SAKD_OK;
}

sakd_status sakd_spike_layers_set(sakd_ctx *ctx, const char *request)
{
    const char *from = "run.spike_layers";
    if (!request || !*request) {
        request = getenv("SAKD_SPIKE_LAYERS");
        from = "SAKD_SPIKE_LAYERS";
    }
    if (!request || !*request)
        request = "auto";
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (!strcmp(request, "dense")) {
        os->spike_mode = SAKD_SPIKE_DENSE;
    } else if (!strcmp(request, "spike")) {
        os->spike_mode = SAKD_SPIKE_DRIVEN;
    } else if (!strcmp(request, "auto")) {
        SAKD_TRY(load(ctx, os));
        os->spike_mode = SAKD_SPIKE_AUTO;
    } else {
        return sakd_error(SAKD_ERR_ARG,
                          "unknown spike-layer mode '%s' (from %s); expected one of %s", request,
                          from, sakd_spike_layers_names());
    }
    return SAKD_OK;
}

sakd_status sakd_spike_layers_mode(sakd_ctx *ctx, sakd_spike_mode *mode)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (os->spike_mode == SAKD_SPIKE_UNSET)
        SAKD_TRY(sakd_spike_layers_set(ctx, NULL));
    *mode = (sakd_spike_mode)os->spike_mode;
    return SAKD_OK;
}

sakd_status sakd_spike_crossover(sakd_ctx *ctx, const sakd_spike_conv_shape *s, double *density)
{
    sakd_spike_mode mode;
    SAKD_TRY(sakd_spike_layers_mode(ctx, &mode));
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    char key[64];
    sakd_spike_shape_key(s, key, sizeof key);
    *density = -1.0;
    for (size_t i = 0; i < os->spike_n; i++)
        if (!strcmp(os->spike_keys[i], key))
            *density = os->spike_density[i];
    return SAKD_OK;
}

void sakd_spike_layers_describe(sakd_ctx *ctx, char *buf, size_t size)
{
    sakd_spike_mode mode;
    if (sakd_spike_layers_mode(ctx, &mode) != SAKD_OK) {
        snprintf(buf, size, "unavailable: %s", sakd_error_detail());
        sakd_error_clear();
        return;
    }
    sakd_ops_state *os = sakd_ops_state_peek(ctx);
    if (mode == SAKD_SPIKE_DENSE)
        snprintf(buf, size, "dense [requested]");
    else if (mode == SAKD_SPIKE_DRIVEN)
        snprintf(buf, size, "spike-driven [requested]");
    else if (os->spike_n)
        snprintf(buf, size, "auto: spike-driven below the crossover densities of %zu shapes in %s",
                 os->spike_n, os->spike_file);
    else
        snprintf(buf, size,
                 "auto: dense (no crossover measured on this device: sakd bench "
                 "spikes --save)");
}

sakd_status sakd_spike_crossover_write(sakd_ctx *ctx, size_t n, const char *const *keys,
                                       const double *density)
{
    const char *path = sakd_spike_route(ctx);
    char file[1024], when[32];
    SAKD_TRY(sakd_spike_crossover_path(ctx, file, sizeof file));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sakd_strbuf b = {0};
    sakd_strbuf_printf(&b,
                       "# sakd: densities of spikes below which a convolution of each shape runs "
                       "faster spike-driven\n# than dense on this device (sakd bench spikes "
                       "--save); run.spike_layers = auto reads it\n[device]\nplatform = %s\n"
                       "name = %s\ndriver = %s\npath = %s\ndate = %s\n[crossover]\n",
                       ctx->info.platform_name, ctx->info.name, ctx->info.driver, path, when);
    for (size_t i = 0; i < n; i++)
        sakd_strbuf_printf(&b, "%s = %.4f\n", keys[i], density[i]);
    /* The shapes the file already holds and this measurement did not (another width); a file
     * that does not read is replaced whole. */
    sakd_ops_state old = {0};
    if (load(ctx, &old) != SAKD_OK)
        sakd_error_clear();
    for (size_t j = 0; j < old.spike_n; j++) {
        int again = 0;
        for (size_t i = 0; i < n; i++)
            again |= !strcmp(old.spike_keys[j], keys[i]);
        if (!again)
            sakd_strbuf_printf(&b, "%s = %.4f\n", old.spike_keys[j], old.spike_density[j]);
    }
    free(old.spike_keys);
    free(old.spike_density);
    if (b.failed)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    char dir[4096];
    sakd_status st = sakd_program_cache_dir(dir, sizeof dir);
    if (st == SAKD_OK)
        st = sakd_mkdir_p(dir);
    if (st == SAKD_OK)
        st = sakd_file_write_atomic(file, b.data, b.size);
    free(b.data);
    return st;
}
