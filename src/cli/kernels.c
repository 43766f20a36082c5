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

int cmd_kernels(cli_opts *opts, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'}, {"source", required_argument, NULL, 's'},
        {"export", required_argument, NULL, 'e'}, {"options", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *source = NULL, *export_dir = NULL, *options = "";
    int c, options_given = 0;
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    while ((c = getopt_long(argc, argv, "d:s:e:o:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 's': source = optarg; break;
        case 'e': export_dir = optarg; break;
        case 'o':
            options = optarg;
            options_given = 1;
            break;
        case 'h': help_kernels(); return SAKD_EXIT_OK;
        default: fprintf(stderr, "sakd: 'sakd kernels --help' shows the options\n"); return 2;
        }
    }
    if (source) {
        char *text;
        size_t size;
        sakd_status st = sakd_cl_source(source, &text, &size);
        if (st != SAKD_OK)
            return cli_fail(st, "reading kernel source");
        fwrite(text, 1, size, stdout);
        free(text);
        return SAKD_EXIT_OK;
    }
    if (!export_dir) {
        for (size_t i = 0; i < sakd_cl_n_files; i++)
            printf("%-16s %s (%zu bytes)\n", sakd_cl_files[i].name,
                   is_family(sakd_cl_files[i].name) ? "family" : "include", sakd_cl_files[i].size);
        return SAKD_EXIT_OK;
    }
    for (int a = optind; a < argc; a++) {
        char file[300];
        int known = 0;
        snprintf(file, sizeof file, "%s.cl", argv[a]);
        for (size_t i = 0; i < sakd_cl_n_files; i++)
            known |= strcmp(sakd_cl_files[i].name, file) == 0;
        if (!known) {
            fprintf(stderr, "sakd: error: no kernel family '%s' ('sakd kernels' lists them)\n",
                    argv[a]);
            return SAKD_EXIT_USAGE;
        }
    }
    sakd_status st = sakd_mkdir_p(export_dir);
    if (st != SAKD_OK)
        return cli_fail(st, "creating the export directory");
    sakd_ctx *ctx;
    st = sakd_ctx_new(&ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the OpenCL device");
    /* Without --options: every variant the ops build on this device; with it: that option
     * set for each family. */
    sakd_program_variant variants[256];
    size_t nv = 0;
    if (options_given) {
        for (size_t i = 0; i < sakd_cl_n_files && nv < 256; i++) {
            if (!is_family(sakd_cl_files[i].name))
                continue;
            snprintf(variants[nv].family, sizeof variants[nv].family, "%.*s",
                     (int)strlen(sakd_cl_files[i].name) - 3, sakd_cl_files[i].name);
            snprintf(variants[nv].options, sizeof variants[nv].options, "%s", options);
            nv++;
        }
    } else {
        nv = sakd_ops_program_variants(ctx, variants, 256);
        if (nv > 256)
            nv = 256;
    }
    int rc = SAKD_EXIT_OK;
    for (size_t v = 0; v < nv && rc == SAKD_EXIT_OK; v++) {
        const char *family = variants[v].family;
        int wanted = optind >= argc;
        for (int a = optind; a < argc; a++)
            wanted |= strcmp(argv[a], family) == 0;
        if (!wanted)
            continue;
        char *text, label[300], name[300], path[PATH_MAX];
        size_t size;
        cl_program program;
        snprintf(label, sizeof label, "%.64s.cl", family);
        st = sakd_cl_source(family, &text, &size);
        if (st == SAKD_OK) {
            st = sakd_program_build(ctx, label, text, size, variants[v].options, &program, NULL);
            free(text);
        }
        if (st == SAKD_OK) {
            sakd_program_binary_name(family, variants[v].options, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", export_dir, name);
            st = sakd_program_write_binary(ctx, program, path);
            clReleaseProgram(program);
        }
        if (st != SAKD_OK)
            rc = cli_fail(st, "exporting kernels");
        else
            printf("%s  %s\n", path, variants[v].options);
    }
    sakd_ctx_free(ctx);
    return rc;
}
