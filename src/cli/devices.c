/* devices.c — `sakd devices`: every platform and device, the selected one marked. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "ops/gemm.h"

void help_devices(void)
{
    printf("usage: sakd devices [--device SPEC]\n\n"
           "Lists every OpenCL platform and device: name, vendor, type, OpenCL version,\n"
           "driver, compute units, memory, work-group size and fp64 support. The device\n"
           "that --device (or SAKD_DEVICE, or the default) selects is marked with '*', and the\n"
           "GEMM provider it gets is named: the host BLAS on a CPU device that shares host\n"
           "memory (when sakd was built with one), else CLBlast; SAKD_GEMM_PROVIDER=clblast|host\n"
           "or a run's run.gemm_provider key overrides. On the host provider convolutions\n"
           "larger than 1x1 run through oneDNN (when built with it), 1x1 ones as host GEMMs;\n"
           "SAKD_CONV_PROVIDER=im2col|onednn or run.conv_provider overrides.\n");
}

static void print_bytes(const char *label, unsigned long long bytes)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    printf("%s %.1f %s", label, v, unit[u]);
}

int cmd_devices(cli_opts *opts, int argc, char **argv)
{
    int rc = cli_parse_common(opts, argc, argv, help_devices);
    if (rc >= 0)
        return rc;
    sakd_device_info *list;
    size_t count, selected;
    sakd_status st = sakd_device_list(&list, &count);
    if (st != SAKD_OK)
        return cli_fail(st, "listing OpenCL devices");
    const char *spec = opts->device ? opts->device : getenv("SAKD_DEVICE");
    st = sakd_device_select(list, count, spec, &selected);
    if (st != SAKD_OK) {
        sakd_device_list_free(list);
        return cli_fail(st, "selecting a device");
    }
    for (size_t i = 0; i < count; i++) {
        const sakd_device_info *d = &list[i];
        if (i == 0 || d->platform_index != list[i - 1].platform_index)
            printf("Platform %u: %s (%s), %s\n", d->platform_index, d->platform_name,
                   d->platform_vendor, d->platform_version);
        printf("%c %u:%u  %s\n", i == selected ? '*' : ' ', d->platform_index, d->device_index,
               d->name);
        printf("        vendor %s, type %s\n", d->vendor, sakd_device_type_name(d->type));
        printf("        %s, %s, driver %s\n", d->version, d->c_version, d->driver);
        printf("        compute units %u,", d->compute_units);
        print_bytes(" global memory", d->global_mem);
        print_bytes(", local memory", d->local_mem);
        print_bytes(", largest buffer", d->max_alloc);
        printf("\n        max work-group %zu, fp64 %s\n", d->max_work_group,
               d->fp64 ? "yes" : "no");
    }
    printf("(* = selected: %u:%u %s)\n", list[selected].platform_index, list[selected].device_index,
           list[selected].name);
    sakd_device_list_free(list);
    /* The GEMM provider of the selected device, as a run there would choose it. */
    sakd_ctx *ctx;
    st = sakd_ctx_new(&ctx, spec, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the selected device");
    st = sakd_gemm_provider_set(ctx, NULL);
    char desc[512];
    if (st == SAKD_OK)
        sakd_gemm_provider_describe(ctx, desc, sizeof desc);
    sakd_ctx_free(ctx);
    if (st != SAKD_OK)
        return cli_fail(st, "choosing the GEMM provider (SAKD_GEMM_PROVIDER)");
    printf("GEMM provider on the selected device: %s\n", desc);
    return SAKD_EXIT_OK;
}
