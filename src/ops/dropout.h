/* dropout.h — inverted dropout with counter-based masks: nothing is stored between the forward
 * and the backward pass, which regenerates the mask from (seed, base). */
#ifndef SAKD_OPS_DROPOUT_H
#define SAKD_OPS_DROPOUT_H

#include <stdint.h>

#include "runtime/tensor.h"

/* y = x · mask / (1 − p), mask[i] = [U(seed, base + i mod period) ≥ p] with U the uniform of
 * runtime/rng.h (exactly as sakd_rng_uniform computes it on the host). period divides the
 * element count: the elements of one time step of a time-major [T·B, …] tensor, so that the
 * same neurons are dropped at every step, or all of them. The backward pass is the same call on
 * the gradients (gx from gy with the forward's seed, base and period). y may be x; 0 ≤ p < 1
 * (p = 0 copies). */
sakd_status sakd_dropout_apply(sakd_tensor *y, const sakd_tensor *x, float p, uint64_t seed,
                               uint64_t base, size_t period);

#endif
