/* test_model.c — every architecture builds with torchvision parameter names and runs forward
 * (train and eval) and backward at tiny width, as ANN and as SNN with T = 1 and T = 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *models[] = {"resnet19",     "resnet18",      "resnet34",      "resnet50",
                               "resnet101",    "resnet152",     "sew_resnet18",  "sew_resnet34",
                               "sew_resnet50", "sew_resnet101", "sew_resnet152", "vgg11"};
#define N_MODELS (sizeof models / sizeof models[0])

/* Builds, initializes and runs one step; checks logits are finite and every trainable
 * parameter received a finite gradient, and that some gradient is non-zero. */
static void run_model(const char *name, int snn, size_t T, int imagenet, sakd_sew_connect c)
{
    sakd_ctx *ctx = test_ctx();
    sakd_model_desc d;
    sakd_model_desc_default(&d, name);
    d.snn = snn;
    d.T = T;
    d.width = 1.0 / 16; /* 4 channels in the first stage */
    d.batch = 2;
    d.in_channels = 3;
    d.height = d.width_px = imagenet ? 33 : 12;
    d.classes = 5;
    d.stem_imagenet = imagenet;
    d.connect = c;
    sakd_params p;
    sakd_params_init(&p, ctx);
    sakd_model m;
    TEST_OK(sakd_model_build(&m, ctx, &p, &d));
    TEST_OK(sakd_params_allocate(&p));
    TEST_OK(sakd_params_initialize(&p, 7));
    TEST_OK(sakd_graph_allocate(&m.graph));
    sakd_act *in = sakd_graph_act_get(&m.graph, m.input);
    TEST_OK(sakd_rng_uniform_fill(&in->value, test_seed(), 0, -1.0f, 3.0f));
    TEST_OK(sakd_tensor_fill(&p.grads, NAN));
    TEST_OK(sakd_graph_forward(&m.graph, 1));
    sakd_act *lg = sakd_graph_act_get(&m.graph, m.logits);
    ck_assert_uint_eq(lg->shape[0], 2);
    ck_assert_uint_eq(lg->shape[1], 5);
    float logits[10];
    TEST_OK(sakd_tensor_download(&lg->value, logits));
    for (int i = 0; i < 10; i++)
        ck_assert_msg(isfinite(logits[i]), "%s logits[%d] = %g", name, i, logits[i]);
    sakd_tensor seed;
    size_t ls[2] = {2, 5};
    TEST_OK(sakd_tensor_new(&seed, ctx, "dlogits", 2, ls));
    TEST_OK(sakd_rng_uniform_fill(&seed, 3, 0, -1.0f, 1.0f));
    const sakd_tensor *seeds[1] = {&seed};
    TEST_OK(sakd_graph_backward(&m.graph, 1, &m.logits, seeds));
    float *g = malloc(p.n_trainable * sizeof *g);
    TEST_OK(sakd_tensor_download(&p.grads, g));
    size_t nonzero = 0;
    for (size_t i = 0; i < p.n_trainable; i++) {
        ck_assert_msg(isfinite(g[i]), "%s (%s, T %zu): gradient element %zu is %g", name,
                      snn ? "SNN" : "ANN", T, i, g[i]);
        nonzero += g[i] != 0.0f;
    }
    ck_assert_msg(nonzero > 0, "%s: all gradients are zero", name);
    /* Eval mode runs too (running statistics). */
    TEST_OK(sakd_graph_forward(&m.graph, 0));
    /* torchvision names are present. */
    int is_vgg = strcmp(name, "vgg11") == 0, is19 = strcmp(name, "resnet19") == 0;
    ck_assert_int_ge(sakd_params_find(&p, is_vgg ? "features.0.weight" : "conv1.weight"), 0);
    ck_assert_int_ge(sakd_params_find(&p, is_vgg ? "features.1.running_var" : "bn1.running_mean"),
                     0);
    ck_assert_int_ge(sakd_params_find(&p, is19     ? "fc2.bias"
                                          : is_vgg ? "classifier.6.weight"
                                                   : "fc.weight"),
                     0);
    if (!is_vgg) {
        ck_assert_int_ge(sakd_params_find(&p, "layer2.0.downsample.0.weight"), 0);
        ck_assert_int_ge(sakd_params_find(&p, "layer2.0.downsample.1.bias"), 0);
        ck_assert_int_ge(sakd_params_find(&p, "layer1.0.bn2.weight"), 0);
    }
    /* Taps: one per stage, one per block. */
    int ids[SAKD_MODEL_MAX_TAPS];
    size_t stages = sakd_model_taps(&m, 0, SAKD_TAP_AFTER, ids, SAKD_MODEL_MAX_TAPS);
    size_t blocks = sakd_model_taps(&m, 1, SAKD_TAP_BEFORE, ids, SAKD_MODEL_MAX_TAPS);
    ck_assert_uint_eq(stages, is_vgg ? 5 : is19 ? 3 : 4);
    ck_assert_uint_ge(blocks, stages);
    free(g);
    sakd_tensor_free(&seed);
    sakd_model_free(&m);
    sakd_params_free(&p);
}

START_TEST(test_every_model)
{
    /* _i: model index; ANN, SNN T = 1 and SNN T = 2. */
    run_model(models[_i], 0, 1, 0, SAKD_SEW_ADD);
    run_model(models[_i], 1, 1, 0, SAKD_SEW_ADD);
    run_model(models[_i], 1, 2, 0, SAKD_SEW_ADD);
}
END_TEST

START_TEST(test_variants)
{
    run_model("resnet18", 1, 2, 1, SAKD_SEW_ADD); /* imagenet stem */
    run_model("sew_resnet18", 1, 2, 0, SAKD_SEW_AND);
    run_model("sew_resnet18", 1, 2, 0, SAKD_SEW_IAND);
}
END_TEST

START_TEST(test_resnet19_shapes)
{
    /* Full-width ResNet-19 parameter shapes as DESIGN.md §2.4 lists them. */
    sakd_params p;
    sakd_params_init(&p, test_ctx());
    sakd_model_desc d;
    sakd_model_desc_default(&d, "resnet19");
    d.batch = 1;
    sakd_model m;
    TEST_OK(sakd_model_build(&m, test_ctx(), &p, &d));
    struct {
        const char *name;
        size_t shape[4];
    } want[] = {{"conv1.weight", {64, 1, 3, 3}},
                {"layer1.0.conv1.weight", {128, 64, 3, 3}},
                {"layer1.0.downsample.0.weight", {128, 64, 1, 1}},
                {"layer1.2.conv2.weight", {128, 128, 3, 3}},
                {"layer2.0.conv1.weight", {256, 128, 3, 3}},
                {"layer3.1.bn2.running_var", {512}},
                {"fc1.weight", {256, 512}},
                {"fc2.weight", {10, 256}}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        long k = sakd_params_find(&p, want[i].name);
        ck_assert_msg(k >= 0, "%s missing", want[i].name);
        for (int j = 0; j < p.items[k].ndim; j++)
            ck_assert_uint_eq(p.items[k].shape[j], want[i].shape[j]);
    }
    ck_assert_int_lt(sakd_params_find(&p, "layer3.2.conv1.weight"), 0); /* 2 blocks only */
    ck_assert_int_lt(sakd_params_find(&p, "layer4.0.conv1.weight"), 0);
    sakd_model_free(&m);
    sakd_params_free(&p);
    /* An unknown architecture is named in the error. */
    sakd_model_desc_default(&d, "resnet7");
    sakd_params_init(&p, test_ctx());
    ck_assert_int_eq(sakd_model_build(&m, test_ctx(), &p, &d), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "resnet7"));
    sakd_model_free(&m);
    sakd_params_free(&p);
}
END_TEST

/* vgg11 has torchvision's vgg11_bn state dict: exactly these 54 tensors (its 8
 * num_batches_tracked buffers aside, which torch_to_sakd.py skips), in these shapes, for 3
 * channels and 1000 classes at width 1: convs with biases, and the 3-layer classifier after a
 * 7x7 adaptive pool. */
START_TEST(test_vgg11_bn_layout)
{
    sakd_params p;
    sakd_params_init(&p, test_ctx());
    sakd_model_desc d;
    sakd_model_desc_default(&d, "vgg11");
    d.snn = 0;
    d.in_channels = 3;
    d.height = d.width_px = 32;
    d.classes = 1000;
    d.batch = 1;
    sakd_model m;
    TEST_OK(sakd_model_build(&m, test_ctx(), &p, &d));
    static const int conv_at[8] = {0, 4, 8, 11, 15, 18, 22, 25};
    static const size_t conv_out[8] = {64, 128, 256, 256, 512, 512, 512, 512};
    size_t found = 0, cin = 3;
    char name[64];
    for (int i = 0; i < 8; i++) {
        struct {
            const char *suffix;
            int ndim;
            size_t shape[4];
        } t[6] = {{"weight", 4, {conv_out[i], cin, 3, 3}}, {"bias", 1, {conv_out[i]}}};
        static const char *bn_suffix[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int k = 0; k < 6; k++) {
            int bn = k >= 2;
            if (bn) {
                t[k].suffix = bn_suffix[k - 2];
                t[k].ndim = 1;
                t[k].shape[0] = conv_out[i];
            }
            snprintf(name, sizeof name, "features.%d.%s", conv_at[i] + bn, t[k].suffix);
            long at = sakd_params_find(&p, name);
            ck_assert_msg(at >= 0, "vgg11 has no %s", name);
            ck_assert_int_eq(p.items[at].ndim, t[k].ndim);
            for (int j = 0; j < t[k].ndim; j++)
                ck_assert_msg(p.items[at].shape[j] == t[k].shape[j], "%s dim %d is %zu, not %zu",
                              name, j, p.items[at].shape[j], t[k].shape[j]);
            found++;
        }
        cin = conv_out[i];
    }
    static const size_t fc[3][2] = {{4096, 512 * 7 * 7}, {4096, 4096}, {1000, 4096}};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "classifier.%d.weight", 3 * i);
        long w = sakd_params_find(&p, name);
        ck_assert_msg(w >= 0, "vgg11 has no %s", name);
        ck_assert_msg(p.items[w].shape[0] == fc[i][0] && p.items[w].shape[1] == fc[i][1],
                      "%s is [%zu, %zu]", name, p.items[w].shape[0], p.items[w].shape[1]);
        snprintf(name, sizeof name, "classifier.%d.bias", 3 * i);
        long b = sakd_params_find(&p, name);
        ck_assert_msg(b >= 0 && p.items[b].shape[0] == fc[i][0], "%s", name);
        found += 2;
    }
    ck_assert_uint_eq(found, 54);
    ck_assert_uint_eq(p.count, 54);
    sakd_model_free(&m);
    sakd_params_free(&p);
}
END_TEST

/* vgg11's dropout: a train-mode forward is a function of the graph's (seed, step): the same
 * twice, another step another mask; dropout 0 and eval mode ignore the step (test_graph checks
 * the mask against the gradient and over time steps). */
static void vgg_logits(double dropout, int train, uint64_t step, float *out)
{
    sakd_ctx *ctx = test_ctx();
    sakd_model_desc d;
    sakd_model_desc_default(&d, "vgg11");
    d.snn = 0;
    d.width = 1.0 / 16;
    d.batch = 3;
    d.height = d.width_px = 12;
    d.classes = 4;
    d.dropout = dropout;
    sakd_params p;
    sakd_params_init(&p, ctx);
    sakd_model m;
    TEST_OK(sakd_model_build(&m, ctx, &p, &d));
    TEST_OK(sakd_params_allocate(&p));
    TEST_OK(sakd_params_initialize(&p, 11));
    TEST_OK(sakd_graph_allocate(&m.graph));
    sakd_act *in = sakd_graph_act_get(&m.graph, m.input);
    TEST_OK(sakd_rng_uniform_fill(&in->value, 77, 0, -1.0f, 3.0f));
    sakd_graph_set_rng(&m.graph, 5, step);
    TEST_OK(sakd_graph_forward(&m.graph, train));
    TEST_OK(sakd_tensor_download(&sakd_graph_act_get(&m.graph, m.logits)->value, out));
    sakd_model_free(&m);
    sakd_params_free(&p);
}

START_TEST(test_vgg11_dropout)
{
    float a[12], b[12], c[12], e0[12], e1[12], z0[12], z1[12];
    vgg_logits(0.5, 1, 3, a);
    vgg_logits(0.5, 1, 3, b);
    vgg_logits(0.5, 1, 4, c);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "the same step drew different masks");
    ck_assert_msg(memcmp(a, c, sizeof a) != 0, "steps 3 and 4 drew the same masks");
    vgg_logits(0.5, 0, 3, e0);
    vgg_logits(0.9, 0, 4, e1);
    ck_assert_msg(memcmp(e0, e1, sizeof e0) == 0, "dropout acted in eval mode");
    vgg_logits(0.0, 1, 3, z0);
    vgg_logits(0.0, 1, 4, z1);
    ck_assert_msg(memcmp(z0, z1, sizeof z0) == 0, "dropout 0 depends on the step");
    ck_assert_msg(memcmp(a, z0, sizeof a) != 0, "dropout 0.5 dropped nothing");
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, test_every_model, 0, (int)N_MODELS);
    tcase_add_test(tc, test_variants);
    tcase_add_test(tc, test_resnet19_shapes);
    tcase_add_test(tc, test_vgg11_bn_layout);
    tcase_add_test(tc, test_vgg11_dropout);
    suite_add_tcase(s, tc);
    return s;
}
