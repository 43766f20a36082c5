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

#endif
