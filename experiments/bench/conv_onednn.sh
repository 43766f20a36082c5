#!/bin/sh
# conv_onednn.sh — the convolutions of a ResNet-19 step (width 0.25, 28x28, T 4, batch 32) in
# one run: `sakd bench ops` (the host provider's convolutions: SAKD_CONV_PROVIDER=im2col for
# im2col + BLAS, onednn for sakd's oneDNN route) and onednn_conv.c (oneDNN alone, with and
# without the reorders to sakd's layouts). Needs libdnnl-dev; threads as the host provider's.
# usage: experiments/bench/conv_onednn.sh [SAKD_BINARY]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sakd=${1:-$here/../../sakd}
threads=${SAKD_BLAS_THREADS:-$(nproc)}
bin=${TMPDIR:-/tmp}/onednn_conv.$$
trap 'rm -f "$bin"' EXIT
cc -O2 -std=c11 -o "$bin" "$here/onednn_conv.c" -ldnnl
for route in im2col onednn; do
    echo "## sakd bench ops, SAKD_CONV_PROVIDER=$route"
    SAKD_CONV_PROVIDER=$route "$sakd" bench ops --width 0.25 --size 28 | grep -E '^#|^op|^conv2d'
done
echo "## oneDNN alone (onednn_conv.c)"
OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive "$bin" --reps 5
echo "## oneDNN alone, bfloat16 primitives (onednn_conv.c --dt bf16: what mixed precision could gain)"
OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive "$bin" --reps 5 --dt bf16
