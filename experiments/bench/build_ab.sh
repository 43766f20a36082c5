#!/bin/sh
# build_ab.sh — the training step of two sakd builds in alternating rounds on one core, one
# thread, as a sweep's runs train: the way a change to the step is measured (the ratio B/A per
# round; the VM's noise is in the rounds, not between the two builds of one round).
# usage: experiments/bench/build_ab.sh SAKD_A SAKD_B [ROUNDS] [sakd bench train arguments...]
#   default: 3 rounds of model.width=0.125 train.batch=64 --modes snn,sakd --reps 5 --warmup 2
# SAKD_A, SAKD_B: the two commands that run sakd (an installed earlier build and ./sakd, say;
# split at spaces, so "env SAKD_LAYOUT=plain ./sakd" compares two settings of one build).
# PAUSE_PATTERN, when set, stops the processes whose command line matches it (pgrep -f) for the
# duration (e.g. a sweep's runs: 'sakd train results/') and continues them at the end.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 SAKD_A SAKD_B [ROUNDS] [sakd bench train arguments...]" >&2
    exit 2
fi
a=$1
b=$2
shift 2
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
    for which in A B; do
        bin=$a
        [ "$which" = B ] && bin=$b
        echo "== round $r build $which ($bin)"
        # shellcheck disable=SC2086 # the command's words
        taskset -c 1 $bin bench train "$@" --kernels 14 |
            grep -E '^(mode|snn |sakd |ann |family|gemm |im2col|bn |lif |other |conv2d_|layout_convert|add_)'
    done
    r=$((r + 1))
done
