/* fuzz_targets.c — entry points that feed arbitrary bytes to sakd's readers: the INI config
 * parser, the IDX and CIFAR dataset readers, and the HDF5 checkpoint and batch readers. */
#include "fuzz_targets.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/readers.h"
#include "harness/sweep.h"
#include "sakd.h"

/* Larger tensors are skipped: the point is the reader's checks, not allocating gigabytes. */
#define MAX_NUMEL ((size_t)1 << 22)

const char *sakd_fuzz_scratch(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/sakd-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
            abort();
        sakd_log_set_level(SAKD_LOG_QUIET);
    }
    return dir;
}

static void put_file(const char *name, const uint8_t *data, size_t size)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", sakd_fuzz_scratch(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}

static void drop_file(const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", sakd_fuzz_scratch(), name);
    unlink(path);
}

static int fuzz_config(const uint8_t *data, size_t size)
{
    sakd_fuzz_scratch();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sakd_config a, b;
    if (sakd_config_init(&a) != SAKD_OK || sakd_config_init(&b) != SAKD_OK)
        abort();
    if (sakd_config_load_string(&a, text, "fuzz.ini") == SAKD_OK &&
        sakd_config_validate(&a) == SAKD_OK) {
        /* An accepted config resolves to INI text that loads back to the same config. */
        sakd_config_resolve(&a);
        char *ini = NULL;
        if (sakd_config_to_ini(&a, &ini) == SAKD_OK) {
            if (sakd_config_load_string(&b, ini, "resolved") != SAKD_OK) {
                fprintf(stderr, "resolved text does not load: %s\n%s\n", sakd_error_detail(), ini);
                abort();
            }
            sakd_config_resolve(&b);
            char *again = NULL;
            if (sakd_config_to_ini(&b, &again) != SAKD_OK || strcmp(ini, again) != 0) {
                fprintf(stderr, "resolved text is not a fixed point:\n%s\n---\n%s\n", ini,
                        again ? again : "(none)");
                abort();
            }
            free(again);
            char ida[13], idb[13];
            sakd_config_id(&a, ida);
            sakd_config_id(&b, idb);
            if (strcmp(ida, idb) != 0)
                abort();
        }
        free(ini);
    }
    sakd_config_free(&a);
    sakd_config_free(&b);
    free(text);
    return 0;
}

static int fuzz_idx(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    int gz = data[0] & 1;
    size_t n_img =
        (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16 | (size_t)data[4] << 24;
    data += 5;
    size -= 5;
    if (n_img > size)
        n_img = size;
    const char *img = gz ? "f-images-idx3-ubyte.gz" : "f-images-idx3-ubyte";
    const char *lab = gz ? "f-labels-idx1-ubyte.gz" : "f-labels-idx1-ubyte";
    put_file(img, data, n_img);
    put_file(lab, data + n_img, size - n_img);
    sakd_dataset d;
    memset(&d, 0, sizeof d);
    if (sakd_data_idx_read(&d, sakd_fuzz_scratch(), "f", 10, NULL) == SAKD_OK) {
        /* Accepted: the sizes agree with what was read and every label is a class. */
        if (d.channels != 1 || !d.images || !d.labels)
            abort();
        for (size_t i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= 10)
                abort();
    }
    sakd_dataset_free(&d);
    drop_file(img);
    drop_file(lab);
    return 0;
}

static int fuzz_cifar(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int c100 = data[0] & 1;
    put_file("f.bin", data + 1, size - 1);
    const char *files[] = {"f.bin"};
    sakd_dataset d;
    memset(&d, 0, sizeof d);
    if (sakd_data_cifar_read(&d, sakd_fuzz_scratch(), files, 1, c100) == SAKD_OK) {
        if (d.channels != 3 || d.height != 32 || d.width != 32 ||
            d.n * (c100 ? 3074u : 3073u) != size - 1)
            abort();
        for (size_t i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= (c100 ? 100 : 10))
                abort();
    }
    sakd_dataset_free(&d);
    drop_file("f.bin");
    return 0;
}

static size_t numel(const sakd_ckpt_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n = t->shape[i] && n > MAX_NUMEL / t->shape[i] ? MAX_NUMEL + 1 : n * t->shape[i];
    return n;
}

static int fuzz_checkpoint(const uint8_t *data, size_t size)
{
    put_file("f.h5", data, size);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/f.h5", sakd_fuzz_scratch());
    sakd_checkpoint *ck;
    if (sakd_checkpoint_open(&ck, path) == SAKD_OK) {
        for (int which = 0; which < 2; which++) {
            size_t count =
                which ? sakd_checkpoint_optim_count(ck) : sakd_checkpoint_model_count(ck);
            for (size_t i = 0; i < count; i++) {
                const sakd_ckpt_tensor *t =
                    which ? sakd_checkpoint_optim_info(ck, i) : sakd_checkpoint_model_info(ck, i);
                size_t n = numel(t);
                if (n > MAX_NUMEL)
                    continue;
                float *buf = malloc((n ? n : 1) * sizeof *buf);
                if (!buf)
                    continue;
                if (which)
                    sakd_checkpoint_read_optim(ck, t->name, t->ndim, t->shape, buf);
                else
                    sakd_checkpoint_read_model(ck, t->name, t->ndim, t->shape, buf);
                free(buf);
            }
        }
        sakd_ckpt_meta meta;
        memset(&meta, 0, sizeof meta);
        if (sakd_checkpoint_read_meta(ck, &meta) == SAKD_OK && meta.config) {
            sakd_config c;
            if (sakd_config_init(&c) == SAKD_OK)
                sakd_config_load_string(&c, meta.config, path);
            sakd_config_free(&c);
        }
        sakd_ckpt_meta_free(&meta);
        sakd_checkpoint_close(ck);
    }
    drop_file("f.h5");
    return 0;
}

static int fuzz_batch(const uint8_t *data, size_t size)
{
    put_file("b.h5", data, size);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/b.h5", sakd_fuzz_scratch());
    float *x = NULL;
    int32_t *y = NULL;
    size_t shape[4], n;
    if (sakd_batch_file_read(path, &x, shape, &y, &n) == SAKD_OK && (shape[0] != n || !x || !y))
        abort();
    free(x);
    free(y);
    drop_file("b.h5");
    return 0;
}

/* A sweep file beside a valid teacher config (teacher.ini, as the shipped sweeps name it):
 * loaded plain and as its smoke variant. An accepted sweep must be consistent: as many runs as
 * the axes' product times the seeds, run i at index i, distinct ids, and each run found again
 * by its id and by its index. */
static const char fuzz_teacher_ini[] = "[model]\nname = resnet19\narch = ann\nwidth = 0.125\n"
                                       "[data]\ndataset = fashion-mnist\n"
                                       "[train]\nepochs = 1\nbatch = 16\n";

static void check_sweep(const sakd_sweep *s)
{
    size_t want = s->n_seeds;
    for (size_t a = 0; a < s->n_axes; a++)
        want *= s->axes[a].n_values;
    if (s->n_runs != want || s->n_runs == 0)
        abort();
    for (size_t i = 0; i < s->n_runs; i++) {
        const sakd_sweep_run *r = &s->runs[i];
        if (r->index != i || strlen(r->id) != 12)
            abort();
        if (r->teacher >= (int)s->n_teachers)
            abort();
        size_t k = s->n_runs;
        char idx[32];
        snprintf(idx, sizeof idx, "%zu", i);
        if (sakd_sweep_find(s, r->id, &k) != SAKD_OK || k != i)
            abort();
        if (sakd_sweep_find(s, idx, &k) != SAKD_OK || k != i)
            abort();
        for (size_t j = 0; j < i && s->n_runs <= 256; j++)
            if (strcmp(s->runs[j].id, r->id) == 0)
                abort();
    }
}

static int fuzz_sweep(const uint8_t *data, size_t size)
{
    put_file("teacher.ini", (const uint8_t *)fuzz_teacher_ini, sizeof fuzz_teacher_ini - 1);
    put_file("s.ini", data, size);
    char path[PATH_MAX + 16], out[PATH_MAX + 16], teachers[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/s.ini", sakd_fuzz_scratch());
    snprintf(out, sizeof out, "%s/out", sakd_fuzz_scratch());
    snprintf(teachers, sizeof teachers, "%s/teachers", sakd_fuzz_scratch());
    for (int smoke = 0; smoke < 2; smoke++) {
        sakd_sweep s;
        memset(&s, 0, sizeof s);
        sakd_sweep_options o = {.path = path, .smoke = smoke, .out = out, .teachers = teachers};
        if (sakd_sweep_load(&s, &o) == SAKD_OK)
            check_sweep(&s);
        sakd_sweep_free(&s);
    }
    drop_file("s.ini");
    return 0;
}

const sakd_fuzz_target sakd_fuzz_targets[] = {
    {"config", fuzz_config},         {"idx", fuzz_idx},     {"cifar", fuzz_cifar},
    {"checkpoint", fuzz_checkpoint}, {"batch", fuzz_batch}, {"sweep", fuzz_sweep},
};
const size_t sakd_fuzz_n_targets = sizeof sakd_fuzz_targets / sizeof sakd_fuzz_targets[0];

const sakd_fuzz_target *sakd_fuzz_find(const char *name)
{
    for (size_t i = 0; i < sakd_fuzz_n_targets; i++)
        if (strcmp(sakd_fuzz_targets[i].name, name) == 0)
            return &sakd_fuzz_targets[i];
    return NULL;
}
