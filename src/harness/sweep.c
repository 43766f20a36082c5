/* sweep.c — loading a sweep file and expanding it into runs with stable ids. */
#define _DEFAULT_SOURCE /* strsep */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sweep.h"
#include "runtime/log.h"

/* The [sweep] keys that are not axes. */
static const char *const harness_keys[] = {"name", "out", "seeds", "teacher", "smoke", "plot", "x"};
#define N_HARNESS_KEYS (sizeof harness_keys / sizeof harness_keys[0])

/* The most runs one sweep expands to. */
#define MAX_RUNS 100000

static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(b), prev[64], cur[64];
    if (n >= 64)
        return n;
    for (size_t j = 0; j <= n; j++)
        prev[j] = j;
    for (size_t i = 1; a[i - 1]; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (n + 1) * sizeof *prev);
    }
    return prev[n];
}

static bool is_config_key(const char *key)
{
    for (size_t i = 0; sakd_config_key(i); i++)
        if (!strcmp(sakd_config_key(i), key))
            return true;
    return false;
}

/* Splits "a, b ,c" at commas into trimmed, non-empty items. */
static sakd_status split_list(const char *text, const char *where, char ***items, size_t *n)
{
    *items = NULL;
    *n = 0;
    char *copy = strdup(text);
    if (!copy)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory at %s", where);
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    char **out = calloc(cap, sizeof *out);
    sakd_status st = out ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory at %s", where);
    size_t count = 0;
    char *rest = copy, *tok;
    while (st == SAKD_OK && (tok = strsep(&rest, ",")) != NULL) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t len = strlen(tok);
        while (len && isspace((unsigned char)tok[len - 1]))
            tok[--len] = '\0';
        if (!len) {
            st = sakd_error(SAKD_ERR_ARG, "%s: empty item in the list `%s`", where, text);
            break;
        }
        for (size_t i = 0; i < count && st == SAKD_OK; i++)
            if (!strcmp(out[i], tok))
                st = sakd_error(SAKD_ERR_ARG, "%s: `%s` appears twice in `%s`", where, tok, text);
        if (st == SAKD_OK && !(out[count++] = strdup(tok)))
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory at %s", where);
    }
    free(copy);
    if (st != SAKD_OK) {
        for (size_t i = 0; out && i < count; i++)
            free(out[i]);
        free(out);
        return st;
    }
    *items = out;
    *n = count;
    return SAKD_OK;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i]);
    free(items);
}

void sakd_sweep_free(sakd_sweep *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_axes; i++) {
        free(s->axes[i].key);
        free_list(s->axes[i].values, s->axes[i].n_values);
        free(s->axes[i].origin);
    }
    free(s->axes);
    for (size_t i = 0; i < s->n_teachers; i++) {
        sakd_config_free(&s->teachers[i].cfg);
        free(s->teachers[i].dir);
    }
    free(s->teachers);
    for (size_t i = 0; i < s->n_runs; i++) {
        free(s->runs[i].values);
        sakd_config_free(&s->runs[i].cfg);
    }
    free(s->runs);
    free(s->seeds);
    free(s->path);
    free(s->name);
    free(s->out);
    free(s->plot);
    free(s->x);
    memset(s, 0, sizeof *s);
}

/* Applies `key=value` to c, naming `where` in errors. */
static sakd_status assign(sakd_config *c, const char *key, const char *value, const char *where)
{
    size_t n = strlen(key) + strlen(value) + 2;
    char *a = malloc(n);
    if (!a)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory at %s", where);
    snprintf(a, n, "%s=%s", key, value);
    sakd_status st = sakd_config_override(c, a, where);
    free(a);
    return st;
}

/* Applies whitespace-separated `key=value` assignments; `student_only` skips distill.* keys
 * (used for the teacher, which does not distill). */
static sakd_status apply_assignments(sakd_config *c, const char *text, const char *where,
                                     bool teacher)
{
    char *copy = strdup(text);
    if (!copy)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory at %s", where);
    sakd_status st = SAKD_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t", &save); tok && st == SAKD_OK;
         tok = strtok_r(NULL, " \t", &save))
        if (!teacher || strncmp(tok, "distill.", 8) != 0)
            st = sakd_config_override(c, tok, where);
    free(copy);
    return st;
}

/* Copies the error detail, so that a new message can quote it. */
static sakd_status rewrap(sakd_status st, const char *fmt, const char *a, const char *b)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", sakd_error_detail());
    return sakd_error(st, fmt, a, b, detail);
}

void sakd_sweep_run_label(const sakd_sweep *s, const sakd_sweep_run *r, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t a = 0; a < s->n_axes && used < size; a++)
        used += (size_t)snprintf(buf + used, size - used, "%s=%s ", s->axes[a].key, r->values[a]);
    if (used < size)
        snprintf(buf + used, size - used, "seed=%llu", r->seed);
}

static sakd_status parse_seeds(sakd_sweep *s, const char *text, const char *where)
{
    char **items;
    size_t n;
    SAKD_TRY(split_list(text, where, &items, &n));
    s->seeds = calloc(n, sizeof *s->seeds);
    sakd_status st = s->seeds ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == SAKD_OK; i++) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(items[i], &end, 10);
        if (errno || *end || items[i][0] == '-')
            st = sakd_error(SAKD_ERR_ARG, "%s: seeds: `%s` is not a non-negative integer", where,
                            items[i]);
        s->seeds[i] = v;
    }
    s->n_seeds = n;
    free_list(items, n);
    return st;
}

/* The harness key closest to `key`, for a "did you mean". */
static const char *closest_harness_key(const char *key)
{
    size_t best = 0, bd = SIZE_MAX;
    for (size_t k = 0; k < N_HARNESS_KEYS; k++) {
        size_t d = edit_distance(key, harness_keys[k]);
        if (d < bd) {
            bd = d;
            best = k;
        }
    }
    return harness_keys[best];
}

/* Checks that line l's key can be an axis: a config key (after `teacher.` for a teacher axis)
 * that changes a run's id. */
static sakd_status check_axis_key(const sakd_config_sweep_line *l, const char *where)
{
    bool teacher_axis = !strncmp(l->key, "teacher.", 8);
    const char *key = teacher_axis ? l->key + 8 : l->key;
    if (!strchr(key, '.'))
        return sakd_error(SAKD_ERR_ARG,
                          "%s:%d: unknown [sweep] key `%s` (did you mean `%s`? axes are "
                          "section.key or teacher.section.key)",
                          l->origin, l->line, l->key, closest_harness_key(key));
    if (!is_config_key(key)) {
        /* The config's own message names the closest valid key. */
        sakd_config scratch;
        sakd_status st = sakd_config_init(&scratch);
        if (st == SAKD_OK)
            st = assign(&scratch, key, "0", where);
        sakd_config_free(&scratch);
        return st != SAKD_OK ? st : sakd_error(SAKD_ERR_ARG, "%s: unknown axis key", where);
    }
    if (!strcmp(key, "train.seed") || !strncmp(key, "run.", 4) || !strcmp(key, "train.resume") ||
        !strcmp(key, "data.dir"))
        return sakd_error(SAKD_ERR_ARG,
                          "%s: `%s` cannot be an axis (seeds go in `seeds = ...`; "
                          "run.*, train.resume and data.dir do not change a run's id)",
                          where, l->key);
    return SAKD_OK;
}

/* Appends the axis of line l (its key, origin and values) to s. */
static sakd_status add_axis(sakd_sweep *s, const sakd_config_sweep_line *l, const char *where)
{
    sakd_sweep_axis *grown = realloc(s->axes, (s->n_axes + 1) * sizeof *grown);
    if (!grown)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    s->axes = grown;
    sakd_sweep_axis *a = &s->axes[s->n_axes];
    memset(a, 0, sizeof *a);
    a->key = strdup(l->key);
    a->origin = malloc(strlen(l->origin) + 16);
    if (!a->key || !a->origin) {
        free(a->key);
        free(a->origin);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    sprintf(a->origin, "%s:%d", l->origin, l->line);
    s->n_axes++;
    return split_list(l->value, where, &a->values, &a->n_values);
}

/* Checks that sweep.x, when given, names one of the axes. */
static sakd_status check_x(const sakd_sweep *s)
{
    if (!s->x)
        return SAKD_OK;
    bool found = false;
    for (size_t a = 0; a < s->n_axes; a++)
        found |= !strcmp(s->axes[a].key, s->x);
    if (!found)
        return sakd_error(SAKD_ERR_ARG, "%s: sweep.x = %s is not one of the axes", s->path, s->x);
    return SAKD_OK;
}

/* The sweep's name: sweep.name when given (checked), else the file's name without `.ini`. */
static sakd_status set_name(sakd_sweep *s, const char *name)
{
    const char *base_name = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path;
    if (!name) {
        s->name = strdup(base_name);
        if (s->name && strlen(s->name) > 4 && !strcmp(s->name + strlen(s->name) - 4, ".ini"))
            s->name[strlen(s->name) - 4] = '\0';
    } else {
        for (const char *p = name; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
                return sakd_error(SAKD_ERR_ARG,
                                  "%s: sweep.name = %s: use letters, digits, '-', '_' and '.'",
                                  s->path, name);
        s->name = strdup(name);
    }
    if (!s->name)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    return SAKD_OK;
}

/* Reads the [sweep] lines of `base`: harness keys and axes. */
static sakd_status parse_sweep_lines(sakd_sweep *s, const sakd_config *base, char **teacher_file,
                                     char **smoke, char **out)
{
    const char *name = NULL;
    for (size_t i = 0; i < base->sweep.count; i++) {
        const sakd_config_sweep_line *l = &base->sweep.lines[i];
        char where[PATH_MAX + 64];
        snprintf(where, sizeof where, "%s:%d: sweep.%s", l->origin, l->line, l->key);
        sakd_status st = SAKD_OK;
        if (!strcmp(l->key, "name"))
            name = l->value;
        else if (!strcmp(l->key, "out")) {
            if (!l->value[0])
                return sakd_error(SAKD_ERR_ARG, "%s: an empty directory", where);
            free(*out);
            st = (*out = strdup(l->value)) ? SAKD_OK : SAKD_ERR_NOMEM;
        } else if (!strcmp(l->key, "seeds"))
            st = parse_seeds(s, l->value, where);
        else if (!strcmp(l->key, "teacher"))
            st = (*teacher_file = strdup(l->value)) ? SAKD_OK : SAKD_ERR_NOMEM;
        else if (!strcmp(l->key, "smoke"))
            st = (*smoke = strdup(l->value)) ? SAKD_OK : SAKD_ERR_NOMEM;
        else if (!strcmp(l->key, "plot")) {
            if (strcmp(l->value, "bars") && strcmp(l->value, "lines"))
                return sakd_error(SAKD_ERR_ARG, "%s: `%s` is not one of bars, lines", where,
                                  l->value);
            free(s->plot);
            st = (s->plot = strdup(l->value)) ? SAKD_OK : SAKD_ERR_NOMEM;
        } else if (!strcmp(l->key, "x")) {
            free(s->x);
            st = (s->x = strdup(l->value)) ? SAKD_OK : SAKD_ERR_NOMEM;
        } else {
            SAKD_TRY(check_axis_key(l, where));
            st = add_axis(s, l, where);
        }
        if (st == SAKD_ERR_NOMEM && !sakd_error_detail()[0])
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory at %s", where);
        SAKD_TRY(st);
    }
    SAKD_TRY(check_x(s));
    return set_name(s, name);
}

/* Checks every axis value against a scratch copy of the config it applies to. */
static sakd_status check_axis_values(const sakd_sweep *s, const sakd_config *base,
                                     const sakd_config *teacher)
{
    for (size_t a = 0; a < s->n_axes; a++) {
        const sakd_sweep_axis *ax = &s->axes[a];
        bool t = !strncmp(ax->key, "teacher.", 8);
        if (t && !teacher)
            return sakd_error(SAKD_ERR_ARG, "%s: %s: a teacher axis needs `teacher = FILE.ini`",
                              ax->origin, ax->key);
        for (size_t v = 0; v < ax->n_values; v++) {
            const char *val = ax->values[v];
            if (!strcmp(ax->key, "distill.teacher")) {
                if (strcmp(val, "none") && strcmp(val, "teacher"))
                    return sakd_error(SAKD_ERR_ARG,
                                      "%s: distill.teacher axis: `%s` is not `none` (a directly "
                                      "trained baseline) or `teacher` (the sweep's teacher)",
                                      ax->origin, val);
                if (!strcmp(val, "teacher") && !teacher)
                    return sakd_error(SAKD_ERR_ARG,
                                      "%s: distill.teacher = teacher needs `teacher = FILE.ini` "
                                      "in [sweep]",
                                      ax->origin);
                continue;
            }
            sakd_config scratch;
            char where[PATH_MAX + 64];
            snprintf(where, sizeof where, "%s: sweep.%s", ax->origin, ax->key);
            sakd_status st = sakd_config_copy(&scratch, t ? teacher : base);
            if (st == SAKD_OK)
                st = assign(&scratch, t ? ax->key + 8 : ax->key, val, where);
            sakd_config_free(&scratch);
            SAKD_TRY(st);
        }
    }
    return SAKD_OK;
}

/* The teacher for one combination: base teacher plus the teacher axes; added once. */
static sakd_status teacher_for(sakd_sweep *s, const sakd_config *tbase, const size_t *pick,
                               const char *teachers_dir, int *index)
{
    sakd_config c;
    SAKD_TRY(sakd_config_copy(&c, tbase));
    sakd_status st = SAKD_OK;
    for (size_t a = 0; a < s->n_axes && st == SAKD_OK; a++)
        if (!strncmp(s->axes[a].key, "teacher.", 8))
            st = assign(&c, s->axes[a].key + 8, s->axes[a].values[pick[a]], s->axes[a].origin);
    if (st == SAKD_OK)
        st = sakd_config_validate(&c);
    if (st != SAKD_OK) {
        sakd_config_free(&c);
        return rewrap(st, "%s: the teacher config%s: %s", s->path, "");
    }
    sakd_config_resolve(&c);
    char id[13];
    sakd_config_id(&c, id);
    for (size_t i = 0; i < s->n_teachers; i++)
        if (!strcmp(s->teachers[i].id, id)) {
            sakd_config_free(&c);
            *index = (int)i;
            return SAKD_OK;
        }
    size_t n = strlen(teachers_dir) + 16;
    char *dir = malloc(n);
    sakd_sweep_teacher *grown = realloc(s->teachers, (s->n_teachers + 1) * sizeof *grown);
    if (grown)
        s->teachers = grown;
    if (!dir || !grown) {
        free(dir);
        sakd_config_free(&c);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    snprintf(dir, n, "%s/%s", teachers_dir, id);
    st = assign(&c, "run.out", dir, "sweep");
    if (st != SAKD_OK) {
        free(dir);
        sakd_config_free(&c);
        return st;
    }
    sakd_sweep_teacher *t = &s->teachers[s->n_teachers];
    t->cfg = c;
    t->dir = dir;
    memcpy(t->id, id, sizeof t->id);
    *index = (int)s->n_teachers++;
    return SAKD_OK;
}

/* The run for one combination of axis values and a seed. */
static sakd_status make_run(sakd_sweep *s, const sakd_config *base, const sakd_config *tbase,
                            const size_t *pick, unsigned long long seed, const char *teachers_dir,
                            sakd_sweep_run *r)
{
    memset(r, 0, sizeof *r);
    r->seed = seed;
    r->teacher = -1;
    r->values = calloc(s->n_axes + 1, sizeof *r->values);
    if (!r->values)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < s->n_axes; a++)
        r->values[a] = s->axes[a].values[pick[a]];
    SAKD_TRY(sakd_config_copy(&r->cfg, base));
    bool distills = tbase && !base->distill.teacher[0];
    sakd_status st = SAKD_OK;
    for (size_t a = 0; a < s->n_axes && st == SAKD_OK; a++) {
        const char *key = s->axes[a].key, *val = r->values[a];
        if (!strncmp(key, "teacher.", 8))
            continue;
        if (!strcmp(key, "distill.teacher"))
            distills = !strcmp(val, "teacher");
        else
            st = assign(&r->cfg, key, val, s->axes[a].origin);
    }
    char num[32];
    snprintf(num, sizeof num, "%llu", seed);
    if (st == SAKD_OK)
        st = assign(&r->cfg, "train.seed", num, "sweep seeds");
    if (st == SAKD_OK && distills) {
        st = teacher_for(s, tbase, pick, teachers_dir, &r->teacher);
        /* The id names the teacher by its config id, not by a path: stable across machines
         * and results directories. */
        char token[32];
        snprintf(token, sizeof token, "teacher:%s",
                 st == SAKD_OK ? s->teachers[r->teacher].id : "");
        if (st == SAKD_OK)
            st = assign(&r->cfg, "distill.teacher", token, "sweep");
    } else if (st == SAKD_OK && tbase) {
        st = assign(&r->cfg, "distill.teacher", "", "sweep");
    }
    if (st == SAKD_OK)
        st = sakd_config_validate(&r->cfg);
    char label[1024];
    sakd_sweep_run_label(s, r, label, sizeof label);
    if (st != SAKD_OK)
        return rewrap(st, "%s: the run %s: %s", s->path, label);
    sakd_config_resolve(&r->cfg);
    if (!r->cfg.distill.teacher[0])
        r->teacher = -1; /* nothing of it used (sakd_config_resolve): no teacher to train */
    sakd_config_id(&r->cfg, r->id);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/runs/%s", s->out, r->id);
    st = assign(&r->cfg, "run.out", dir, "sweep");
    if (st == SAKD_OK && r->teacher >= 0) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/weights.h5", s->teachers[r->teacher].dir);
        st = assign(&r->cfg, "distill.teacher", path, "sweep");
    }
    return st;
}

static sakd_status expand(sakd_sweep *s, const sakd_config *base, const sakd_config *tbase,
                          const char *teachers_dir)
{
    size_t total = s->n_seeds;
    for (size_t a = 0; a < s->n_axes; a++) {
        if (total > MAX_RUNS / s->axes[a].n_values)
            return sakd_error(SAKD_ERR_ARG, "%s: more than %d runs", s->path, MAX_RUNS);
        total *= s->axes[a].n_values;
    }
    s->runs = calloc(total, sizeof *s->runs);
    size_t *pick = calloc(s->n_axes + 1, sizeof *pick);
    sakd_status st = s->runs && pick ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < total && st == SAKD_OK; i++) {
        /* Index i → (axis values, seed): the seed varies fastest, then the last axis. */
        size_t rest = i / s->n_seeds;
        for (size_t a = s->n_axes; a-- > 0;) {
            pick[a] = rest % s->axes[a].n_values;
            rest /= s->axes[a].n_values;
        }
        st = make_run(s, base, tbase, pick, s->seeds[i % s->n_seeds], teachers_dir, &s->runs[i]);
        s->runs[i].index = i;
        s->n_runs = i + 1;
        if (i == 0)
            sakd_log_set_level(SAKD_LOG_QUIET);
        for (size_t j = 0; j < i && st == SAKD_OK; j++)
            if (!strcmp(s->runs[j].id, s->runs[i].id)) {
                char a[512], b[512];
                sakd_sweep_run_label(s, &s->runs[j], a, sizeof a);
                sakd_sweep_run_label(s, &s->runs[i], b, sizeof b);
                st = sakd_error(SAKD_ERR_ARG,
                                "%s: runs %zu (%s) and %zu (%s) have the same config (id %s); "
                                "an axis repeats a value or changes nothing",
                                s->path, j, a, i, b, s->runs[i].id);
            }
    }
    free(pick);
    return st;
}

/* Applies to `base` the smoke variant's assignments (with o->smoke) and the command line's
 * overrides. */
static sakd_status apply_smoke_and_overrides(sakd_config *base, const sakd_sweep_options *o,
                                             const char *smoke)
{
    if (o->smoke && !smoke)
        return sakd_error(SAKD_ERR_ARG,
                          "%s has no smoke variant (`smoke = key=value ...` in "
                          "[sweep])",
                          o->path);
    char where[PATH_MAX + 32];
    snprintf(where, sizeof where, "%s: sweep.smoke", o->path);
    if (o->smoke)
        SAKD_TRY(apply_assignments(base, smoke, where, false));
    for (size_t i = 0; i < o->n_overrides; i++)
        SAKD_TRY(sakd_config_override(base, o->overrides[i], "command line"));
    return SAKD_OK;
}

/* Loads the teacher's config `teacher_file` (relative to the sweep file) into *tbase (*have
 * once initialized), with the smoke variant and the command line's overrides but for their
 * distill.* keys. */
static sakd_status load_teacher(const sakd_sweep_options *o, const char *teacher_file,
                                const char *smoke, sakd_config *tbase, bool *have)
{
    /* A relative teacher path is relative to the sweep file. */
    char path[PATH_MAX], where[PATH_MAX + 32];
    const char *slash = strrchr(o->path, '/');
    if (teacher_file[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", teacher_file);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - o->path), o->path, teacher_file);
    SAKD_TRY(sakd_config_init(tbase));
    *have = true;
    SAKD_TRY(sakd_config_load_file(tbase, path));
    if (tbase->sweep.count)
        return sakd_error(SAKD_ERR_ARG, "%s: a teacher config has no [sweep] section", path);
    snprintf(where, sizeof where, "%s: sweep.smoke (teacher)", o->path);
    if (o->smoke)
        SAKD_TRY(apply_assignments(tbase, smoke, where, true));
    for (size_t i = 0; i < o->n_overrides; i++)
        if (strncmp(o->overrides[i], "distill.", 8) != 0)
            SAKD_TRY(sakd_config_override(tbase, o->overrides[i], "command line (teacher)"));
    return SAKD_OK;
}

/* The seeds: base's train.seed when the sweep names none; a smoke run takes the first only. */
static sakd_status default_seeds(sakd_sweep *s, const sakd_sweep_options *o,
                                 const sakd_config *base)
{
    if (!s->seeds) {
        s->seeds = malloc(sizeof *s->seeds);
        s->n_seeds = 1;
        if (!s->seeds)
            return SAKD_ERR_NOMEM;
        s->seeds[0] = base->train.seed;
    }
    if (o->smoke)
        s->n_seeds = 1;
    return SAKD_OK;
}

/* The runs' directory into s->out (o->out, else sweep.out, else results/<name>; -smoke appended
 * to either of the last two for a smoke run; no trailing '/') and the teachers' into `teachers`
 * (o->teachers, else `teachers` beside it). */
static sakd_status set_out_dirs(sakd_sweep *s, const sakd_sweep_options *o, const char *file_out,
                                char *teachers, size_t size)
{
    char out[PATH_MAX];
    if (o->out)
        snprintf(out, sizeof out, "%s", o->out);
    else if (file_out) {
        size_t n = strlen(file_out);
        while (n > 1 && file_out[n - 1] == '/')
            n--;
        snprintf(out, sizeof out, "%.*s%s", (int)n, file_out, o->smoke ? "-smoke" : "");
    } else
        snprintf(out, sizeof out, "results/%s%s", s->name, o->smoke ? "-smoke" : "");
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    if (o->teachers) {
        snprintf(teachers, size, "%s", o->teachers);
    } else {
        const char *slash = strrchr(out, '/');
        if (slash)
            snprintf(teachers, size, "%.*s/teachers", (int)(slash - out), out);
        else
            snprintf(teachers, size, "teachers");
    }
    return (s->out = strdup(out)) ? SAKD_OK : SAKD_ERR_NOMEM;
}

sakd_status sakd_sweep_load(sakd_sweep *s, const sakd_sweep_options *o)
{
    memset(s, 0, sizeof *s);
    if (!o || !o->path)
        return sakd_error(SAKD_ERR_ARG, "sakd_sweep_load: no sweep file");
    sakd_config base, tbase;
    bool have_base = false, have_teacher = false;
    char *teacher_file = NULL, *smoke = NULL, *file_out = NULL;
    sakd_status st = (s->path = strdup(o->path)) ? SAKD_OK : SAKD_ERR_NOMEM;
    if (st == SAKD_OK && (st = sakd_config_init(&base)) == SAKD_OK) {
        have_base = true;
        st = sakd_config_load_file(&base, o->path);
    }
    if (st == SAKD_OK)
        st = parse_sweep_lines(s, &base, &teacher_file, &smoke, &file_out);
    if (st == SAKD_OK)
        st = apply_smoke_and_overrides(&base, o, smoke);
    if (st == SAKD_OK && teacher_file)
        st = load_teacher(o, teacher_file, smoke, &tbase, &have_teacher);
    if (st == SAKD_OK)
        st = default_seeds(s, o, &base);
    if (st == SAKD_OK)
        st = check_axis_values(s, &base, have_teacher ? &tbase : NULL);
    char teachers[PATH_MAX];
    if (st == SAKD_OK)
        st = set_out_dirs(s, o, file_out, teachers, sizeof teachers);
    if (st == SAKD_OK) {
        /* Validation warnings would repeat for every run: show them once, for the base. */
        sakd_log_level level = sakd_log_get_level();
        st = expand(s, &base, have_teacher ? &tbase : NULL, teachers);
        sakd_log_set_level(level);
    }
    if (st == SAKD_ERR_NOMEM && !sakd_error_detail()[0])
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory loading %s", o->path);
    if (have_base)
        sakd_config_free(&base);
    if (have_teacher)
        sakd_config_free(&tbase);
    free(teacher_file);
    free(smoke);
    free(file_out);
    if (st != SAKD_OK)
        sakd_sweep_free(s);
    return st;
}

sakd_status sakd_sweep_find(const sakd_sweep *s, const char *which, size_t *index)
{
    size_t len = strlen(which), hits = 0;
    bool hex = len >= 4 && len <= 12;
    for (size_t i = 0; i < len && hex; i++)
        hex = isxdigit((unsigned char)which[i]) && !isupper((unsigned char)which[i]);
    if (hex) {
        for (size_t i = 0; i < s->n_runs; i++)
            if (!strncmp(s->runs[i].id, which, len)) {
                *index = i;
                hits++;
            }
        if (hits == 1)
            return SAKD_OK;
        if (hits > 1)
            return sakd_error(SAKD_ERR_ARG, "%s: `%s` matches %zu run ids; give more digits",
                              s->path, which, hits);
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(which, &end, 10);
    if (len && !*end && !errno && which[0] != '-' && v < s->n_runs) {
        *index = (size_t)v;
        return SAKD_OK;
    }
    return sakd_error(SAKD_ERR_NOT_FOUND,
                      "%s: no run `%s` (give a run id from --list or an index 0..%zu)", s->path,
                      which, s->n_runs ? s->n_runs - 1 : 0);
}
