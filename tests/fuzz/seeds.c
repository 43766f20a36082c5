/* seeds.c — writes the binary seeds of the fuzz corpus (a checkpoint and a batch file) with
 * sakd's own writers: `gcc -Isrc -I. tests/fuzz/seeds.c src/.libs/libsakd.so -o /tmp/seeds &&
 * /tmp/seeds tests/fuzz/corpus` (the text and dataset seeds are written by hand). */
#include <stdio.h>
#include <string.h>

#include "sakd.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    char path[4096];
    float w[2 * 3 * 3 * 3], b[2], m[2 * 3 * 3 * 3];
    for (int i = 0; i < 54; i++) {
        w[i] = (float)(i % 5) - 2.0f;
        m[i] = 0.01f * (float)i;
    }
    b[0] = 0.5f;
    b[1] = -0.5f;
    sakd_ckpt_tensor model[2] = {{"conv1.weight", 4, {2, 3, 3, 3}, w}, {"fc.bias", 1, {2}, b}};
    sakd_ckpt_tensor optim[1] = {{"conv1.weight/momentum", 4, {2, 3, 3, 3}, m}};
    sakd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.config = "[model]\nname = resnet18\nwidth = 0.125\nT = 2\n";
    snprintf(meta.arch, sizeof meta.arch, "snn");
    snprintf(meta.model, sizeof meta.model, "resnet18");
    snprintf(meta.optimizer, sizeof meta.optimizer, "sgd");
    meta.width = 0.125;
    meta.T = 2;
    meta.classes = 2;
    meta.epoch = 1;
    snprintf(path, sizeof path, "%s/checkpoint/tiny.h5", argv[1]);
    if (sakd_checkpoint_write(path, model, 2, optim, 1, &meta) != SAKD_OK)
        return fprintf(stderr, "%s\n", sakd_error_detail()), 1;
    snprintf(path, sizeof path, "%s/checkpoint/model-only.h5", argv[1]);
    if (sakd_checkpoint_write(path, model + 1, 1, NULL, 0, NULL) != SAKD_OK)
        return fprintf(stderr, "%s\n", sakd_error_detail()), 1;
    float x[2 * 1 * 4 * 4];
    for (int i = 0; i < 32; i++)
        x[i] = (float)i / 32.0f;
    int32_t y[2] = {3, 9};
    snprintf(path, sizeof path, "%s/batch/b2.h5", argv[1]);
    if (sakd_batch_file_write(path, x, (size_t[]){2, 1, 4, 4}, y) != SAKD_OK)
        return fprintf(stderr, "%s\n", sakd_error_detail()), 1;
    return 0;
}
