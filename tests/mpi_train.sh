#!/bin/sh
# mpi_train.sh — data-parallel training over 2 MPI ranks (make check, in a build with MPI):
#   1. tests/mpi_train under `mpirun -np 2`: 2 ranks against one process (per-replica BN exact,
#      sync BN within tolerance, bit-identical repeats, resume after a stop at step 5);
#   2. `mpirun -np 2 sakd train` on a Fashion-MNIST-shaped IDX dataset of random images: the
#      run prints its ranks and report.ini records them;
#   3. a rank killed mid-run (SIGKILL): the job ends non-zero, the message names the rank, and
#      the last checkpoint is intact (sakd eval reads it);
#   4. a sweep of 2-rank runs (--launcher), interrupted and resumed.
# Loopback only, --oversubscribe, one thread per rank; as root where CI runs (--allow-run-as-root).
set -u
MPIRUN=${MPIRUN:-mpirun}
if ! command -v "$MPIRUN" >/dev/null 2>&1; then
    echo "mpi_train.sh: $MPIRUN not found (Debian package openmpi-bin)" >&2
    exit 1
fi
root=
[ "$(id -u)" = 0 ] && root=--allow-run-as-root
export SAKD_BLAS_THREADS=1 POCL_MAX_PTHREAD_COUNT=1 OMPI_MCA_btl=self,vader \
    OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { "$MPIRUN" $root --oversubscribe -np 2 -x SAKD_BLAS_THREADS -x POCL_MAX_PTHREAD_COUNT "$@"; }
build=$(pwd)
sakd=$build/sakd

echo "== 2 ranks against one process (tests/mpi_train)"
mpi "$build/tests/mpi_train" || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/sakd-mpi-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

# The CLI over 2 ranks on random images written as IDX files (no downloaded data needed).
echo "== mpirun -np 2 sakd train, and a rank killed mid-run"
"$build/tests/mpi_train" --idx "$work/data" 2048 256 || exit 1
# A small SNN on those images; the [train] lines follow.
model_and_data() {
    printf '[model]\nname = resnet19\narch = snn\nwidth = 0.125\nT = 2\n'
    printf '[data]\ndataset = fashion-mnist\ndir = %s\n' "$work/data"
}
{ model_and_data; printf '[train]\nepochs = 4\nbatch = 32\nseed = 5\n'; } > "$work/run.ini"
mpi "$sakd" train "$work/run.ini" run.out="$work/ok" data.train_limit=128 train.epochs=1 \
    > "$work/ok.log" 2>&1 || { cat "$work/ok.log"; exit 1; }
grep -q '^data-parallel over 2 ranks' "$work/ok.log" || { cat "$work/ok.log"; exit 1; }
grep -q '^ranks = 2$' "$work/ok/report.ini" || { echo "report.ini has no 'ranks = 2'"; exit 1; }
grep -q '^mpi = ' "$work/ok/report.ini" || { echo "report.ini has no 'mpi'"; exit 1; }

mpi "$sakd" train "$work/run.ini" run.out="$work/kill" > "$work/kill.log" 2>&1 &
job=$!
# Wait for the first epoch's checkpoint, then SIGKILL rank 1.
for i in $(seq 1 600); do
    [ -f "$work/kill/weights.h5" ] && break
    sleep 0.5
done
[ -f "$work/kill/weights.h5" ] || { echo "no checkpoint after 300 s"; cat "$work/kill.log"; kill $job; exit 1; }
victim=
for d in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null < "$d/cmdline" | grep -q "train $work/run.ini run.out=$work/kill" ||
        continue
    if tr '\0' '\n' 2>/dev/null < "$d/environ" | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        victim=${d#/proc/}
    fi
done
[ -n "$victim" ] || { echo "rank 1 not found"; kill $job; exit 1; }
kill -KILL "$victim"
wait $job
rc=$?
if [ "$rc" -eq 0 ]; then
    echo "the job ended 0 after rank 1 was killed"; cat "$work/kill.log"; exit 1
fi
grep -qi 'rank 1' "$work/kill.log" || { echo "no message names rank 1:"; cat "$work/kill.log"; exit 1; }
"$sakd" eval --weights "$work/kill/weights.h5" data.dir="$work/data" > "$work/eval.log" 2>&1 ||
    { echo "the checkpoint left by the killed job does not load:"; cat "$work/eval.log"; exit 1; }
echo "ok: killed rank 1 ended the job (exit $rc) naming it; its checkpoint loads"

# A sweep whose runs have 2 ranks (--launcher): meta.ini records them; Ctrl-C to the sweep
# stops the ranks after the same step (SIGUSR2 through mpirun), the run is marked interrupted,
# and the sweep run again finishes it from its checkpoint.
echo "== sakd sweep --launcher 'mpirun -np 2'"
{ model_and_data; printf '[train]\nepochs = 3\nbatch = 32\n[sweep]\nseeds = 1\n'; } > "$work/sw.ini"
launcher="$MPIRUN $root --oversubscribe -np 2 -x SAKD_BLAS_THREADS -x POCL_MAX_PTHREAD_COUNT"
"$sakd" sweep "$work/sw.ini" --out "$work/sw" --launcher "$launcher" > "$work/sw.log" 2>&1 &
sweep=$!
meta=
for i in $(seq 1 600); do
    meta=$(ls "$work"/sw/runs/*/log.csv 2>/dev/null | head -n 1)
    [ -n "$meta" ] && break
    sleep 0.5
done
[ -n "$meta" ] || { echo "the sweep's run wrote no epoch"; cat "$work/sw.log"; kill $sweep; exit 1; }
kill -INT $sweep
wait $sweep
rc=$?
run=$(dirname "$meta")
grep -qx 'status = interrupted' "$run/meta.ini" ||
    { echo "sweep exit $rc; the run is not marked interrupted:"; cat "$run/meta.ini" "$work/sw.log"; exit 1; }
grep -q 'sakd: interrupted: stopped at epoch' "$run/stdout.log" ||
    { echo "the ranks did not stop with a checkpoint:"; tail -5 "$run/stdout.log"; exit 1; }
"$sakd" sweep "$work/sw.ini" --out "$work/sw" --launcher "$launcher" > "$work/sw2.log" 2>&1 ||
    { echo "the resumed sweep failed:"; cat "$work/sw2.log"; exit 1; }
for key in 'status = done' 'ranks = 2'; do
    grep -qx "$key" "$run/meta.ini" || { echo "meta.ini lacks '$key':"; cat "$run/meta.ini"; exit 1; }
done
grep -q '^mpi = ' "$run/meta.ini" || { echo "meta.ini lacks mpi"; exit 1; }
grep -q '^run_command = .*mpirun.* train ' "$run/meta.ini" || { echo "run_command lacks the launcher"; exit 1; }
echo "ok: an interrupted 2-rank sweep run resumed and finished; meta.ini records its ranks"
exit 0
