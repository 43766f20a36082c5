#!/bin/sh
# mpi_ranks.sh — data-parallel training over MPI ranks against one process on the same cores
# (results/bench/NOTES.md): the headline SNN (resnet19 width 0.125, T 4, batch 64, Fashion-MNIST)
# trained for one epoch over `images` training images, as
#   1 process, 1 thread;  1 process, all threads (sakd's default);  N ranks of 1 thread each
#   (mpirun --bind-to core), BN per rank and with train.sync_bn;  N independent runs of 1 thread
#   each at once, one per core (what `sakd sweep -j N` does with a sweep's runs)
# and the training images/s each reports (the last row: their sum). Run it on a quiet machine (nothing else running).
# usage: [SAKD=./sakd] experiments/bench/mpi_ranks.sh [N] [images]   (defaults: 2, 5120)
set -eu
SAKD=${SAKD:-./sakd}
n=${1:-2}
images=${2:-5120}
work=$(mktemp -d "${TMPDIR:-/tmp}/sakd-mpi-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=
[ "$(id -u)" = 0 ] && root=--allow-run-as-root
set -- model.name=resnet19 model.arch=snn model.width=0.125 model.T=4 train.batch=64 \
    train.epochs=1 data.train_limit="$images" data.test_limit=256 train.optimizer=adamw \
    train.lr=0.001 train.weight_decay=0.01
speed() { sed -n 's/^  throughput *\([0-9.]*\) images\/s.*/\1/p' "$1"; }
cores=$(nproc)
# A short run first builds the kernels into the compile cache, so that no timed run pays for it.
"$SAKD" train /dev/null run.out="$work/warm" "$@" data.train_limit=128 > /dev/null
# One thread: the host BLAS, PoCL and oneDNN's OpenMP each told so.
export SAKD_BLAS_THREADS=1 POCL_MAX_PTHREAD_COUNT=1 OMP_NUM_THREADS=1
"$SAKD" train /dev/null run.out="$work/one1" "$@" > "$work/one1.log"
# N threads: sakd's own choice (all cores), as a user's run has it.
env -u SAKD_BLAS_THREADS -u POCL_MAX_PTHREAD_COUNT -u OMP_NUM_THREADS \
    "$SAKD" train /dev/null run.out="$work/oneN" "$@" > "$work/oneN.log"
export SAKD_BLAS_THREADS=1 POCL_MAX_PTHREAD_COUNT=1 OMP_NUM_THREADS=1
ranks() {
    mpirun $root --bind-to core -np "$n" -x SAKD_BLAS_THREADS -x POCL_MAX_PTHREAD_COUNT \
        -x OMP_NUM_THREADS "$SAKD" train /dev/null "$@"
}
ranks run.out="$work/ranks" "$@" > "$work/ranks.log"
ranks run.out="$work/sync" "$@" train.sync_bn=true > "$work/sync.log"
i=0
while [ "$i" -lt "$n" ]; do
    taskset -c "$((i % cores))" "$SAKD" train /dev/null run.out="$work/alone$i" "$@" \
        train.seed="$((i + 1))" > "$work/alone$i.log" &
    i=$((i + 1))
done
wait
e=0
i=0
while [ "$i" -lt "$n" ]; do
    v=$(speed "$work/alone$i.log")
    [ -n "$v" ] || { echo "mpi_ranks.sh: run $i of $n failed:" >&2; tail -n 5 "$work/alone$i.log" >&2; exit 1; }
    e=$(echo "$e + $v" | bc -l)
    i=$((i + 1))
done
a=$(speed "$work/one1.log")
b=$(speed "$work/oneN.log")
c=$(speed "$work/ranks.log")
d=$(speed "$work/sync.log")
echo "resnet19 w0.125 SNN T 4, batch 64, $images images, $cores cores, $(date -u +%F)"
echo "1 process, 1 thread:       $a images/s"
echo "1 process, all threads:     $b images/s  ($(echo "$b / $a" | bc -l | cut -c1-4)x)"
echo "$n ranks, 1 thread each:   $c images/s  ($(echo "$c / $a" | bc -l | cut -c1-4)x; $(echo "$c / $b" | bc -l | cut -c1-4)x the one process of all threads)"
echo "$n ranks, train.sync_bn:    $d images/s  ($(echo "$d / $b" | bc -l | cut -c1-4)x the one process of all threads)"
echo "$n runs at once, 1 thread each: $e images/s in all  ($(echo "$e / $b" | bc -l | cut -c1-4)x the one process of all threads)"
