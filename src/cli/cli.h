/* cli.h — the sakd command line: shared options, exit codes and the subcommands. */
#ifndef SAKD_CLI_CLI_H
#define SAKD_CLI_CLI_H

#include "sakd.h"

/* Exit codes of the sakd command. */
enum {
    SAKD_EXIT_OK = 0,
    SAKD_EXIT_FAIL = 1,  /* a run, a check or the device failed */
    SAKD_EXIT_USAGE = 2, /* bad command line, device string or input */
};

typedef struct cli_opts {
    const char *device; /* --device, else NULL (then SAKD_DEVICE) */
} cli_opts;

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(cli_opts *opts, int argc, char **argv);
    void (*help)(void);
} cli_command;

/* Prints "sakd: error: <what>: <detail>" for a failed status and returns
 * the matching exit code. */
int cli_fail(sakd_status st, const char *what);

/* Parses `text` as a whole number from `min` to `max` into *value; anything else (empty, trailing
 * characters, out of range) prints "sakd: error: <cmd>: <option> wants a whole number from
 * <min> to <max>, not '<text>'" and returns 0. Every integer option goes through it. */
int cli_parse_long(const char *cmd, const char *option, const char *text, long min, long max,
                   long *value);
/* The same for unsigned 64-bit values (seeds): 0 to ULLONG_MAX. */
int cli_parse_u64(const char *cmd, const char *option, const char *text, unsigned long long *value);
/* The same for a real number in [min, max]. */
int cli_parse_double(const char *cmd, const char *option, const char *text, double min, double max,
                     double *value);

/* Parses the options every subcommand shares (--device, --help) plus
 * none of its own; returns -1 to go on, else an exit code. */
int cli_parse_common(cli_opts *opts, int argc, char **argv, void (*help)(void));

int cmd_devices(cli_opts *opts, int argc, char **argv);
void help_devices(void);
int cmd_selftest(cli_opts *opts, int argc, char **argv);
void help_selftest(void);
int cmd_bench(cli_opts *opts, int argc, char **argv);
int cli_bench_ops(cli_opts *opts, int argc, char **argv);
void help_bench_ops(void);
/* Parses a comma-separated list of sizes 1..max into list[cap]; prints the error and
 * returns SAKD_EXIT_USAGE on a bad list, else -1. */
int cli_parse_sizes(const char *text, long max, size_t *list, size_t cap, size_t *count);
/* Median seconds of one n x n x n SGEMM on ctx over `reps` runs after a warm-up. */
sakd_status cli_time_gemm(sakd_ctx *ctx, size_t n, int reps, double *seconds);
void help_bench(void);
int cmd_train(cli_opts *opts, int argc, char **argv);
void help_train(void);
int cmd_eval(cli_opts *opts, int argc, char **argv);
void help_eval(void);
int cmd_export(cli_opts *opts, int argc, char **argv);
void help_export(void);
int cmd_trace(cli_opts *opts, int argc, char **argv);
void help_trace(void);
int cmd_sweep(cli_opts *opts, int argc, char **argv);
void help_sweep(void);
int cmd_collect(cli_opts *opts, int argc, char **argv);
void help_collect(void);
/* Collects a sweep's results directory (tables, figures) and prints one line about it. */
int cli_collect(const char *dir);
int cmd_compare(cli_opts *opts, int argc, char **argv);
void help_compare(void);
int cmd_kernels(cli_opts *opts, int argc, char **argv);
void help_kernels(void);
int cmd_tune(cli_opts *opts, int argc, char **argv);
void help_tune(void);
int cli_bench_train(cli_opts *opts, int argc, char **argv);
void help_bench_train(void);
int cli_bench_lif_layer(cli_opts *opts, int argc, char **argv);
void help_bench_lif_layer(void);
int cli_bench_spikes(cli_opts *opts, int argc, char **argv);
void help_bench_spikes(void);

/* The training step that `bench train` times and `tune` records (workload.c). */
typedef enum cli_workload_mode {
    CLI_WORKLOAD_ANN = 0, /* the ANN alone */
    CLI_WORKLOAD_SNN,     /* the SNN trained directly */
    CLI_WORKLOAD_SAKD,    /* the SNN by SAKD from a (random) ANN teacher of the same config */
} cli_workload_mode;

typedef struct cli_workload {
    struct sakd_trainer *trainer;
    char teacher_dir[4096];
    char teacher_path[4160];
} cli_workload;

const char *cli_workload_mode_str(cli_workload_mode m);
sakd_status cli_workload_parse_mode(const char *s, cli_workload_mode *m);
/* The config of a benchmark or tuning command from its operands: DESIGN.md defaults, then
 * `fallback` ("section.key=value" strings, NULL-terminated; only when no file is given), an
 * optional config file (the first operand without '='), `section.key=value` overrides and
 * --device. */
sakd_status cli_workload_config(struct sakd_config *c, int argc, char **argv,
                                const char *const *fallback, const cli_opts *opts);
/* A trainer for `base` in `mode` on generated data of the dataset's shape (images size x size;
 * 0 = the dataset's) with `steps` distinct batches. */
sakd_status cli_workload_new(cli_workload *w, const struct sakd_config *base,
                             cli_workload_mode mode, size_t size, size_t steps);
void cli_workload_free(cli_workload *w);

#endif
