/* collect.c — `sakd collect DIR`: summary.csv, table.csv, table.md, layers.csv and figures of
 * a sweep's results directory, rebuilt from its run directories. */
#include <stdio.h>

#include "cli/cli.h"
#include "harness/figures.h"
#include "harness/table.h"

void help_collect(void)
{
    printf("usage: sakd collect DIR\n\n"
           "Rebuilds the results of the sweep in DIR (results/<sweep>) from its run\n"
           "directories DIR/runs/<id>/{meta.ini,report.ini}: summary.csv (one row per run:\n"
           "axes, seed, status, metrics, error), table.csv (mean and std over seeds per\n"
           "cell), table.md, layers.csv (per-layer firing rates) and DIR/figures/*.svg|png\n"
           "(gnuplot; $SAKD_GNUPLOT names it; without gnuplot a warning, the tables are\n"
           "still written). A partial or corrupt run is reported and left out of the\n"
           "tables. Safe to run while the sweep runs: every file is replaced atomically.\n");
}

/* Collects `dir` and prints one line about it; shared with `sakd sweep`. */
int cli_collect(const char *dir)
{
    sakd_results res;
    sakd_status st = sakd_results_collect(dir, stderr, &res);
    if (st != SAKD_OK) {
        sakd_results_free(&res);
        return cli_fail(st, "collecting");
    }
    bool drawn = false;
    st = sakd_figures_draw(dir, &res, stderr, &drawn);
    printf("%s: %zu runs (%zu done, %zu failed, %zu unfinished, %zu unreadable), %zu cells -> "
           "summary.csv table.csv table.md layers.csv%s\n",
           dir, res.runs, res.done, res.failed, res.unfinished, res.unreadable, res.n_cells,
           drawn ? " figures/" : "");
    sakd_results_free(&res);
    if (st != SAKD_OK)
        return cli_fail(st, "drawing the figures");
    return SAKD_EXIT_OK;
}

int cmd_collect(cli_opts *opts, int argc, char **argv)
{
    if (argc == 2 && argv[1][0] != '-')
        return cli_collect(argv[1]);
    int rc = cli_parse_common(opts, argc > 1 && argv[1][0] == '-' ? argc : 1, argv, help_collect);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "sakd: error: collect needs one results directory ('sakd collect --help')\n");
    return SAKD_EXIT_USAGE;
}
