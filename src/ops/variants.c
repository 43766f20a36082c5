/* variants.c — enumerates the kernel programs the ops build, so that all can be exported. */
#include "ops/variants.h"

#include <stdio.h>
#include <string.h>

#include "ops/lif.h"
#include "ops/reduce.h"
#include "runtime/program.h"

static void add(sakd_program_variant *out, size_t max, size_t *n, const char *family,
                const char *options)
{
    if (*n < max) {
        snprintf(out[*n].family, sizeof out[*n].family, "%s", family);
        snprintf(out[*n].options, sizeof out[*n].options, "%s", options);
    }
    (*n)++;
}

size_t sakd_ops_program_variants(const sakd_ctx *ctx, sakd_program_variant *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sakd_cl_n_files; i++) {
        const char *name = sakd_cl_files[i].name;
        size_t len = strlen(name);
        if (len <= 3 || strcmp(name + len - 3, ".cl") != 0)
            continue; /* an include, not a family */
        char family[64];
        snprintf(family, sizeof family, "%.*s", (int)(len - 3), name);
        add(out, max, &n, family, "");
    }
    sakd_lif_params p = sakd_lif_params_default();
    const sakd_surrogate surrogates[] = {SAKD_SURROGATE_TRIANGLE, SAKD_SURROGATE_SIGMOID,
                                         SAKD_SURROGATE_ATAN};
    for (int s = 0; s < 3; s++)
        for (int soft = 0; soft < 2; soft++)
            for (int detach = 0; detach < 2; detach++) {
                char opts[96];
                p.surrogate = surrogates[s];
                p.reset = soft ? SAKD_LIF_RESET_SOFT : SAKD_LIF_RESET_HARD;
                p.detach_reset = detach;
                sakd_lif_program_options(&p, 0, opts, sizeof opts);
                add(out, max, &n, "lif", opts);
            }
    /* The default neuron unrolled for the usual T (other T and neurons use the program for any
     * T when they run from these binaries). */
    static const size_t unrolled_T[] = {1, 2, 4, 6, 8};
    p = sakd_lif_params_default();
    for (size_t i = 0; i < sizeof unrolled_T / sizeof unrolled_T[0]; i++) {
        char opts[96];
        sakd_lif_program_options(&p, unrolled_T[i], opts, sizeof opts);
        add(out, max, &n, "lif", opts);
    }
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    add(out, max, &n, "conv", ro.options);
    add(out, max, &n, "bn", ro.options);
    return n;
}
