#!/bin/sh
# results.sh — every sweep results/README.md reports, in order of priority: the headline
# comparison (headline_snn, headline_sakd, headline_ann); the ablations at the headline size
# (headline_table7, headline_fig7, headline_fig11); the ablations at the one-epoch size
# (short_fig8, short_fig12, short_table6, short_fig10, short_table9_base, short_table9). Each
# group runs seed by seed (experiments/headline.sh: every cell's first seed, then the next), and
# the whole list twice: the second pass copies the runs the first skipped because the same run
# was training in another process (a cell two sweeps share) and has finished since. Done runs
# are skipped, interrupted ones resume: after a stop, run it again. On a machine of N cores run N
# copies, one thread each, on one core each (experiments/README.md, "The headline size"); a run
# one copy holds is skipped by the others.
# usage: [SAKD=path/to/sakd] experiments/results.sh [SEEDS...]   (default: 1 2 3)
set -u
cd "$(dirname "$0")/.."
status=0
for pass in 1 2; do
    for group in "headline_snn headline_sakd headline_ann" \
        "headline_table7 headline_fig7 headline_fig11" \
        "short_fig8 short_fig12 short_table6 short_fig10 short_table9_base short_table9"; do
        echo "results.sh: pass $pass: $group"
        SWEEPS=$group experiments/headline.sh "$@"
        rc=$?
        case $rc in
        0) ;;
        2 | 130) exit "$rc" ;;
        *) status=1 ;;
        esac
    done
done
exit "$status"
