/* rng.h — counter-based random numbers (Philox4x32-10) that agree between host and kernels
 * for the same (seed, index). */
#ifndef SAKD_RUNTIME_RNG_H
#define SAKD_RUNTIME_RNG_H

#include <stdint.h>

#include "runtime/tensor.h"

/* Raw Philox4x32-10 of a 4-word counter and a 2-word key (Random123). */
void sakd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The four Philox4x32-10 words of one block: key = seed, counter = (block, 0). */
void sakd_rng_block(uint64_t seed, uint64_t block, uint32_t out[4]);

/* Uniform in [0, 1): exactly the value the kernels produce. */
float sakd_rng_uniform(uint64_t seed, uint64_t index);

/* Standard normal (Box-Muller). The kernels use the device's float log,
 * sqrt, sin and cos, so values agree to a few ulps, not bit for bit. */
float sakd_rng_normal(uint64_t seed, uint64_t index);

/* t[i] = lo + (hi - lo) * U(seed, base + i), on the device. */
sakd_status sakd_rng_uniform_fill(sakd_tensor *t, uint64_t seed, uint64_t base, float lo, float hi);

/* t[i] = mean + std * N(seed, base + i), on the device. */
sakd_status sakd_rng_normal_fill(sakd_tensor *t, uint64_t seed, uint64_t base, float mean,
                                 float std);

#endif
