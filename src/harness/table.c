/* table.c — summary.csv, table.csv, table.md and layers.csv from a sweep's run directories. */
#define _DEFAULT_SOURCE /* strsep */
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/meta.h"
#include "harness/table.h"
#include "runtime/file.h"

const char *const sakd_metric_names[SAKD_N_METRICS] = {
    "test_acc",     "best_acc",   "test_loss",        "loss_total",     "loss_ce",
    "loss_feature", "loss_logit", "mean_firing_rate", "sops_per_image", "energy_uj",
    "images_per_s", "wall_s",     "other_load"};
/* The metrics meta.ini holds (the sweep measured them); report.ini holds the others. */
enum { METRIC_WALL_S = 11, METRIC_OTHER_LOAD = 12 };

/* One run directory as read. */
typedef struct row {
    char id[64];
    long index;
    char *seed, *status, *error;
    char **values; /* [n_axes] of the results, "" when the run lacks the axis */
    double metric[SAKD_N_METRICS];
    sakd_meta report; /* layer.<name> rates */
} row;

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return strcmp(x->id, y->id);
}

static char *dupe(const char *s)
{
    return strdup(s ? s : "");
}

/* A CSV writer into memory: fields quoted by libcsv. */
typedef struct csv_out {
    FILE *f;
    char *buf;
    size_t size;
    int fields; /* in the current line */
} csv_out;

static void csv_field(csv_out *o, const char *s)
{
    if (o->fields++)
        fputc(',', o->f);
    csv_fwrite(o->f, s, strlen(s));
}

void sakd_table_write_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        csv_fwrite(f, fields[i], strlen(fields[i]));
    }
    fputc('\n', f);
}

static void csv_number(csv_out *o, double x)
{
    char buf[64] = "";
    if (!isnan(x))
        snprintf(buf, sizeof buf, "%.6g", x);
    csv_field(o, buf);
}

static void csv_end(csv_out *o)
{
    fputc('\n', o->f);
    o->fields = 0;
}

static sakd_status csv_commit(csv_out *o, const char *dir, const char *name)
{
    fclose(o->f);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sakd_status st = sakd_file_write_atomic(path, o->buf ? o->buf : "", o->size);
    free(o->buf);
    return st;
}

static sakd_status csv_open(csv_out *o)
{
    memset(o, 0, sizeof *o);
    o->f = open_memstream(&o->buf, &o->size);
    return o->f ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory for a table");
}

void sakd_results_free(sakd_results *res)
{
    for (size_t c = 0; c < res->n_cells; c++) {
        sakd_cell *cell = &res->cells[c];
        for (size_t a = 0; a < res->n_axes; a++)
            free(cell->values[a]);
        free(cell->values);
        for (size_t l = 0; l < cell->n_layers; l++)
            free(cell->layer_names[l]);
        free(cell->layer_names);
        free(cell->layer_mean);
        free(cell->layer_std);
    }
    free(res->cells);
    for (size_t a = 0; a < res->n_axes; a++)
        free(res->axes[a]);
    free(res->axes);
    free(res->plot);
    free(res->x);
    memset(res, 0, sizeof *res);
}

/* Splits meta.ini's "axes = a, b" into res->axes (first run that has it). */
static sakd_status set_axes(sakd_results *res, const char *list)
{
    char *copy = strdup(list), *rest = copy, *tok;
    if (!copy)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    while ((tok = strsep(&rest, ",")) != NULL) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        char **g = realloc(res->axes, (res->n_axes + 1) * sizeof *g);
        if (!g) {
            free(copy);
            return sakd_error(SAKD_ERR_NOMEM, "out of memory");
        }
        res->axes = g;
        if (!(res->axes[res->n_axes] = strdup(tok))) {
            free(copy);
            return sakd_error(SAKD_ERR_NOMEM, "out of memory");
        }
        res->n_axes++;
    }
    free(copy);
    return SAKD_OK;
}

static void problem(const sakd_results *res, FILE *log, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(const sakd_results *res, FILE *log, const char *fmt, ...)
{
    if (!log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(log, "%s: warning: ", res->who ? res->who : "collect");
    vfprintf(log, fmt, ap);
    fputc('\n', log);
    va_end(ap);
}

/* Reads one run directory into *r. */
static void read_row(const char *dir, const char *name, sakd_results *res, row *r, FILE *log)
{
    char path[PATH_MAX + 300];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", name);
    r->index = LONG_MAX;
    for (size_t m = 0; m < SAKD_N_METRICS; m++)
        r->metric[m] = NAN;
    sakd_meta_init(&r->report);
    sakd_meta meta;
    snprintf(path, sizeof path, "%s/runs/%s/meta.ini", dir, name);
    sakd_status st = sakd_meta_read(&meta, path);
    if (st != SAKD_OK) {
        r->status = dupe("unreadable");
        r->error = dupe(sakd_error_detail());
        problem(res, log, "%s/runs/%s: %s (a partial or corrupt run; left out)", dir, name,
                sakd_error_detail());
        sakd_error_clear();
        r->seed = dupe("");
        r->values = calloc(res->n_axes + 1, sizeof *r->values);
        return;
    }
    const char *axes = sakd_meta_get(&meta, "axes");
    if (!res->n_axes && axes && *axes)
        set_axes(res, axes);
    const char *idx = sakd_meta_get(&meta, "index");
    if (idx && *idx)
        r->index = strtol(idx, NULL, 10);
    r->seed = dupe(sakd_meta_get(&meta, "seed"));
    r->status = dupe(sakd_meta_get(&meta, "status"));
    r->error = dupe(sakd_meta_get(&meta, "error"));
    if (!r->status[0]) {
        free(r->status);
        r->status = dupe("unreadable");
        free(r->error);
        r->error = dupe("meta.ini has no status");
        problem(res, log, "%s/runs/%s: meta.ini has no status; left out", dir, name);
    }
    r->values = calloc(res->n_axes + 1, sizeof *r->values);
    for (size_t a = 0; r->values && a < res->n_axes; a++) {
        char key[300];
        snprintf(key, sizeof key, "axis.%s", res->axes[a]);
        r->values[a] = dupe(sakd_meta_get(&meta, key));
    }
    r->metric[METRIC_WALL_S] = sakd_meta_number(&meta, "wall_s");
    r->metric[METRIC_OTHER_LOAD] = sakd_meta_number(&meta, "other_load");
    if (!strcmp(r->status, "done")) {
        snprintf(path, sizeof path, "%s/runs/%s/report.ini", dir, name);
        st = sakd_meta_read(&r->report, path);
        if (st != SAKD_OK) {
            problem(res, log, "%s/runs/%s: status done but %s; left out", dir, name,
                    sakd_error_detail());
            free(r->status);
            free(r->error);
            r->status = dupe("unreadable");
            r->error = dupe(sakd_error_detail());
            sakd_error_clear();
            sakd_meta_init(&r->report);
        } else {
            for (size_t m = 0; m < METRIC_WALL_S; m++)
                r->metric[m] = sakd_meta_number(&r->report, sakd_metric_names[m]);
        }
    }
    sakd_meta_free(&meta);
}

/* Whether row r counts in the tables: done, with its axis values read. */
static int counted(const row *r)
{
    return !strcmp(r->status, "done") && r->values;
}

/* Whether row r has the axis values `values` of a cell. */
static int in_cell(const sakd_results *res, char *const *values, const row *r)
{
    size_t a = 0;
    while (a < res->n_axes && !strcmp(values[a], r->values[a]))
        a++;
    return a == res->n_axes;
}

/* Appends a cell of r's axis values, with the layers of r's report. */
static sakd_status new_cell(sakd_results *res, const row *r)
{
    sakd_cell *g = realloc(res->cells, (res->n_cells + 1) * sizeof *g);
    if (!g)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    res->cells = g;
    sakd_cell *cell = &res->cells[res->n_cells++];
    memset(cell, 0, sizeof *cell);
    cell->values = calloc(res->n_axes + 1, sizeof *cell->values);
    for (size_t a = 0; cell->values && a < res->n_axes; a++)
        cell->values[a] = dupe(r->values[a]);
    /* The layers of the first run of the cell. */
    for (size_t k = 0; k < r->report.count; k++)
        cell->n_layers += !strncmp(r->report.keys[k], "layer.", 6);
    cell->layer_names = calloc(cell->n_layers + 1, sizeof *cell->layer_names);
    cell->layer_mean = calloc(cell->n_layers + 1, sizeof *cell->layer_mean);
    cell->layer_std = calloc(cell->n_layers + 1, sizeof *cell->layer_std);
    if (!cell->values || !cell->layer_names || !cell->layer_mean || !cell->layer_std)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    size_t l = 0;
    for (size_t k = 0; k < r->report.count; k++)
        if (!strncmp(r->report.keys[k], "layer.", 6))
            cell->layer_names[l++] = dupe(r->report.keys[k] + 6);
    return SAKD_OK;
}

/* Row r's value of quantity m of cell: metric m, or past the metrics the rate of the cell's
 * layer m − SAKD_N_METRICS; NAN when it lacks one. */
static double quantity(const sakd_cell *cell, const row *r, size_t m)
{
    if (m < SAKD_N_METRICS)
        return r->metric[m];
    char key[300];
    snprintf(key, sizeof key, "layer.%s", cell->layer_names[m - SAKD_N_METRICS]);
    return sakd_meta_number(&r->report, key);
}

/* Mean and sample std of each metric and layer rate over the cell's runs among rows[0..n). */
static void cell_stats(const sakd_results *res, sakd_cell *cell, const row *rows, size_t n)
{
    size_t nm = SAKD_N_METRICS + cell->n_layers;
    for (size_t m = 0; m < nm; m++) {
        double sum = 0, sq = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            const row *r = &rows[i];
            if (!counted(r) || !in_cell(res, cell->values, r))
                continue;
            double x = quantity(cell, r, m);
            if (isnan(x))
                continue;
            sum += x;
            sq += x * x;
            cnt++;
        }
        double mean = cnt ? sum / (double)cnt : NAN;
        double var = cnt > 1 ? (sq - (double)cnt * mean * mean) / (double)(cnt - 1) : 0.0;
        double sd = cnt ? sqrt(var > 0 ? var : 0) : NAN;
        if (m < SAKD_N_METRICS) {
            cell->mean[m] = mean;
            cell->std[m] = sd;
        } else {
            cell->layer_mean[m - SAKD_N_METRICS] = mean;
            cell->layer_std[m - SAKD_N_METRICS] = sd;
        }
    }
}

/* Adds the done rows to their cells (in the order the cells first appear). */
static sakd_status aggregate(sakd_results *res, row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        if (!counted(r))
            continue;
        size_t c = 0;
        while (c < res->n_cells && !in_cell(res, res->cells[c].values, r))
            c++;
        if (c == res->n_cells)
            SAKD_TRY(new_cell(res, r));
        res->cells[c].n++;
    }
    for (size_t c = 0; c < res->n_cells; c++)
        cell_stats(res, &res->cells[c], rows, n);
    return SAKD_OK;
}

static sakd_status write_summary(const char *dir, const sakd_results *res, row *rows, size_t n)
{
    csv_out o;
    SAKD_TRY(csv_open(&o));
    csv_field(&o, "index");
    csv_field(&o, "id");
    for (size_t a = 0; a < res->n_axes; a++)
        csv_field(&o, res->axes[a]);
    csv_field(&o, "seed");
    csv_field(&o, "status");
    for (size_t m = 0; m < SAKD_N_METRICS; m++)
        csv_field(&o, sakd_metric_names[m]);
    csv_field(&o, "error");
    csv_end(&o);
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        char idx[32] = "";
        if (r->index != LONG_MAX)
            snprintf(idx, sizeof idx, "%ld", r->index);
        csv_field(&o, idx);
        csv_field(&o, r->id);
        for (size_t a = 0; a < res->n_axes; a++)
            csv_field(&o, r->values && r->values[a] ? r->values[a] : "");
        csv_field(&o, r->seed);
        csv_field(&o, r->status);
        for (size_t m = 0; m < SAKD_N_METRICS; m++)
            csv_number(&o, r->metric[m]);
        csv_field(&o, r->error);
        csv_end(&o);
    }
    SAKD_TRY(csv_commit(&o, dir, "summary.csv"));

    SAKD_TRY(csv_open(&o));
    for (size_t a = 0; a < res->n_axes; a++)
        csv_field(&o, res->axes[a]);
    csv_field(&o, "seed");
    csv_field(&o, "id");
    csv_field(&o, "layer");
    csv_field(&o, "firing_rate");
    csv_end(&o);
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (strcmp(r->status, "done"))
            continue;
        for (size_t k = 0; k < r->report.count; k++) {
            if (strncmp(r->report.keys[k], "layer.", 6))
                continue;
            for (size_t a = 0; a < res->n_axes; a++)
                csv_field(&o, r->values[a]);
            csv_field(&o, r->seed);
            csv_field(&o, r->id);
            csv_field(&o, r->report.keys[k] + 6);
            csv_field(&o, r->report.values[k]);
            csv_end(&o);
        }
    }
    return csv_commit(&o, dir, "layers.csv");
}

static sakd_status write_tables(const char *dir, const sakd_results *res)
{
    csv_out o;
    SAKD_TRY(csv_open(&o));
    for (size_t a = 0; a < res->n_axes; a++)
        csv_field(&o, res->axes[a]);
    csv_field(&o, "n");
    for (size_t m = 0; m < SAKD_N_METRICS; m++) {
        char name[64];
        snprintf(name, sizeof name, "%s_mean", sakd_metric_names[m]);
        csv_field(&o, name);
        snprintf(name, sizeof name, "%s_std", sakd_metric_names[m]);
        csv_field(&o, name);
    }
    csv_end(&o);
    for (size_t c = 0; c < res->n_cells; c++) {
        const sakd_cell *cell = &res->cells[c];
        for (size_t a = 0; a < res->n_axes; a++)
            csv_field(&o, cell->values[a]);
        char num[32];
        snprintf(num, sizeof num, "%zu", cell->n);
        csv_field(&o, num);
        for (size_t m = 0; m < SAKD_N_METRICS; m++) {
            csv_number(&o, cell->mean[m]);
            csv_number(&o, cell->std[m]);
        }
        csv_end(&o);
    }
    SAKD_TRY(csv_commit(&o, dir, "table.csv"));

    /* table.md: the main metrics, mean ± std over seeds. */
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for table.md");
    fprintf(f, "| ");
    for (size_t a = 0; a < res->n_axes; a++)
        fprintf(f, "%s | ", res->axes[a]);
    fprintf(f, "n | test acc (%%) | best acc (%%) | firing rate | SOPs/img | energy (uJ/img) | "
               "img/s | wall (s) | other load |\n|");
    for (size_t a = 0; a < res->n_axes + 9; a++)
        fprintf(f, "---|");
    fputc('\n', f);
    static const struct {
        int metric;
        double scale;
        const char *fmt;
    } cols[] = {{0, 100, "%.2f ± %.2f"},
                {1, 100, "%.2f ± %.2f"},
                {7, 1, "%.4f ± %.4f"},
                {8, 1, "%.3g ± %.2g"},
                {9, 1, "%.4g ± %.2g"},
                {10, 1, "%.1f ± %.1f"},
                {METRIC_WALL_S, 1, "%.0f ± %.0f"},
                {METRIC_OTHER_LOAD, 1, "%.2f ± %.2f"}};
    for (size_t c = 0; c < res->n_cells; c++) {
        const sakd_cell *cell = &res->cells[c];
        fprintf(f, "| ");
        for (size_t a = 0; a < res->n_axes; a++) {
            /* A '|' in a value would split the cell. */
            for (const char *p = cell->values[a]; *p; p++)
                fputs(*p == '|' ? "\\|" : (char[]){*p, 0}, f);
            fprintf(f, " | ");
        }
        fprintf(f, "%zu |", cell->n);
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            fputc(' ', f);
            if (isnan(cell->mean[cols[k].metric])) /* not measured for these runs */
                fputs("—", f);
            else
                fprintf(f, cols[k].fmt, cols[k].scale * cell->mean[cols[k].metric],
                        cols[k].scale * cell->std[cols[k].metric]);
            fprintf(f, " |");
        }
        fputc('\n', f);
    }
    fprintf(f,
            "\nmean ± std over seeds (sample std; 0 for one seed); other load: the CPUs busy "
            "with other work during a run, on average (meta.ini other_load: ~0 on a quiet "
            "machine; — where not measured); %zu runs: %zu done, %zu failed, %zu unfinished, "
            "%zu unreadable.\n",
            res->runs, res->done, res->failed, res->unfinished, res->unreadable);
    fclose(f);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/table.md", dir);
    sakd_status st = sakd_file_write_atomic(path, buf, size);
    free(buf);
    return st;
}

/* The figure hints and axes of <dir>/sweep.ini, when there is one ("" hints without). */
static void read_hints(const char *dir, sakd_results *res)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sweep.ini", dir);
    sakd_meta hints;
    if (sakd_meta_read(&hints, path) == SAKD_OK) {
        res->plot = dupe(sakd_meta_get(&hints, "plot"));
        res->x = dupe(sakd_meta_get(&hints, "x"));
        const char *axes = sakd_meta_get(&hints, "axes");
        if (axes)
            set_axes(res, axes);
        sakd_meta_free(&hints);
    } else {
        res->plot = dupe("");
        res->x = dupe("");
    }
    sakd_error_clear();
}

/* Reads every run directory under the open directory d (<dir>/runs, at `path`) into *rows
 * (*n of them, *rows allocated, also on an error). */
static sakd_status read_rows(DIR *d, const char *path, const char *dir, sakd_results *res,
                             FILE *log, row **rows, size_t *n)
{
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX + 300];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            row *g = realloc(*rows, cap * sizeof *g);
            if (!g)
                return sakd_error(SAKD_ERR_NOMEM, "out of memory");
            *rows = g;
        }
        read_row(dir, e->d_name, res, &(*rows)[(*n)++], log);
    }
    return SAKD_OK;
}

/* Frees what row r holds. */
static void free_row(const sakd_results *res, row *r)
{
    for (size_t a = 0; r->values && a < res->n_axes; a++)
        free(r->values[a]);
    free(r->values);
    free(r->seed);
    free(r->status);
    free(r->error);
    sakd_meta_free(&r->report);
}

/* Reads again the rows read before the axes were known, which lack their values. */
static void reread_rows(const char *dir, sakd_results *res, row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].values && rows[i].values[0] == NULL && res->n_axes) {
            free(rows[i].values);
            sakd_meta_free(&rows[i].report);
            free(rows[i].seed);
            free(rows[i].status);
            free(rows[i].error);
            char name[64];
            snprintf(name, sizeof name, "%s", rows[i].id);
            read_row(dir, name, res, &rows[i], NULL);
        }
    }
}

/* Counts the runs of rows[0..n) by status into res. */
static void count_statuses(sakd_results *res, const row *rows, size_t n)
{
    res->runs = n;
    for (size_t i = 0; i < n; i++) {
        const char *s = rows[i].status;
        if (!strcmp(s, "done"))
            res->done++;
        else if (!strcmp(s, "failed"))
            res->failed++;
        else if (!strcmp(s, "unreadable"))
            res->unreadable++;
        else
            res->unfinished++;
    }
}

sakd_status sakd_results_collect(const char *dir, FILE *log, sakd_results *res)
{
    memset(res, 0, sizeof *res);
    read_hints(dir, res);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/runs", dir);
    DIR *d = opendir(path);
    if (!d)
        return sakd_error(SAKD_ERR_NOT_FOUND, "%s: %s (not a sweep results directory)", path,
                          strerror(errno));
    row *rows = NULL;
    size_t n = 0;
    sakd_status st = read_rows(d, path, dir, res, log, &rows, &n);
    closedir(d);
    if (st == SAKD_OK)
        reread_rows(dir, res, rows, n);
    if (rows)
        qsort(rows, n, sizeof *rows, row_cmp);
    count_statuses(res, rows, n);
    if (st == SAKD_OK)
        st = aggregate(res, rows, n);
    if (st == SAKD_OK)
        st = write_summary(dir, res, rows, n);
    if (st == SAKD_OK)
        st = write_tables(dir, res);
    for (size_t i = 0; i < n; i++)
        free_row(res, &rows[i]);
    free(rows);
    return st;
}

/* Appends the axes of the comma-separated `list` that res does not hold yet. */
static sakd_status add_new_axes(sakd_results *res, const char *list)
{
    sakd_results more;
    memset(&more, 0, sizeof more);
    sakd_status st = set_axes(&more, list);
    for (size_t i = 0; st == SAKD_OK && i < more.n_axes; i++) {
        size_t a = 0;
        while (a < res->n_axes && strcmp(res->axes[a], more.axes[i]))
            a++;
        if (a < res->n_axes)
            continue;
        char **g = realloc(res->axes, (res->n_axes + 2) * sizeof *g);
        if (!g) {
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
            break;
        }
        res->axes = g;
        res->axes[res->n_axes++] = more.axes[i];
        more.axes[i] = NULL;
    }
    sakd_results_free(&more);
    return st;
}

/* The axes of the directory: its sweep.ini's, else those of the first run whose meta.ini
 * names them ("" when none does). Returns a string to free. */
static char *directory_axes(const char *dir, DIR *runs, const char *runs_path)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/sweep.ini", dir);
    sakd_meta m;
    char *found = NULL;
    if (sakd_meta_read(&m, path) == SAKD_OK) {
        const char *axes = sakd_meta_get(&m, "axes");
        if (axes && *axes)
            found = strdup(axes);
        sakd_meta_free(&m);
    }
    struct dirent *e;
    while (!found && (e = readdir(runs)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/meta.ini", runs_path, e->d_name);
        if (sakd_meta_read(&m, path) != SAKD_OK)
            continue;
        const char *axes = sakd_meta_get(&m, "axes");
        if (axes && *axes)
            found = strdup(axes);
        sakd_meta_free(&m);
    }
    sakd_error_clear();
    rewinddir(runs);
    return found ? found : strdup("");
}

sakd_status sakd_results_select(const char *dir, const char *const *keys, const char *const *values,
                                size_t n_filter, FILE *log, sakd_selection *sel)
{
    memset(sel, 0, sizeof *sel);
    sakd_results res;
    memset(&res, 0, sizeof res);
    sakd_status st = SAKD_OK;
    for (size_t a = 0; st == SAKD_OK && a < n_filter; a++)
        st = add_new_axes(&res, keys[a]);
    if (st != SAKD_OK || res.n_axes != n_filter) {
        sakd_results_free(&res);
        return st != SAKD_OK ? st : sakd_error(SAKD_ERR_ARG, "an axis is given twice");
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/runs", dir);
    DIR *d = opendir(path);
    if (!d) {
        sakd_results_free(&res);
        return sakd_error(SAKD_ERR_NOT_FOUND, "%s: %s (not a sweep results directory)", path,
                          strerror(errno));
    }
    char *axes = directory_axes(dir, d, path);
    st = axes ? add_new_axes(&res, axes) : sakd_error(SAKD_ERR_NOMEM, "out of memory");
    free(axes);
    row *rows = NULL;
    size_t n = 0;
    res.who = "compare";
    if (st == SAKD_OK)
        st = read_rows(d, path, dir, &res, log, &rows, &n);
    closedir(d);
    if (st == SAKD_OK) /* rows read before a run named the axes */
        reread_rows(dir, &res, rows, n);
    if (rows)
        qsort(rows, n, sizeof *rows, row_cmp);
    sel->runs = calloc(n + 1, sizeof *sel->runs);
    if (st == SAKD_OK && !sel->runs)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == SAKD_OK && i < n; i++) {
        const row *r = &rows[i];
        size_t a = 0;
        while (counted(r) && a < n_filter && !strcmp(r->values[a], values[a]))
            a++;
        if (!counted(r) || a < n_filter)
            continue;
        sakd_run_sample *x = &sel->runs[sel->n++];
        snprintf(x->id, sizeof x->id, "%s", r->id);
        memcpy(x->metric, r->metric, sizeof x->metric);
        x->seed = dupe(r->seed);
        x->values = calloc(res.n_axes + 1, sizeof *x->values);
        for (size_t v = 0; x->values && v < res.n_axes; v++)
            if (!(x->values[v] = dupe(r->values[v])))
                st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
        if (!x->seed || !x->values)
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        free_row(&res, &rows[i]);
    free(rows);
    sel->axes = res.axes;
    sel->n_axes = res.n_axes;
    sel->n_filter = n_filter;
    res.axes = NULL;
    res.n_axes = 0;
    sakd_results_free(&res);
    return st;
}

void sakd_selection_free(sakd_selection *sel)
{
    for (size_t i = 0; sel->runs && i < sel->n; i++) {
        free(sel->runs[i].seed);
        for (size_t a = 0; sel->runs[i].values && a < sel->n_axes; a++)
            free(sel->runs[i].values[a]);
        free(sel->runs[i].values);
    }
    free(sel->runs);
    for (size_t a = 0; a < sel->n_axes; a++)
        free(sel->axes[a]);
    free(sel->axes);
    memset(sel, 0, sizeof *sel);
}
