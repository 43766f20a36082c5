/* rng.c — host side of the counter-based generator (Random123's Philox) and device fills. */
#include "runtime/rng.h"

#include <math.h>

#include <Random123/philox.h>

#include "runtime/program.h"

void sakd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    philox4x32_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32_R(10, c, k);
    for (int i = 0; i < 4; i++)
        out[i] = r.v[i];
}

void sakd_rng_block(uint64_t seed, uint64_t block, uint32_t out[4])
{
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    sakd_philox4x32_10(ctr, key, out);
}

float sakd_rng_uniform(uint64_t seed, uint64_t index)
{
    uint32_t w[4];
    sakd_rng_block(seed, index >> 2, w);
    return (float)(w[index & 3] >> 8) * 0x1.0p-24f;
}

float sakd_rng_normal(uint64_t seed, uint64_t index)
{
    uint32_t w[4];
    sakd_rng_block(seed, index >> 2, w);
    unsigned pair = (unsigned)(index & 2);
    float u1 = (float)((w[pair] >> 8) + 1u) * 0x1.0p-24f;
    float u2 = (float)(w[pair + 1] >> 8) * 0x1.0p-24f;
    float r = sqrtf(-2.0f * logf(u1));
    float theta = 6.28318530717958647692f * u2;
    return (index & 1) ? r * sinf(theta) : r * cosf(theta);
}

static sakd_status fill(sakd_tensor *t, const char *kernel_name, uint64_t seed, uint64_t base,
                        float a, float b)
{
    SAKD_TRY(sakd_tensor_require(kernel_name, "output", t));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(t->ctx, "random", NULL, kernel_name, &k));
    cl_ulong off = t->offset, n = sakd_tensor_numel(t);
    return SAKD_LAUNCH_1D(t->ctx, k, (size_t)n, SAKD_ARG(t->buf), SAKD_ARG(off), SAKD_ARG(n),
                          SAKD_ULONG(seed), SAKD_ULONG(base), SAKD_ARG(a), SAKD_ARG(b));
}

sakd_status sakd_rng_uniform_fill(sakd_tensor *t, uint64_t seed, uint64_t base, float lo, float hi)
{
    return fill(t, "uniform_fill", seed, base, lo, hi);
}

sakd_status sakd_rng_normal_fill(sakd_tensor *t, uint64_t seed, uint64_t base, float mean,
                                 float std)
{
    return fill(t, "normal_fill", seed, base, mean, std);
}
