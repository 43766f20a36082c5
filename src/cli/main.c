/* main.c — entry point of the sakd command: global options and subcommand dispatch. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help_help(void);
static int cmd_help(cli_opts *opts, int argc, char **argv);

static const cli_command commands[] = {
    {"train", "train an ANN, an SNN, or an SNN by SAKD from a config file", cmd_train, help_train},
    {"sweep", "run a sweep file's grid of runs (-j N at once), list them, or write Slurm jobs",
     cmd_sweep, help_sweep},
    {"collect", "rebuild a sweep's summary, tables and figures from its run directories",
     cmd_collect, help_collect},
    {"compare", "compare two groups of runs over their seeds: difference, spread, t-tests",
     cmd_compare, help_compare},
    {"eval", "evaluate a checkpoint on its dataset's test set", cmd_eval, help_eval},
    {"trace", "one traced training step on a batch file, for cross-checks", cmd_trace, help_trace},
    {"export", "write a trained SNN as a NIR graph for other simulators and chips", cmd_export,
     help_export},
    {"devices", "list OpenCL platforms and devices, marking the selected one", cmd_devices,
     help_devices},
    {"selftest", "check a GEMM and element-wise kernels against a CPU reference", cmd_selftest,
     help_selftest},
    {"kernels", "list, print or export the built-in OpenCL kernel programs", cmd_kernels,
     help_kernels},
    {"bench", "benchmarks: GEMM, every op, the training step, the LIF-layer benchmark", cmd_bench,
     help_bench},
    {"tune", "tune CLBlast's GEMM kernels for a model on the selected device", cmd_tune, help_tune},
    {"help", "show help for a command", cmd_help, help_help},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: sakd [OPTIONS] COMMAND [ARGS]\n\n"
               "Self-architectural knowledge distillation for spiking neural networks on any\n"
               "OpenCL device.\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nOptions:\n"
            "  -d, --device SPEC  OpenCL device: P:D indices, part of a platform or device\n"
            "                     name, or gpu, cpu, accelerator (default: the first GPU,\n"
            "                     else the first device; also SAKD_DEVICE)\n"
            "  -q, --quiet        no warnings\n"
            "  -v, --verbose      more messages (repeat for debug output)\n"
            "  -h, --help         this help; 'sakd help COMMAND' for a command's\n"
            "  -V, --version      version\n\n"
            "Environment:\n"
            "  SAKD_DEVICE         device, as --device\n"
            "  SAKD_CL_DIR         read kernel sources from this directory, not the built-in copy\n"
            "  SAKD_CL_BINARY_DIR  load offline-compiled kernel binaries from this directory\n"
            "  XDG_CACHE_HOME      compiled kernels are cached in $XDG_CACHE_HOME/sakd\n"
            "                      (else ~/.cache/sakd; SAKD_CACHE_DIR overrides both)\n"
            "  SAKD_NO_CACHE=1     compile kernels every time\n\n"
            "Exit status: 0 success, 1 failure, 2 bad command line or input.\n");
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void help_help(void)
{
    printf("usage: sakd help [COMMAND]\n\nShows the help of COMMAND, or the list of commands.\n");
}

static int cmd_help(cli_opts *opts, int argc, char **argv)
{
    (void)opts;
    if (argc < 2) {
        usage(stdout);
        return SAKD_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help_help();
        return SAKD_EXIT_OK;
    }
    const cli_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "sakd: error: no command '%s'; 'sakd --help' lists them\n", argv[1]);
        return SAKD_EXIT_USAGE;
    }
    c->help();
    return SAKD_EXIT_OK;
}

int cli_fail(sakd_status st, const char *what)
{
    const char *detail = sakd_error_detail();
    fprintf(stderr, "sakd: error: %s: %s%s%s\n", what, sakd_strerror(st), *detail ? ": " : "",
            detail);
    /* A bad device string, argument or input file is the caller's to fix: exit 2. */
    return st == SAKD_ERR_NO_DEVICE || st == SAKD_ERR_ARG || st == SAKD_ERR_FORMAT ? SAKD_EXIT_USAGE
                                                                                   : SAKD_EXIT_FAIL;
}

int cli_parse_long(const char *cmd, const char *option, const char *text, long min, long max,
                   long *value)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno == ERANGE || v < min || v > max) {
        fprintf(stderr, "sakd: error: %s: %s wants a whole number from %ld to %ld, not '%s'\n", cmd,
                option, min, max, text);
        return 0;
    }
    *value = v;
    return 1;
}

int cli_parse_u64(const char *cmd, const char *option, const char *text, unsigned long long *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno == ERANGE || text[0] == '-') {
        fprintf(stderr, "sakd: error: %s: %s wants a whole number from 0 to %llu, not '%s'\n", cmd,
                option, ULLONG_MAX, text);
        return 0;
    }
    *value = v;
    return 1;
}

int cli_parse_double(const char *cmd, const char *option, const char *text, double min, double max,
                     double *value)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !(v >= min && v <= max)) {
        fprintf(stderr, "sakd: error: %s: %s wants a number from %g to %g, not '%s'\n", cmd, option,
                min, max, text);
        return 0;
    }
    *value = v;
    return 1;
}

int cli_parse_common(cli_opts *opts, int argc, char **argv, void (*help)(void))
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    int c;
    while ((c = getopt_long(argc, argv, "d:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 'h': help(); return SAKD_EXIT_OK;
        default:
            fprintf(stderr, "sakd: 'sakd %s --help' shows the options\n", argv[0]);
            return SAKD_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sakd: error: %s takes no argument '%s'\n", argv[0], argv[optind]);
        return SAKD_EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'}, {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    cli_opts opts = {0};
    int level = SAKD_LOG_WARN, c;
    while ((c = getopt_long(argc, argv, "+d:qvhV", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts.device = optarg; break;
        case 'q': level = SAKD_LOG_QUIET; break;
        case 'v': level = level < SAKD_LOG_DEBUG ? level + 1 : level; break;
        case 'h': usage(stdout); return SAKD_EXIT_OK;
        case 'V': printf("sakd %s\n", sakd_version()); return SAKD_EXIT_OK;
        default: usage(stderr); return SAKD_EXIT_USAGE;
        }
    }
    sakd_log_set_level((sakd_log_level)level);
    if (optind >= argc) {
        usage(stderr);
        return SAKD_EXIT_USAGE;
    }
    const cli_command *cmd = find_command(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "sakd: error: no command '%s'; 'sakd --help' lists them\n", argv[optind]);
        return SAKD_EXIT_USAGE;
    }
    return cmd->run(&opts, argc - optind, argv + optind);
}
