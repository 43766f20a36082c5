#!/bin/sh
# layout_ab.sh — the training step with every activation plain (SAKD_LAYOUT=plain) against the
# host provider's layout plan (channel-blocked activations between oneDNN convolutions, the
# default), in alternating rounds on one core, one thread, as a sweep's runs train.
# usage: experiments/bench/layout_ab.sh [ROUNDS] [sakd bench train arguments...]
#   default: 3 rounds of model.width=0.125 train.batch=64 --modes snn,sakd --reps 5 --warmup 2
# SAKD selects the binary (default ./sakd); PAUSE_PATTERN, when set, stops the processes whose
# command line matches it (pgrep -f) for the duration (e.g. a sweep's runs: 'sakd train results/')
# and continues them at the end, so that the rounds run on a quiet machine.
set -u
sakd=${SAKD:-./sakd}
rounds=${1:-3}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- model.width=0.125 train.batch=64 --modes snn,sakd --reps 5 --warmup 2
export SAKD_BLAS_THREADS=1 POCL_MAX_PTHREAD_COUNT=1 OMP_NUM_THREADS=1
paused=
if [ -n "${PAUSE_PATTERN:-}" ]; then
    paused=$(pgrep -f "$PAUSE_PATTERN" | tr '\n' ' ')
    [ -n "$paused" ] && kill -STOP $paused
    trap '[ -n "$paused" ] && kill -CONT $paused' EXIT INT TERM
fi
r=1
while [ "$r" -le "$rounds" ]; do
    for layout in plain auto; do
        echo "== round $r SAKD_LAYOUT=$layout"
        SAKD_LAYOUT=$layout taskset -c 1 "$sakd" bench train "$@" --kernels 12 |
            grep -E '^(mode|snn |sakd |ann |family|gemm |bn |lif |other |conv2d_onednn|layout_convert)'
    done
    r=$((r + 1))
done
