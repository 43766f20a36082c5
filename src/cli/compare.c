/* compare.c — `sakd compare A B`: two groups of done runs (seeds) of sweep results directories,
 * metric by metric: mean ± std of each, the difference B − A against the seed spread, Welch's
 * t-test and the paired t-test over the seeds both hold. */
#define _DEFAULT_SOURCE /* strsep */
#include <getopt.h>
#include <stdbool.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "harness/meta.h"
#include "harness/stats.h"
#include "harness/table.h"

void help_compare(void)
{
    printf("usage: sakd compare [--metric NAME,...] [--cells] A B\n\n"
           "Compares group B of done runs against group A (the baseline), e.g. SNNs by SAKD\n"
           "against SNNs trained directly, over their seeds. A and B are each a sweep results\n"
           "directory, DIR (every done run in DIR/runs) or DIR:key=value[,key=value...] (the\n"
           "done runs whose sweep axis `key` has that value, as in DIR/summary.csv; the\n"
           "filter starts after the first ':' that ends a directory's name), e.g.\n"
           "  sakd compare results/headline_snn \\\n"
           "      results/headline_sakd:distill.alpha=0,distill.init_from_teacher=false\n"
           "For each metric it prints each group's runs, mean and sample std; the difference\n"
           "of the means B − A, also in units of the pooled std of the two groups (Cohen's d);\n"
           "Welch's t-test (unequal variances) with its degrees of freedom and two-sided\n"
           "p-value; and the paired t-test of B − A over the seeds both groups hold (runs of\n"
           "one seed share a data order). With 3 seeds a group a p-value is a coarse guide,\n"
           "not a proof: read it with the difference and the spread. A test needs 2 runs a\n"
           "group (2 pairs) and some spread; else its fields are '—'. A group whose runs\n"
           "differ in a sweep axis holds several cells: it is said, its runs are pooled as\n"
           "if seeds, and a seed that repeats in a group leaves no pairing by seed.\n\n"
           "With --cells, B is split into its cells (its runs by the values of the sweep axes\n"
           "its filter leaves free) and each cell is compared with A, one Markdown table row\n"
           "a cell: an ablation against its baseline, e.g.\n"
           "  sakd compare --cells results/headline_snn results/headline_sakd\n\n"
           "Options:\n"
           "  -c, --cells        each cell of B against A, as a Markdown table\n"
           "  -m, --metric LIST  metrics of meta.ini / report.ini (default test_acc): test_acc,\n"
           "                     best_acc, test_loss, loss_total, loss_ce, loss_feature,\n"
           "                     loss_logit, mean_firing_rate, sops_per_image, energy_uj,\n"
           "                     images_per_s, wall_s, other_load, or `all`;\n"
           "                     accuracies are printed in %%\n\n"
           "Exit status: 0 compared, 1 a directory could not be read, 2 bad input (an unknown\n"
           "metric or axis, a group without done runs).\n");
}

/* One side of the comparison. */
typedef struct group {
    char *dir;                   /* DIR */
    char *keys[16], *values[16]; /* its filter */
    size_t n_filter;
    const char *spec; /* as given */
    sakd_selection sel;
    sakd_run_sample *runs; /* the runs compared: sel's, or those of one of its cells */
    size_t n;
} group;

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Splits `spec` into dir and filter: a directory as given is DIR; else the filter starts
 * after the first ':' that ends a directory's name (or, where none does, after the first ':'
 * followed by a key=value). Returns an exit code, or -1 to go on. */
static int parse_group(const char *spec, group *g)
{
    g->spec = spec;
    g->dir = strdup(spec);
    if (!g->dir)
        return cli_fail(sakd_error(SAKD_ERR_NOMEM, "out of memory"), "compare");
    if (is_dir(g->dir))
        return -1;
    char *colon = NULL;
    for (char *c = strchr(g->dir, ':'); c && !colon; c = strchr(c + 1, ':')) {
        *c = '\0';
        if (is_dir(g->dir))
            colon = c;
        *c = ':';
    }
    if (!colon) {
        colon = strchr(g->dir, ':');
        if (!colon || !strchr(colon, '='))
            return -1;
    }
    *colon = '\0';
    char *rest = colon + 1, *tok;
    while ((tok = strsep(&rest, ",")) != NULL) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            fprintf(stderr,
                    "sakd: error: compare: '%s': '%s' is not key=value (a sweep axis and one of "
                    "its values)\n",
                    spec, tok);
            return SAKD_EXIT_USAGE;
        }
        if (g->n_filter == sizeof g->keys / sizeof g->keys[0]) {
            fprintf(stderr, "sakd: error: compare: '%s': more than 16 key=value pairs\n", spec);
            return SAKD_EXIT_USAGE;
        }
        *eq = '\0';
        for (size_t k = 0; k < g->n_filter; k++)
            if (!strcmp(g->keys[k], tok)) {
                fprintf(stderr, "sakd: error: compare: '%s': axis '%s' is given twice\n", spec,
                        tok);
                return SAKD_EXIT_USAGE;
            }
        g->keys[g->n_filter] = tok;
        g->values[g->n_filter++] = eq + 1;
    }
    return -1;
}

/* Checks the filter's keys against DIR/sweep.ini's axes (when it has one), then reads the
 * group's done runs. Returns an exit code, or -1 to go on. */
static int load_group(group *g)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sweep.ini", g->dir);
    sakd_meta hints;
    if (g->n_filter && sakd_meta_read(&hints, path) == SAKD_OK) {
        const char *axes = sakd_meta_get(&hints, "axes");
        for (size_t k = 0; axes && *axes && k < g->n_filter; k++) {
            size_t len = strlen(g->keys[k]);
            const char *p = axes;
            int found = 0;
            while (!found && (p = strstr(p, g->keys[k])) != NULL) {
                found = (p == axes || p[-1] == ' ' || p[-1] == ',') &&
                        (p[len] == '\0' || p[len] == ',' || p[len] == ' ');
                p += len;
            }
            if (!found) {
                fprintf(stderr, "sakd: error: compare: %s has no axis '%s' (its axes: %s)\n",
                        g->dir, g->keys[k], *axes ? axes : "none");
                sakd_meta_free(&hints);
                return SAKD_EXIT_USAGE;
            }
        }
        sakd_meta_free(&hints);
    }
    sakd_error_clear();
    sakd_status st =
        sakd_results_select(g->dir, (const char *const *)g->keys, (const char *const *)g->values,
                            g->n_filter, stderr, &g->sel);
    if (st != SAKD_OK)
        return cli_fail(st, "compare: reading the runs");
    g->runs = g->sel.runs;
    g->n = g->sel.n;
    if (g->n == 0) {
        fprintf(stderr, "sakd: error: compare: no done run in %s/runs matches '%s'\n", g->dir,
                g->spec);
        return SAKD_EXIT_USAGE;
    }
    return -1;
}

static void group_free(group *g)
{
    free(g->dir);
    sakd_selection_free(&g->sel);
}

/* Prints x with `fmt`, or '—' when it is NAN. */
static void value(const char *fmt, double x)
{
    if (isnan(x))
        fputs("—", stdout);
    else
        printf(fmt, x);
}

/* The values of metric m of g's runs (scaled) that are not NAN, into x; their count. */
static size_t metric_values(const group *g, size_t m, double scale, double *x)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!isnan(g->runs[i].metric[m]))
            x[k++] = scale * g->runs[i].metric[m];
    return k;
}

/* Prints "mean ± std" of x[0..k). */
static void print_mean_std(const double *x, size_t k)
{
    double mean, std;
    sakd_mean_std(x, k, &mean, &std);
    value("%.4g", mean);
    fputs(" ± ", stdout);
    value("%.2g", std);
}

static void print_group(const char *label, const group *g, size_t m, const double *x, size_t k)
{
    printf("  %s  %s: %zu run%s, ", label, g->spec, k, k == 1 ? "" : "s");
    print_mean_std(x, k);
    fputs(" (seeds", stdout);
    for (size_t i = 0; i < g->n; i++)
        if (!isnan(g->runs[i].metric[m]))
            printf(" %s", g->runs[i].seed[0] ? g->runs[i].seed : "?");
    fputs(")\n", stdout);
    /* The axes the group's runs differ in: several cells, pooled as if seeds. */
    const sakd_selection *sel = &g->sel;
    int differ = 0;
    for (size_t a = sel->n_filter; a < sel->n_axes; a++) {
        size_t i = 0;
        while (i < g->n && strcmp(g->runs[i].values[a], g->runs[0].values[a]) == 0)
            i++;
        if (i < g->n)
            printf("%s%s", differ++ ? ", " : "      note: its runs differ in ", sel->axes[a]);
    }
    if (differ)
        printf(": several cells, pooled here as if seeds (--cells compares them one by one)\n");
}

static void print_test(const sakd_ttest *t)
{
    fputs("t ", stdout);
    value("%.3g", t->t);
    fputs(", df ", stdout);
    value("%.3g", t->df);
    fputs(", two-sided p ", stdout);
    value("%.2g", t->p);
    fputc('\n', stdout);
}

/* Group b against group a on one metric. */
typedef struct comparison {
    size_t ka, kb, pairs; /* runs with the metric; seeds both hold */
    double *xa, *xb;      /* their values (scaled) */
    sakd_ttest welch, paired;
    char repeat;             /* 'A' or 'B' when a seed repeats in that group: no pairs */
    const char *repeat_seed; /* which */
} comparison;

static void comparison_free(comparison *c)
{
    free(c->xa);
    free(c->xb);
}

/* A seed two of g's runs with metric m share (NULL: none). */
static const char *repeated_seed(const group *g, size_t m)
{
    for (size_t i = 0; i < g->n; i++)
        for (size_t h = 0; h < i; h++)
            if (!isnan(g->runs[i].metric[m]) && !isnan(g->runs[h].metric[m]) &&
                !strcmp(g->runs[i].seed, g->runs[h].seed))
                return g->runs[i].seed;
    return NULL;
}

/* Compares b against a on metric m (values times `scale`); false when out of memory. */
static bool compare_groups(const group *a, const group *b, size_t m, double scale, comparison *c)
{
    memset(c, 0, sizeof *c);
    c->xa = calloc(a->n + 1, sizeof *c->xa);
    c->xb = calloc(b->n + 1, sizeof *c->xb);
    double *pa = calloc(a->n + 1, sizeof *pa), *pb = calloc(a->n + 1, sizeof *pb);
    if (!c->xa || !c->xb || !pa || !pb) {
        free(pa), free(pb);
        comparison_free(c);
        fprintf(stderr, "sakd: error: compare: out of memory\n");
        return false;
    }
    c->ka = metric_values(a, m, scale, c->xa);
    c->kb = metric_values(b, m, scale, c->xb);
    sakd_welch(c->xa, c->ka, c->xb, c->kb, &c->welch);
    /* Pairs: the seeds both groups hold, when no seed repeats within a group (a group of
     * several cells has no pairing by seed). */
    c->repeat_seed = repeated_seed(a, m);
    c->repeat = c->repeat_seed ? 'A' : 0;
    if (!c->repeat && (c->repeat_seed = repeated_seed(b, m)) != NULL)
        c->repeat = 'B';
    for (size_t i = 0; !c->repeat && i < a->n; i++) {
        const sakd_run_sample *ra = &a->runs[i];
        if (isnan(ra->metric[m]) || !ra->seed[0])
            continue;
        for (size_t j = 0; j < b->n; j++) {
            const sakd_run_sample *rb = &b->runs[j];
            if (!isnan(rb->metric[m]) && !strcmp(rb->seed, ra->seed)) {
                pa[c->pairs] = scale * ra->metric[m];
                pb[c->pairs++] = scale * rb->metric[m];
                break;
            }
        }
    }
    sakd_paired(pa, pb, c->pairs, &c->paired);
    free(pa), free(pb);
    return true;
}

/* Group b against group a on metric m, in words; false when out of memory. */
static bool compare_metric(const group *a, const group *b, size_t m)
{
    int percent = m <= 1; /* test_acc, best_acc */
    comparison c;
    if (!compare_groups(a, b, m, percent ? 100.0 : 1.0, &c))
        return false;
    printf("%s%s: B − A\n", sakd_metric_names[m], percent ? " (%)" : "");
    print_group("A", a, m, c.xa, c.ka);
    print_group("B", b, m, c.xb, c.kb);
    fputs("  difference B − A ", stdout);
    value("%+.4g", c.welch.diff);
    fputs(" = ", stdout);
    value("%+.3g", c.welch.effect);
    fputs(" pooled std (", stdout);
    value("%.2g", c.welch.pooled);
    fputs(")\n  Welch t-test      ", stdout);
    print_test(&c.welch);
    if (c.repeat) {
        printf("  paired by seed    — (seed %s repeats in %c: its runs are of several cells, "
               "see --cells)\n",
               c.repeat_seed, c.repeat);
    } else {
        printf("  paired by seed    %zu pair%s, mean difference ", c.pairs,
               c.pairs == 1 ? "" : "s");
        value("%+.4g", c.paired.diff);
        fputs(" ± ", stdout);
        value("%.2g", c.paired.pooled);
        fputs(", ", stdout);
        print_test(&c.paired);
    }
    comparison_free(&c);
    return true;
}

/* Whether runs x and y of a selection have the same values of its axes from n_filter on. */
static bool same_cell(const sakd_selection *sel, const sakd_run_sample *x, const sakd_run_sample *y)
{
    for (size_t a = sel->n_filter; a < sel->n_axes; a++)
        if (strcmp(x->values[a], y->values[a]))
            return false;
    return true;
}

/* Prints s as a Markdown table cell ('|' escaped). */
static void md_cell(const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[]){*s, 0}, stdout);
}

/* Every cell of b (its runs by the values of the axes its filter leaves free) against a, as
 * a Markdown table. */
static bool compare_cells(const group *a, const group *b, size_t m)
{
    int percent = m <= 1;
    double scale = percent ? 100.0 : 1.0;
    const sakd_selection *sel = &b->sel;
    printf("%s%s: each cell of B against A\n", sakd_metric_names[m], percent ? " (%)" : "");
    double *xa = calloc(a->n + 1, sizeof *xa);
    sakd_run_sample *cell = calloc(b->n + 1, sizeof *cell);
    bool *done = calloc(b->n + 1, sizeof *done);
    if (!xa || !cell || !done) {
        free(xa), free(cell), free(done);
        fprintf(stderr, "sakd: error: compare: out of memory\n");
        return false;
    }
    print_group("A", a, m, xa, metric_values(a, m, scale, xa));
    printf("  B  %s, by cell\n\n|", b->spec);
    for (size_t k = sel->n_filter; k < sel->n_axes; k++)
        printf(" %s |", sel->axes[k]);
    printf(" n | mean ± std | B − A | in pooled stds | Welch p | pairs | paired p |\n|");
    for (size_t k = sel->n_filter; k < sel->n_axes + 7; k++)
        fputs("---|", stdout);
    fputc('\n', stdout);
    bool ok = true;
    for (size_t i = 0; ok && i < b->n; i++) {
        if (done[i])
            continue;
        group g = *b;
        g.runs = cell;
        g.n = 0;
        for (size_t j = i; j < b->n; j++)
            if (!done[j] && same_cell(sel, &b->runs[i], &b->runs[j])) {
                cell[g.n++] = b->runs[j];
                done[j] = true;
            }
        comparison c;
        if (!(ok = compare_groups(a, &g, m, scale, &c)))
            break;
        fputc('|', stdout);
        for (size_t k = sel->n_filter; k < sel->n_axes; k++) {
            fputc(' ', stdout);
            md_cell(b->runs[i].values[k]);
            fputs(" |", stdout);
        }
        printf(" %zu | ", c.kb);
        print_mean_std(c.xb, c.kb);
        fputs(" | ", stdout);
        value("%+.4g", c.welch.diff);
        fputs(" | ", stdout);
        value("%+.3g", c.welch.effect);
        fputs(" | ", stdout);
        value("%.2g", c.welch.p);
        printf(" | %zu | ", c.pairs);
        if (c.repeat)
            printf("— (seed %s repeats in %c)", c.repeat_seed, c.repeat);
        else
            value("%.2g", c.paired.p);
        fputs(" |\n", stdout);
        comparison_free(&c);
    }
    free(xa), free(cell), free(done);
    return ok;
}

int cmd_compare(cli_opts *opts, int argc, char **argv)
{
    (void)opts;
    static const struct option long_opts[] = {
        {"metric", required_argument, NULL, 'm'},
        {"cells", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *metrics = "test_acc";
    bool cells = false;
    int c;
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    while ((c = getopt_long(argc, argv, "m:ch", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm': metrics = optarg; break;
        case 'c': cells = true; break;
        case 'h': help_compare(); return SAKD_EXIT_OK;
        default: return SAKD_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "sakd: error: compare needs two groups of runs, A and B ('sakd compare "
                        "--help')\n");
        return SAKD_EXIT_USAGE;
    }
    int chosen[SAKD_N_METRICS] = {0};
    char *list = strdup(metrics), *rest = list, *tok;
    if (!list)
        return cli_fail(sakd_error(SAKD_ERR_NOMEM, "out of memory"), "compare");
    size_t n_chosen = 0;
    while ((tok = strsep(&rest, ",")) != NULL) {
        size_t m = 0;
        if (!strcmp(tok, "all")) {
            for (m = 0; m < SAKD_N_METRICS; m++)
                n_chosen += !chosen[m], chosen[m] = 1;
            continue;
        }
        while (m < SAKD_N_METRICS && strcmp(tok, sakd_metric_names[m]))
            m++;
        if (m == SAKD_N_METRICS) {
            fprintf(stderr, "sakd: error: compare: --metric: unknown metric '%s' (one of:", tok);
            for (m = 0; m < SAKD_N_METRICS; m++)
                fprintf(stderr, " %s", sakd_metric_names[m]);
            fprintf(stderr, ", all)\n");
            free(list);
            return SAKD_EXIT_USAGE;
        }
        n_chosen += !chosen[m];
        chosen[m] = 1;
    }
    free(list);
    group g[2] = {{0}, {0}};
    int rc = -1;
    for (int i = 0; i < 2 && rc < 0; i++)
        rc = parse_group(argv[optind + i], &g[i]);
    for (int i = 0; i < 2 && rc < 0; i++)
        rc = load_group(&g[i]);
    if (rc < 0) {
        rc = SAKD_EXIT_OK;
        for (size_t m = 0; m < SAKD_N_METRICS && rc == SAKD_EXIT_OK; m++)
            if (chosen[m]) {
                if (!(cells ? compare_cells(&g[0], &g[1], m) : compare_metric(&g[0], &g[1], m)))
                    rc = SAKD_EXIT_FAIL;
                else if (--n_chosen)
                    fputc('\n', stdout);
            }
    }
    group_free(&g[0]);
    group_free(&g[1]);
    return rc;
}
