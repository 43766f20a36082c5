/* workload.c — the training step that `sakd bench train` times and `sakd tune` tunes for: a
 * trainer for a config in ANN, SNN or SAKD mode on generated data of the dataset's shape, the
 * SAKD teacher a randomly initialized ANN of the same config saved to a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "train/train.h"

const char *cli_workload_mode_str(cli_workload_mode m)
{
    switch (m) {
    case CLI_WORKLOAD_ANN: return "ann";
    case CLI_WORKLOAD_SNN: return "snn";
    case CLI_WORKLOAD_SAKD: return "sakd";
    }
    return "?";
}

sakd_status cli_workload_parse_mode(const char *s, cli_workload_mode *m)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, cli_workload_mode_str((cli_workload_mode)i)) == 0) {
            *m = (cli_workload_mode)i;
            return SAKD_OK;
        }
    return sakd_error(SAKD_ERR_ARG, "mode '%s' is not one of ann, snn, sakd", s);
}

static sakd_status set(sakd_config *c, const char *fmt, const char *value)
{
    char assign[4400];
    snprintf(assign, sizeof assign, fmt, value);
    return sakd_config_override(c, assign, "benchmark");
}

sakd_status cli_workload_config(sakd_config *c, int argc, char **argv, const char *const *fallback,
                                const cli_opts *opts)
{
    SAKD_TRY(sakd_config_init(c));
    int first = 0;
    if (argc > 0 && !strchr(argv[0], '=')) {
        SAKD_TRY(sakd_config_load_file(c, argv[0]));
        first = 1;
    } else {
        for (size_t i = 0; fallback && fallback[i]; i++)
            SAKD_TRY(sakd_config_override(c, fallback[i], "default of this command"));
    }
    for (int i = first; i < argc; i++)
        SAKD_TRY(sakd_config_override(c, argv[i], "command line"));
    if (opts->device)
        SAKD_TRY(set(c, "run.device=%s", opts->device));
    return SAKD_OK;
}

static sakd_status synthetic(const sakd_config *c, size_t size, size_t steps, sakd_dataset *train,
                             sakd_dataset *test)
{
    int cifar = c->data.dataset == SAKD_DATASET_CIFAR10 || c->data.dataset == SAKD_DATASET_CIFAR100;
    size_t channels = cifar ? 3 : 1, classes = c->data.dataset == SAKD_DATASET_CIFAR100 ? 100 : 10;
    if (!size)
        size = cifar ? 32 : 28;
    size_t b = (size_t)c->train.batch;
    return sakd_dataset_synthetic_split(train, test, b * (steps ? steps : 1), b, channels, size,
                                        size, classes, c->train.seed);
}

void cli_workload_free(cli_workload *w)
{
    sakd_trainer_free(w->trainer);
    if (w->teacher_path[0])
        unlink(w->teacher_path);
    if (w->teacher_dir[0])
        rmdir(w->teacher_dir);
    memset(w, 0, sizeof *w);
}

sakd_status cli_workload_new(cli_workload *w, const sakd_config *base, cli_workload_mode mode,
                             size_t size, size_t steps)
{
    memset(w, 0, sizeof *w);
    sakd_config c;
    SAKD_TRY(sakd_config_copy(&c, base));
    sakd_status st = set(&c, "model.arch=%s", mode == CLI_WORKLOAD_ANN ? "ann" : "snn");
    if (st == SAKD_OK)
        st = set(&c, "train.resume=%s", "");
    if (st == SAKD_OK && mode != CLI_WORKLOAD_SAKD) {
        st = set(&c, "distill.teacher=%s", "");
        if (st == SAKD_OK)
            st = set(&c, "distill.init_from_teacher=%s", "false");
    }
    if (st == SAKD_OK && mode == CLI_WORKLOAD_SAKD) {
        /* The teacher: the same config as an ANN, randomly initialized, saved. */
        const char *tmp = getenv("TMPDIR");
        snprintf(w->teacher_dir, sizeof w->teacher_dir, "%s/sakd-bench-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(w->teacher_dir)) {
            w->teacher_dir[0] = '\0';
            st = sakd_error(SAKD_ERR_IO, "cannot create a temporary directory for the teacher");
        }
        sakd_config tc;
        if (st == SAKD_OK)
            st = sakd_config_copy(&tc, &c);
        if (st == SAKD_OK) {
            st = set(&tc, "model.arch=%s", "ann");
            if (st == SAKD_OK)
                st = set(&tc, "distill.teacher=%s", "");
            if (st == SAKD_OK)
                st = set(&tc, "distill.init_from_teacher=%s", "false");
            sakd_dataset tr, te;
            sakd_trainer *teacher = NULL;
            if (st == SAKD_OK)
                st = synthetic(&tc, size, 1, &tr, &te);
            if (st == SAKD_OK)
                st = sakd_trainer_new(&teacher, &tc, NULL, &tr, &te, NULL);
            snprintf(w->teacher_path, sizeof w->teacher_path, "%s/teacher.h5", w->teacher_dir);
            if (st == SAKD_OK)
                st = sakd_trainer_save(teacher, w->teacher_path);
            sakd_trainer_free(teacher);
            sakd_config_free(&tc);
        }
        if (st == SAKD_OK)
            st = set(&c, "distill.teacher=%s", w->teacher_path);
        if (st == SAKD_OK)
            st = set(&c, "distill.init_from_teacher=%s", "true");
    }
    sakd_dataset tr, te;
    if (st == SAKD_OK)
        st = synthetic(&c, size, steps, &tr, &te);
    if (st == SAKD_OK)
        st = sakd_trainer_new(&w->trainer, &c, NULL, &tr, &te, NULL);
    sakd_config_free(&c);
    if (st != SAKD_OK)
        cli_workload_free(w);
    return st;
}
