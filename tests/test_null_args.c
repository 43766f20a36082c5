/* test_null_args.c — every op launcher refuses a tensor without a buffer (or a NULL tensor)
 * with SAKD_ERR_ARG and runtime/tensor's message naming the tensor (or its role), before
 * launching anything. */
#include <string.h>

#include "testutil.h"

/* A tensor with a shape but no buffer, named "nullbuf". */
static sakd_tensor nullbuf(int ndim, const size_t *shape)
{
    sakd_tensor t;
    memset(&t, 0, sizeof t);
    t.ctx = test_ctx();
    t.ndim = ndim;
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    strcpy(t.name, "nullbuf");
    return t;
}

#define EXPECT_NULL_REFUSED(call)                                                                  \
    do {                                                                                           \
        sakd_error_clear();                                                                        \
        sakd_status st_ = (call);                                                                  \
        ck_assert_msg(st_ == SAKD_ERR_ARG, "%s returned %d", #call, (int)st_);                     \
        ck_assert_msg(strstr(sakd_error_detail(), "'nullbuf' is missing (no buffer)") != NULL ||   \
                          strstr(sakd_error_detail(), "is missing (NULL tensor)") != NULL,         \
                      "%s: detail does not name the tensor: %s", #call, sakd_error_detail());      \
    } while (0)

START_TEST(test_null_buffers)
{
    sakd_ctx *ctx = test_ctx();
    const size_t s4[4] = {4, 3, 5, 5}, s2[2] = {4, 3}, s1[1] = {3}, sw[4] = {2, 3, 3, 3};
    sakd_tensor a, b, c, d, w, v1, v2, v3;
    TEST_OK(sakd_tensor_new(&a, ctx, "a", 4, s4));
    TEST_OK(sakd_tensor_new(&b, ctx, "b", 4, s4));
    TEST_OK(sakd_tensor_new(&c, ctx, "c", 2, s2));
    TEST_OK(sakd_tensor_new(&d, ctx, "d", 2, s2));
    TEST_OK(sakd_tensor_new(&w, ctx, "w", 4, sw));
    TEST_OK(sakd_tensor_new(&v1, ctx, "v1", 1, s1));
    TEST_OK(sakd_tensor_new(&v2, ctx, "v2", 1, s1));
    TEST_OK(sakd_tensor_new(&v3, ctx, "v3", 1, s1));
    sakd_tensor n4 = nullbuf(4, s4), n2 = nullbuf(2, s2), n1 = nullbuf(1, s1);
    size_t one = 1;
    sakd_tensor loss;
    TEST_OK(sakd_tensor_new(&loss, ctx, "loss", 1, &one));

    EXPECT_NULL_REFUSED(sakd_relu_forward(&n4, &a));
    EXPECT_NULL_REFUSED(sakd_relu_forward(&a, &n4));
    EXPECT_NULL_REFUSED(sakd_relu_forward(&a, NULL));
    EXPECT_NULL_REFUSED(sakd_axpby(&a, &n4, 1.0f, 1.0f));
    EXPECT_NULL_REFUSED(sakd_scale(&n4, 2.0f));
    EXPECT_NULL_REFUSED(sakd_rng_uniform_fill(&n4, 1, 0, 0.0f, 1.0f));
    EXPECT_NULL_REFUSED(sakd_rng_normal_fill(NULL, 1, 0, 0.0f, 1.0f));
    EXPECT_NULL_REFUSED(sakd_add_forward(&a, &b, &n4));
    EXPECT_NULL_REFUSED(sakd_sew_forward(&a, &n4, &b, SAKD_SEW_AND));
    EXPECT_NULL_REFUSED(sakd_mean_time_forward(&n2, &c, 2));
    EXPECT_NULL_REFUSED(sakd_repeat_time_forward(&c, &n2, 1));
    EXPECT_NULL_REFUSED(sakd_global_avgpool_forward(&d, &n4));
    EXPECT_NULL_REFUSED(sakd_avgpool_forward(&n4, &a, (sakd_pool2d){1, 1, 0}));
    EXPECT_NULL_REFUSED(sakd_adaptive_avgpool_forward(&n4, &a));
    EXPECT_NULL_REFUSED(sakd_adaptive_avgpool_backward(&a, &n4));
    EXPECT_NULL_REFUSED(sakd_dropout_apply(&n4, &a, 0.5f, 1, 0, 1));
    EXPECT_NULL_REFUSED(sakd_dropout_apply(&a, NULL, 0.5f, 1, 0, 1));

    sakd_lif_params lp = sakd_lif_params_default();
    sakd_lif_cache cache;
    TEST_OK(sakd_lif_cache_new(&cache, ctx, "lif", 4, s4));
    EXPECT_NULL_REFUSED(sakd_lif_forward(&n4, &cache, &a, 2, &lp));
    EXPECT_NULL_REFUSED(sakd_lif_forward(&b, &cache, &n4, 2, &lp));
    sakd_lif_cache_free(&cache);

    sakd_conv2d_params cp = {1, 1, 1, 1};
    size_t so[4] = {4, 2, 5, 5};
    sakd_tensor out, work;
    TEST_OK(sakd_tensor_new(&out, ctx, "out", 4, so));
    size_t nwork = sakd_conv2d_workspace_floats(4, 3, 2, 3, 3, 5, 5);
    TEST_OK(sakd_tensor_new(&work, ctx, "work", 1, &nwork));
    sakd_tensor nw = nullbuf(4, sw);
    EXPECT_NULL_REFUSED(sakd_conv2d_forward(&out, &work, &n4, &w, NULL, &cp));
    EXPECT_NULL_REFUSED(sakd_conv2d_forward(&out, &work, &a, &nw, NULL, &cp));

    EXPECT_NULL_REFUSED(sakd_linear_forward(&d, &n2, &c, NULL));
    EXPECT_NULL_REFUSED(sakd_batchnorm_forward(&b, &v1, &v2, &v3, &n1, &a, &v1, &v2, 1,
                                               SAKD_BN_MOMENTUM, SAKD_BN_EPS));
    EXPECT_NULL_REFUSED(sakd_batchnorm_forward(&b, &v1, &v2, &v3, &v3, &n4, &v1, &v2, 1,
                                               SAKD_BN_MOMENTUM, SAKD_BN_EPS));
    EXPECT_NULL_REFUSED(sakd_mse_forward(&loss, &n4, &a));
    EXPECT_NULL_REFUSED(sakd_l1_forward(&loss, &a, &n4));
    EXPECT_NULL_REFUSED(sakd_softmax_kl_forward(&loss, &n2, &c, 1.0f));
    EXPECT_NULL_REFUSED(sakd_feat_norm_forward(&n4, &v1, &v2, &a));
    EXPECT_NULL_REFUSED(sakd_sgd_step(&n1, &v2, &v3, 0.1f, 0.9f, 0.0f, 0));
    EXPECT_NULL_REFUSED(sakd_adamw_step(&v1, &v2, &v3, &n1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
    EXPECT_NULL_REFUSED(sakd_grad_norm(&loss, &n1));

    sakd_tensor *all[] = {&a, &b, &c, &d, &w, &v1, &v2, &v3, &loss, &out, &work};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sakd_tensor_free(all[i]);
}
END_TEST

Suite *suite_null_args(void)
{
    Suite *s = suite_create("null_args");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_null_buffers);
    suite_add_tcase(s, tc);
    return s;
}
