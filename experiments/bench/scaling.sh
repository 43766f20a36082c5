#!/bin/sh
# scaling.sh — the training-step scaling table of results/bench: `sakd bench train` over time
# steps T (batch 32) and batch sizes (T 4) for resnet19 width 0.25 on 28x28 input, one row per
# point appended to results/bench/<device>.csv.
# usage: experiments/bench/scaling.sh [MODES] [T list] [batch list]   (defaults: snn, 1 2 4 8, 8 32 128)
set -eu
SAKD=${SAKD:-./sakd}
modes=${1:-snn}
tlist=${2:-1 2 4 8}
blist=${3:-8 32 128}
for T in $tlist; do
    $SAKD bench train model.T="$T" train.batch=32 --modes "$modes" --reps 2 --warmup 1 --results |
        grep -E '^(ann|snn|sakd) ' | sed "s/^/T=$T batch=32 /"
done
for B in $blist; do
    [ "$B" = 32 ] && continue # the T = 4, batch 32 point is in the first loop
    $SAKD bench train model.T=4 train.batch="$B" --modes "$modes" --reps 2 --warmup 1 --results |
        grep -E '^(ann|snn|sakd) ' | sed "s/^/T=4 batch=$B /"
done
