/* bn_host.h — batch normalization on the host provider (ops/host.h): the contract of
 * sakd_batchnorm_forward / _backward (bn.h), sizes already checked. */
#ifndef SAKD_OPS_BN_HOST_H
#define SAKD_OPS_BN_HOST_H

#include "ops/bn.h"

sakd_status sakd_batchnorm_host_forward(sakd_tensor *out, sakd_tensor *save_mean,
                                        sakd_tensor *save_invstd, sakd_tensor *running_mean,
                                        sakd_tensor *running_var, const sakd_tensor *in,
                                        const sakd_tensor *gamma, const sakd_tensor *beta,
                                        int train, float momentum, float eps, size_t n, size_t c,
                                        size_t p);

sakd_status sakd_batchnorm_host_backward(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                         sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                         const sakd_tensor *save_invstd,
                                         const sakd_tensor *grad_out, const sakd_tensor *in,
                                         const sakd_tensor *gamma, int train, size_t n, size_t c,
                                         size_t p);

/* Synchronized statistics (bn.c): this rank's mean and Σ(x − mean)² per channel, in double. */
sakd_status sakd_batchnorm_host_local_stats(const sakd_tensor *in, double *mean, double *sqdev,
                                            size_t n, size_t c, size_t p);

/* y = (x − save_mean)·save_invstd·gamma + beta with the statistics as given. */
sakd_status sakd_batchnorm_host_normalize(sakd_tensor *out, const sakd_tensor *save_mean,
                                          const sakd_tensor *save_invstd, const sakd_tensor *in,
                                          const sakd_tensor *gamma, const sakd_tensor *beta,
                                          size_t n, size_t c, size_t p);

/* grad_in = gamma·invstd·(gy − sum_gb·inv_m − x̂·sum_gg·inv_m) with the sums as given (host
 * arrays [C], over every rank's batch). */
sakd_status sakd_batchnorm_host_grad_in(sakd_tensor *grad_in, const float *sum_gg,
                                        const float *sum_gb, const sakd_tensor *save_mean,
                                        const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                        const sakd_tensor *in, const sakd_tensor *gamma,
                                        float inv_m, size_t n, size_t c, size_t p);

#endif
