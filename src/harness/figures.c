/* figures.c — gnuplot data files, scripts and SVG/PNG figures of a sweep's results. */
#define _DEFAULT_SOURCE /* strsep */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/figures.h"
#include "runtime/file.h"

/* The most series one figure shows (gnuplot's key gets unreadable beyond). */
#define MAX_SERIES 16

static bool is_number(const char *s)
{
    char *end;
    if (!*s)
        return false;
    strtod(s, &end);
    return *end == '\0';
}

/* Where the bars of a metric start. Accuracy bars start max(1, half the cells' span) below
 * the lowest mean − std, rounded down to a whole percent and never below 0, so that cells a
 * point apart can be told apart by eye; the other metrics start at 0, where their ratios are
 * what is read. */
static double bar_floor(const sakd_results *res, int metric, double scale)
{
    if (metric != 0)
        return 0.0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t c = 0; c < res->n_cells; c++) {
        double m = res->cells[c].mean[metric] * scale, sd = res->cells[c].std[metric] * scale;
        if (!isfinite(m))
            continue;
        if (!isfinite(sd))
            sd = 0.0;
        lo = fmin(lo, m - sd);
        hi = fmax(hi, m + sd);
    }
    if (!(lo <= hi))
        return 0.0;
    return fmax(0.0, floor(lo - fmax(1.0, 0.5 * (hi - lo))));
}

/* `s` for a gnuplot double-quoted string or data label: '"' and '\' replaced. */
static void gp_text(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        out[n++] = *s == '"' ? '\'' : *s == '\\' ? '/' : *s == '\n' ? ' ' : *s;
    out[n] = '\0';
}

/* The figure layout: x values and series (combinations of the other axes). */
typedef struct layout {
    size_t xa; /* index of the x axis, SIZE_MAX when the sweep has no axis */
    char **xs, **series;
    size_t n_x, n_series;
    size_t *cell_x, *cell_series; /* [n_cells] */
    bool lines;
} layout;

static size_t intern(char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s))
            return i;
    char **g = realloc(*list, (*n + 1) * sizeof *g);
    if (!g)
        return SIZE_MAX;
    *list = g;
    g[*n] = strdup(s);
    return (*n)++;
}

static void layout_free(layout *l)
{
    for (size_t i = 0; i < l->n_x; i++)
        free(l->xs[i]);
    for (size_t i = 0; i < l->n_series; i++)
        free(l->series[i]);
    free(l->xs);
    free(l->series);
    free(l->cell_x);
    free(l->cell_series);
}

static sakd_status make_layout(const sakd_results *res, layout *l)
{
    memset(l, 0, sizeof *l);
    l->xa = res->n_axes ? 0 : SIZE_MAX;
    for (size_t a = 0; a < res->n_axes; a++)
        if (res->x && !strcmp(res->axes[a], res->x))
            l->xa = a;
    l->cell_x = calloc(res->n_cells + 1, sizeof *l->cell_x);
    l->cell_series = calloc(res->n_cells + 1, sizeof *l->cell_series);
    if (!l->cell_x || !l->cell_series)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    bool numeric = l->xa != SIZE_MAX;
    for (size_t c = 0; c < res->n_cells; c++) {
        const sakd_cell *cell = &res->cells[c];
        const char *xv = l->xa == SIZE_MAX ? "all" : cell->values[l->xa];
        numeric = numeric && is_number(xv);
        char name[1024] = "";
        size_t used = 0;
        for (size_t a = 0; a < res->n_axes && used < sizeof name; a++)
            if (a != l->xa)
                used += (size_t)snprintf(name + used, sizeof name - used, "%s%s=%s",
                                         used ? ", " : "", res->axes[a], cell->values[a]);
        if (!name[0])
            snprintf(name, sizeof name, "mean ± std over seeds");
        l->cell_x[c] = intern(&l->xs, &l->n_x, xv);
        l->cell_series[c] = intern(&l->series, &l->n_series, name);
        if (l->cell_x[c] == SIZE_MAX || l->cell_series[c] == SIZE_MAX)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    l->lines = res->plot && !strcmp(res->plot, "lines")  ? true
               : res->plot && !strcmp(res->plot, "bars") ? false
                                                         : numeric;
    return SAKD_OK;
}

static sakd_status write_text(const char *dir, const char *name, char *buf, size_t size)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sakd_status st = sakd_file_write_atomic(path, buf, size);
    free(buf);
    return st;
}

/* One metric against x: data file and the plot commands (into gp). */
static sakd_status metric_figure(const char *fdir, const sakd_results *res, const layout *l,
                                 int metric, double scale, const char *name, const char *ylabel,
                                 FILE *gp)
{
    char *buf = NULL, text[1024];
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    size_t ns = l->n_series < MAX_SERIES ? l->n_series : MAX_SERIES;
    fprintf(f, "# x, then mean and std of %s for each series (from table.csv)\n",
            sakd_metric_names[metric]);
    for (size_t x = 0; x < l->n_x; x++) {
        gp_text(text, sizeof text, l->xs[x]);
        if (l->lines)
            fprintf(f, "%s", text);
        else
            fprintf(f, "\"%s\"", text);
        for (size_t s = 0; s < ns; s++) {
            double m = NAN, sd = NAN;
            for (size_t c = 0; c < res->n_cells; c++)
                if (l->cell_x[c] == x && l->cell_series[c] == s) {
                    m = res->cells[c].mean[metric] * scale;
                    sd = res->cells[c].std[metric] * scale;
                }
            fprintf(f, " %.6g %.6g", m, sd);
        }
        fputc('\n', f);
    }
    fclose(f);
    char dat[128];
    snprintf(dat, sizeof dat, "%s.dat", name);
    SAKD_TRY(write_text(fdir, dat, buf, size));
    /* Bar labels that would run into each other side by side (the plot is ~60 characters
     * wide beside its key) are turned. */
    size_t label_chars = 0;
    for (size_t x = 0; x < l->n_x; x++)
        label_chars += strlen(l->xs[x]) + 2;
    bool turn = !l->lines && label_chars > 60;
    for (int t = 0; t < 2; t++) {
        fprintf(gp, "set terminal %s noenhanced size 900,540\nset output '%s.%s'\n",
                t ? "pngcairo" : "svg dynamic", name, t ? "png" : "svg");
        fprintf(gp, "set ylabel \"%s\"\nset key outside right top\nset grid ytics\n", ylabel);
        gp_text(text, sizeof text, l->xa == SIZE_MAX ? "" : res->axes[l->xa]);
        fprintf(gp, "set xlabel \"%s\"\n%s", text, turn ? "set xtics rotate by -30\n" : "");
        if (l->lines)
            /* the first and last points' error bars clear of the frame */
            fprintf(gp, "set style data yerrorlines\nunset style histogram\n"
                        "set offsets graph 0.04, graph 0.04, 0, 0\n");
        else
            fprintf(gp,
                    "set offsets 0, 0, 0, 0\n"
                    "set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
                    "set style fill solid 0.6 border -1\nset yrange [%g:*]\n",
                    bar_floor(res, metric, scale));
        fprintf(gp, "plot ");
        for (size_t s = 0; s < ns; s++) {
            gp_text(text, sizeof text, l->series[s]);
            if (l->lines)
                fprintf(gp, "%s'%s' using 1:%zu:%zu title \"%s\"", s ? ", " : "", dat, 2 + 2 * s,
                        3 + 2 * s, text);
            else
                fprintf(gp, "%s'%s' using %zu:%zu%s title \"%s\"", s ? ", " : "", dat, 2 + 2 * s,
                        3 + 2 * s, s ? "" : ":xtic(1)", text);
        }
        fprintf(gp, "\nunset yrange\nset autoscale y\n%s", turn ? "set xtics norotate\n" : "");
    }
    return SAKD_OK;
}

/* Per-layer firing rates, one line per cell (Fig. 13). */
static sakd_status layer_figure(const char *fdir, const sakd_results *res, FILE *gp)
{
    size_t nc = 0, first = SIZE_MAX;
    for (size_t c = 0; c < res->n_cells; c++)
        if (res->cells[c].n_layers) {
            nc++;
            if (first == SIZE_MAX)
                first = c;
        }
    if (!nc)
        return SAKD_OK;
    nc = nc < MAX_SERIES ? nc : MAX_SERIES;
    char *buf = NULL, text[1024];
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    const sakd_cell *ref = &res->cells[first];
    fprintf(f, "# layer index, layer name, then mean and std of its firing rate per cell\n");
    for (size_t l = 0; l < ref->n_layers; l++) {
        gp_text(text, sizeof text, ref->layer_names[l]);
        fprintf(f, "%zu \"%s\"", l, text);
        size_t shown = 0;
        for (size_t c = 0; c < res->n_cells && shown < nc; c++) {
            const sakd_cell *cell = &res->cells[c];
            if (!cell->n_layers)
                continue;
            shown++;
            double m = NAN, sd = NAN;
            for (size_t k = 0; k < cell->n_layers; k++)
                if (!strcmp(cell->layer_names[k], ref->layer_names[l])) {
                    m = cell->layer_mean[k];
                    sd = cell->layer_std[k];
                }
            fprintf(f, " %.6g %.6g", m, sd);
        }
        fputc('\n', f);
    }
    fclose(f);
    SAKD_TRY(write_text(fdir, "firing_layers.dat", buf, size));
    for (int t = 0; t < 2; t++) {
        fprintf(gp, "set terminal %s noenhanced size 1100,540\nset output 'firing_layers.%s'\n",
                t ? "pngcairo" : "svg dynamic", t ? "png" : "svg");
        fprintf(gp, "set style data yerrorlines\nset ylabel \"firing rate\"\nset xlabel "
                    "\"layer\"\nset xtics rotate by -45\nset key outside right top\n"
                    "set offsets graph 0.02, graph 0.02, 0, 0\n");
        fprintf(gp, "plot ");
        size_t shown = 0;
        for (size_t c = 0; c < res->n_cells && shown < nc; c++) {
            const sakd_cell *cell = &res->cells[c];
            if (!cell->n_layers)
                continue;
            char name[1024] = "";
            size_t used = 0;
            for (size_t a = 0; a < res->n_axes && used < sizeof name; a++)
                used += (size_t)snprintf(name + used, sizeof name - used, "%s%s=%s",
                                         used ? ", " : "", res->axes[a], cell->values[a]);
            gp_text(text, sizeof text, name[0] ? name : "all runs");
            fprintf(gp, "%s'firing_layers.dat' using 1:%zu:%zu%s title \"%s\"", shown ? ", " : "",
                    3 + 2 * shown, 4 + 2 * shown, shown ? "" : ":xtic(2)", text);
            shown++;
        }
        fprintf(gp, "\nset xtics norotate\n");
    }
    return SAKD_OK;
}

/* The gnuplot to run: $SAKD_GNUPLOT, else gnuplot on PATH; "" when there is none. */
static void find_gnuplot(char *out, size_t size)
{
    const char *env = getenv("SAKD_GNUPLOT");
    out[0] = '\0';
    if (env) {
        if (*env && access(env, X_OK) == 0)
            snprintf(out, size, "%s", env);
        return;
    }
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/bin:/bin"), *rest = copy, *dir;
    while (copy && (dir = strsep(&rest, ":")) != NULL) {
        char cand[PATH_MAX];
        snprintf(cand, sizeof cand, "%s/gnuplot", *dir ? dir : ".");
        if (access(cand, X_OK) == 0) {
            snprintf(out, size, "%s", cand);
            break;
        }
    }
    free(copy);
}

sakd_status sakd_figures_draw(const char *dir, const sakd_results *res, FILE *log, bool *drawn)
{
    *drawn = false;
    char fdir[PATH_MAX + 16];
    snprintf(fdir, sizeof fdir, "%s/figures", dir);
    SAKD_TRY(sakd_mkdir_p(fdir));
    if (!res->n_cells) {
        if (log)
            fprintf(log, "collect: no finished run yet: no figures\n");
        return SAKD_OK;
    }
    layout l;
    sakd_status st = make_layout(res, &l);
    char *buf = NULL;
    size_t size = 0;
    FILE *gp = st == SAKD_OK ? open_memstream(&buf, &size) : NULL;
    if (st == SAKD_OK && !gp)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    if (gp) {
        fprintf(gp,
                "# figures of %s, drawn by sakd collect from table.csv and layers.csv\n"
                "set datafile missing 'nan'\nset encoding utf8\n",
                dir);
        st = metric_figure(fdir, res, &l, 0, 100.0, "accuracy", "test accuracy (%)", gp);
        if (st == SAKD_OK)
            st = metric_figure(fdir, res, &l, 7, 1.0, "firing", "mean firing rate", gp);
        if (st == SAKD_OK)
            st = metric_figure(fdir, res, &l, 9, 1.0, "energy", "energy per image (uJ)", gp);
        if (st == SAKD_OK)
            st = layer_figure(fdir, res, gp);
        fclose(gp);
        if (st == SAKD_OK)
            st = write_text(fdir, "figures.gp", buf, size);
        else
            free(buf);
    }
    layout_free(&l);
    SAKD_TRY(st);
    char gnuplot[PATH_MAX];
    find_gnuplot(gnuplot, sizeof gnuplot);
    if (!gnuplot[0]) {
        if (log)
            fprintf(log,
                    "collect: warning: gnuplot not found (install gnuplot-nox, or set "
                    "SAKD_GNUPLOT): the tables are written, the figures are not drawn; "
                    "%s/figures.gp draws them\n",
                    fdir);
        return SAKD_OK;
    }
    pid_t pid = fork();
    if (pid < 0)
        return sakd_error(SAKD_ERR_IO, "cannot run gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(fdir) != 0)
            _exit(126);
        execl(gnuplot, gnuplot, "figures.gp", (char *)NULL);
        _exit(127);
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        if (log)
            fprintf(log,
                    "collect: warning: %s failed on %s/figures.gp (status %d); the tables "
                    "are written\n",
                    gnuplot, fdir, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        return SAKD_OK;
    }
    *drawn = true;
    return SAKD_OK;
}
