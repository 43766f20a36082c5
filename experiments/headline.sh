#!/bin/sh
# headline.sh — the headline comparison (results/README.md): the ANN teacher, the SNN trained
# directly and the SNN by SAKD (CE off/on x level-1 init off/on), 3 seeds each, at the size of
# experiments/headline_*.ini. Runs seed by seed — every cell's seed 1, then seed 2, then seed
# 3 — so that a session that ends early leaves whole first seeds, not one cell's three; done
# runs are skipped, interrupted ones resume (run it again); a run another copy is training, or
# whose teacher it is training, is skipped (--no-wait), for a later pass. Then collects, and
# for the headline comparison writes results/headline_compare.txt (experiments/headline_compare.sh),
# for the ablations at this size results/headline_ablations_compare.txt (ablations_compare.sh).
# usage: [SAKD=path/to/sakd] [SWEEPS="..."] experiments/headline.sh [SEEDS...]   (default: 1 2 3)
# SWEEPS replaces the sweep list (names of experiments/*.ini, run in that order for each seed):
# the ablations at the headline size are
#   SWEEPS="headline_table7 headline_fig7 headline_fig11" experiments/headline.sh
# (~50 h two at a time on 2 cores; their cells equal to the headline's are copied from it, not
# trained again); experiments/results.sh runs them after the headline comparison.
# Expected: ~25 min a teacher, ~60 min an SNN, ~65 min a SAKD run on a quiet 2-core CPU before
# the LIF speed-up of 2026-12-02 (SNN steps 1.4-1.5x faster since: ~40 and ~45 min);
# all of it ~12 hours over several sessions (the teacher's seed 1 is trained once, by
# headline_sakd.ini; committed results keep no weights, but its checkpoint is the shipped
# experiments/quick/teacher/weights.h5, which a new machine takes instead of training it again).
set -u
SAKD=${SAKD:-sakd}
cd "$(dirname "$0")/.."
seeds=${*:-1 2 3}
# The directly trained SNN first (no teacher), then SAKD (trains the shared teacher), then the
# ANN (its seed-1 run is that teacher, copied).
sweeps=${SWEEPS:-headline_snn headline_sakd headline_ann}
# The shipped teacher (experiments/quick/teacher/) is the seed-1 teacher's checkpoint, from the
# same config: a committed teacher run without its weights.h5 (results keep none) takes it
# instead of 25 minutes of training again (`sakd sweep --teacher-weights`, which checks that the
# checkpoint's stored config resolves to the teacher's id and that it finished its epochs).
shipped=experiments/quick/teacher/weights.h5
status=0
for seed in $seeds; do
    for sweep in $sweeps; do
        file=experiments/$sweep.ini
        list=$("$SAKD" sweep "$file" --list) || exit 2
        for index in $(echo "$list" | awk -v s="seed=$seed" '$NF == s { print $2 }'); do
            "$SAKD" sweep "$file" --only "$index" --no-wait --teacher-weights "$shipped"
            rc=$?
            [ "$rc" -eq 130 ] && exit 130
            [ "$rc" -ne 0 ] && status=1
        done
    done
done
for sweep in $sweeps; do
    if [ -d "results/$sweep" ]; then
        "$SAKD" collect "results/$sweep" || status=1
    fi
done
# The comparison's statement in numbers (results/headline_compare.txt), once both arms have runs.
case " $sweeps " in
*" headline_sakd "*)
    if [ -d results/headline_snn/runs ] && [ -d results/headline_sakd/runs ]; then
        SAKD=$SAKD experiments/headline_compare.sh || status=1
    fi
    ;;
esac
# The headline-size ablations against their baselines (results/headline_ablations_compare.txt).
case " $sweeps " in
*" headline_table7 "* | *" headline_fig7 "* | *" headline_fig11 "*)
    SAKD=$SAKD experiments/ablations_compare.sh || status=1
    ;;
esac
# The one-epoch-size ablations against their baselines (results/short_ablations_compare.txt).
case " $sweeps " in
*" short_"*)
    SAKD=$SAKD experiments/short_compare.sh || status=1
    ;;
esac
exit "$status"
