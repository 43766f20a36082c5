/* test_rng_host.c — the host generator: Philox4x32-10 known answers (Random123's published
 * vectors), the uniform and normal mappings, and their statistics. */
#include <math.h>

#include "testutil.h"

typedef struct kat {
    uint32_t ctr[4], key[2], out[4];
} kat;

/* Known answers for Philox4x32-10 from the Random123 distribution's kat_vectors. */
static const kat kats[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

START_TEST(test_known_answers)
{
    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        uint32_t out[4];
        sakd_philox4x32_10(kats[i].ctr, kats[i].key, out);
        for (int w = 0; w < 4; w++)
            ck_assert_msg(out[w] == kats[i].out[w], "vector %zu word %d: %08x != %08x", i, w,
                          out[w], kats[i].out[w]);
    }
    /* Block 0 of seed 0 is the all-zero vector. */
    uint32_t out[4];
    sakd_rng_block(0, 0, out);
    ck_assert_uint_eq(out[0], 0x6627e8d5);
    ck_assert_uint_eq(out[3], 0x9b00dbd8);
}
END_TEST

START_TEST(test_uniform_mapping)
{
    /* U(seed, i) is the top 24 bits of word i % 4 of block i / 4, scaled by 2^-24. */
    test_rng r = test_rng_new(11);
    for (int trial = 0; trial < 1000; trial++) {
        uint64_t seed = test_rand_u64(&r), index = test_rand_u64(&r) >> 2;
        uint32_t w[4];
        sakd_rng_block(seed, index >> 2, w);
        double expect = ldexp((double)(w[index & 3] >> 8), -24);
        float u = sakd_rng_uniform(seed, index);
        ck_assert_msg((double)u == expect, "seed %llu index %llu: %.9g != %.9g",
                      (unsigned long long)seed, (unsigned long long)index, u, expect);
        ck_assert(u >= 0.0f && u < 1.0f);
    }
}
END_TEST

START_TEST(test_normal_mapping)
{
    /* N(seed, i): Box-Muller on the word pair of i's half-block, in double for reference. */
    test_rng r = test_rng_new(12);
    for (int trial = 0; trial < 1000; trial++) {
        uint64_t seed = test_rand_u64(&r), index = test_rand_u64(&r) >> 2;
        uint32_t w[4];
        sakd_rng_block(seed, index >> 2, w);
        unsigned p = (unsigned)(index & 2);
        double u1 = ldexp((double)(w[p] >> 8) + 1.0, -24), u2 = ldexp((double)(w[p + 1] >> 8), -24);
        double rad = sqrt(-2.0 * log(u1)), theta = 2.0 * 3.14159265358979323846 * u2;
        double expect = (index & 1) ? rad * sin(theta) : rad * cos(theta);
        float z = sakd_rng_normal(seed, index);
        /* float log/sqrt/cos on arguments rounded to float: a few ulps of r. */
        ck_assert_msg(fabs(z - expect) <= 1e-5 * (1.0 + rad), "index %llu: %.9g vs %.9g",
                      (unsigned long long)index, z, expect);
        ck_assert(isfinite(z));
    }
}
END_TEST

START_TEST(test_statistics)
{
    /* 2^16 draws: means within 6 standard errors, variances within 6 standard errors. */
    const size_t n = 1 << 16;
    uint64_t seed = test_rand_u64(&(test_rng){test_seed()});
    double su = 0, suu = 0, sz = 0, szz = 0;
    for (size_t i = 0; i < n; i++) {
        double u = sakd_rng_uniform(seed, i), z = sakd_rng_normal(seed, i);
        su += u;
        suu += u * u;
        sz += z;
        szz += z * z;
    }
    double mu = su / n, vu = suu / n - mu * mu, mz = sz / n, vz = szz / n - mz * mz;
    ck_assert_msg(fabs(mu - 0.5) < 6 * sqrt(1.0 / 12 / n), "uniform mean %g", mu);
    ck_assert_msg(fabs(vu - 1.0 / 12) < 6 * sqrt(1.0 / 180 / n), "uniform variance %g", vu);
    ck_assert_msg(fabs(mz) < 6 * sqrt(1.0 / n), "normal mean %g", mz);
    ck_assert_msg(fabs(vz - 1.0) < 6 * sqrt(2.0 / n), "normal variance %g", vz);
}
END_TEST

START_TEST(test_seeds_differ)
{
    /* Different seeds give different streams; the same (seed, index) the same value. */
    int same = 0;
    for (uint64_t i = 0; i < 256; i++) {
        same += sakd_rng_uniform(1, i) == sakd_rng_uniform(2, i);
        ck_assert(sakd_rng_uniform(1, i) == sakd_rng_uniform(1, i));
    }
    ck_assert_int_lt(same, 3);
}
END_TEST

Suite *suite_rng_host(void)
{
    Suite *s = suite_create("rng_host");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_known_answers);
    tcase_add_test(tc, test_uniform_mapping);
    tcase_add_test(tc, test_normal_mapping);
    tcase_add_test(tc, test_statistics);
    tcase_add_test(tc, test_seeds_differ);
    suite_add_tcase(s, tc);
    return s;
}
