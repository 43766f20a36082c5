/* batch_file.c — writes a batch file for `sakd trace` (DESIGN.md 3.2) without Python:
 * B samples of C×H×W values uniform in [-1, 2) from a fixed seed, labels 0, 1, … mod CLASSES.
 * usage: batch_file OUT.h5 B C H W CLASSES   (tests/check_oclgrind.sh uses it) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/h5.h"
#include "runtime/status.h"

static size_t arg_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *end || v == 0 ? 0 : (size_t)v;
}

int main(int argc, char **argv)
{
    size_t v[5];
    for (int i = 0; i < 5 && i + 2 < argc; i++)
        v[i] = arg_size(argv[i + 2]);
    if (argc != 7 || !v[0] || !v[1] || !v[2] || !v[3] || !v[4]) {
        fprintf(stderr, "usage: batch_file OUT.h5 B C H W CLASSES (all > 0)\n");
        return 2;
    }
    size_t shape[4] = {v[0], v[1], v[2], v[3]}, n = v[0] * v[1] * v[2] * v[3];
    float *x = malloc(n * sizeof *x);
    int32_t *y = malloc(v[0] * sizeof *y);
    if (!x || !y)
        return 1;
    uint32_t state = 12345u; /* a linear congruential generator: inputs need no quality here */
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        x[i] = -1.0f + 3.0f * (float)(state >> 8) / (float)(1u << 24);
    }
    for (size_t b = 0; b < v[0]; b++)
        y[b] = (int32_t)(b % v[4]);
    sakd_status st = sakd_batch_file_write(argv[1], x, shape, y);
    free(x);
    free(y);
    if (st != SAKD_OK) {
        fprintf(stderr, "batch_file: %s\n", sakd_error_detail());
        return 1;
    }
    return 0;
}
