/* kernels.c — `sakd kernels`: list the built-in kernel programs, print one's source, or build
 * them for the selected device and write offline binaries (for SAKD_CL_BINARY_DIR). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void help_kernels(void)
{
    printf("usage: sakd kernels [--device SPEC]\n"
           "       sakd kernels --source FAMILY\n"
           "       sakd kernels --export DIR [--options OPTS] [FAMILY...]\n\n"
           "Without options, lists the kernel families (cl/<family>.cl) built into sakd.\n"
           "--source prints a family's source with its includes expanded, as it is\n"
           "compiled (options: " SAKD_CL_BASE_OPTIONS " plus the -D options of the caller).\n"
           "--export builds the families (default: all) for the selected device and writes\n"
           "their binaries to DIR under the names SAKD_CL_BINARY_DIR expects:\n"
           "<family>.bin, or <family>-<hash of the options>.bin. Without --options it\n"
           "writes every variant the layers use on this device (e.g. each LIF surrogate\n"
           "and reset mode); with --options OPTS, that option set only.\n");
}

static int is_family(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".cl") == 0;
}

/* The options of sakd kernels. */
typedef struct kernels_opts {
    const char *source, *export_dir, *options;
    int options_given;
} kernels_opts;

/* Parses kernels' options into *o; -1 to go on, else the exit code. */
static int parse_kernels_opts(cli_opts *opts, int argc, char **argv, kernels_opts *o)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'}, {"source", required_argument, NULL, 's'},
        {"export", required_argument, NULL, 'e'}, {"options", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    *o = (kernels_opts){.options = ""};
    int c;
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    while ((c = getopt_long(argc, argv, "d:s:e:o:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 's': o->source = optarg; break;
        case 'e': o->export_dir = optarg; break;
        case 'o':
            o->options = optarg;
            o->options_given = 1;
            break;
        case 'h': help_kernels(); return SAKD_EXIT_OK;
        default: fprintf(stderr, "sakd: 'sakd kernels --help' shows the options\n"); return 2;
        }
    }
    return -1;
}

/* Prints family's source with its includes expanded. */
static int print_source(const char *family)
{
    char *text;
    size_t size;
    sakd_status st = sakd_cl_source(family, &text, &size);
    if (st != SAKD_OK)
        return cli_fail(st, "reading kernel source");
    fwrite(text, 1, size, stdout);
    free(text);
    return SAKD_EXIT_OK;
}

/* Lists the built-in kernel files, families and includes, with their sizes. */
static int list_files(void)
{
    for (size_t i = 0; i < sakd_cl_n_files; i++)
        printf("%-16s %s (%zu bytes)\n", sakd_cl_files[i].name,
               is_family(sakd_cl_files[i].name) ? "family" : "include", sakd_cl_files[i].size);
    return SAKD_EXIT_OK;
}

/* Checks that each of names[0..n) is a built-in family; else says so and returns 0. */
static int known_families(char **names, int n)
{
    for (int a = 0; a < n; a++) {
        char file[300];
        int known = 0;
        snprintf(file, sizeof file, "%s.cl", names[a]);
        for (size_t i = 0; i < sakd_cl_n_files; i++)
            known |= strcmp(sakd_cl_files[i].name, file) == 0;
        if (!known) {
            fprintf(stderr, "sakd: error: no kernel family '%s' ('sakd kernels' lists them)\n",
                    names[a]);
            return 0;
        }
    }
    return 1;
}

/* The variants to export, at most `cap`: with --options, that option set for each family;
 * without, every variant the ops build on ctx's device. */
static size_t variants_to_export(sakd_ctx *ctx, const kernels_opts *o,
                                 sakd_program_variant *variants, size_t cap)
{
    size_t nv = 0;
    if (!o->options_given) {
        nv = sakd_ops_program_variants(ctx, variants, cap);
        return nv > cap ? cap : nv;
    }
    for (size_t i = 0; i < sakd_cl_n_files && nv < cap; i++) {
        if (!is_family(sakd_cl_files[i].name))
            continue;
        snprintf(variants[nv].family, sizeof variants[nv].family, "%.*s",
                 (int)strlen(sakd_cl_files[i].name) - 3, sakd_cl_files[i].name);
        snprintf(variants[nv].options, sizeof variants[nv].options, "%s", o->options);
        nv++;
    }
    return nv;
}

/* Builds variant v for ctx's device and writes its binary into `dir`, as `path`. */
static sakd_status export_variant(sakd_ctx *ctx, const sakd_program_variant *v, const char *dir,
                                  char *path, size_t size)
{
    char *text, label[300], name[300];
    size_t n;
    cl_program program;
    snprintf(label, sizeof label, "%.64s.cl", v->family);
    SAKD_TRY(sakd_cl_source(v->family, &text, &n));
    sakd_status st = sakd_program_build(ctx, label, text, n, v->options, &program, NULL);
    free(text);
    SAKD_TRY(st);
    sakd_program_binary_name(v->family, v->options, name, sizeof name);
    snprintf(path, size, "%s/%s", dir, name);
    st = sakd_program_write_binary(ctx, program, path);
    clReleaseProgram(program);
    return st;
}

/* Builds the families named in names[0..n) (all when n is 0) for the device and writes their
 * binaries into o->export_dir, printing each one's path and options. */
static int export_kernels(cli_opts *opts, const kernels_opts *o, char **names, int n)
{
    if (!known_families(names, n))
        return SAKD_EXIT_USAGE;
    sakd_status st = sakd_mkdir_p(o->export_dir);
    if (st != SAKD_OK)
        return cli_fail(st, "creating the export directory");
    sakd_ctx *ctx;
    st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the OpenCL device");
    sakd_program_variant variants[256];
    size_t nv = variants_to_export(ctx, o, variants, 256);
    int rc = SAKD_EXIT_OK;
    for (size_t v = 0; v < nv && rc == SAKD_EXIT_OK; v++) {
        int wanted = n == 0;
        for (int a = 0; a < n; a++)
            wanted |= strcmp(names[a], variants[v].family) == 0;
        if (!wanted)
            continue;
        char path[PATH_MAX];
        st = export_variant(ctx, &variants[v], o->export_dir, path, sizeof path);
        if (st != SAKD_OK)
            rc = cli_fail(st, "exporting kernels");
        else
            printf("%s  %s\n", path, variants[v].options);
    }
    sakd_ctx_free(ctx);
    return rc;
}

int cmd_kernels(cli_opts *opts, int argc, char **argv)
{
    kernels_opts o;
    int rc = parse_kernels_opts(opts, argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.source)
        return print_source(o.source);
    if (!o.export_dir)
        return list_files();
    return export_kernels(opts, &o, argv + optind, argc - optind);
}
