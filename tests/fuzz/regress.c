/* regress.c — the fuzz regression runner under make check: feeds every file of
 * tests/fuzz/corpus/<target>/ and tests/fuzz/crashes/<target>/ through the same entry points
 * as the fuzzers (built with the ordinary compiler, no clang needed). A crash or abort fails
 * the test; so does an empty corpus. SAKD_FUZZ_DIR names tests/fuzz. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_targets.h"

static int feed_dir(const sakd_fuzz_target *t, const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no crash directory yet */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", path);
            closedir(d);
            return -1;
        }
        size_t cap = 1 << 16, n = 0;
        unsigned char *buf = malloc(cap);
        size_t r;
        while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
            n += r;
            if (n == cap) {
                unsigned char *g = realloc(buf, cap *= 2);
                if (!g) {
                    free(buf);
                    buf = NULL;
                }
                buf = g;
            }
        }
        fclose(f);
        if (!buf) {
            closedir(d);
            return -1;
        }
        fprintf(stderr, "%s: %s (%zu bytes)\n", t->name, path, n);
        t->run(buf, n);
        free(buf);
        (*count)++;
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    const char *root = getenv("SAKD_FUZZ_DIR");
    if (!root)
        root = "tests/fuzz";
    int failed = 0;
    for (size_t i = 0; i < sakd_fuzz_n_targets; i++) {
        const sakd_fuzz_target *t = &sakd_fuzz_targets[i];
        if (argc > 1 && strcmp(argv[1], t->name) != 0)
            continue;
        size_t corpus = 0, crashes = 0;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/corpus/%s", root, t->name);
        failed |= feed_dir(t, dir, &corpus) != 0;
        snprintf(dir, sizeof dir, "%s/crashes/%s", root, t->name);
        failed |= feed_dir(t, dir, &crashes) != 0;
        printf("%-10s %zu corpus inputs, %zu regression inputs\n", t->name, corpus, crashes);
        if (corpus == 0) {
            fprintf(stderr, "no corpus for %s in %s/corpus/%s\n", t->name, root, t->name);
            failed = 1;
        }
    }
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sakd_fuzz_scratch());
    if (system(cmd) != 0)
        failed = 1;
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
