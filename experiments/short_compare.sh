#!/bin/sh
# short_compare.sh — the one-epoch-size ablations (experiments/README.md, "The one-epoch size")
# each against its baseline, over the seeds done so far, with `sakd compare`: Fig. 8 (distance
# and feature weight β) and Table 6 (distillation position) against the default cell (l2,
# β 100, stage after spike); Fig. 12 (surrogate) with the teacher against without it, for each
# surrogate; Fig. 10 (α, β, γ) against the default cell (α 0, β 100, γ 1); Table 9 (teacher
# and student architecture) each teacher against the same student trained directly. Writes
# results/short_ablations_compare.txt (a sweep or cell with no done runs yet is named and
# skipped).
# usage: experiments/short_compare.sh   (SAKD selects the binary; RESULTS the results
#        directory, default results)
set -u
SAKD=${SAKD:-sakd}
cd "$(dirname "$0")/.."
res=${RESULTS:-results}
out=$res/short_ablations_compare.txt
metrics=test_acc,mean_firing_rate
done_runs() { [ -d "$1/runs" ] && grep -lqx 'status = done' "$1"/runs/*/meta.ini 2>/dev/null; }
section() {
    echo
    echo "## $1"
    echo
}
# cells SWEEP BASELINE_FILTER: every cell of the sweep against its baseline cell
cells() {
    if done_runs "$res/$1"; then
        "$SAKD" compare --cells --metric "$metrics" "$res/$1:$2" "$res/$1" 2>&1 ||
            echo "(no done runs in the baseline cell $2 yet)"
    else
        echo "(no done runs yet)"
    fi
}
{
    echo "# experiments/short_compare.sh, $(date -u +%Y-%m-%dT%H:%MZ), $("$SAKD" --version | head -n 1), git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "# each cell against its baseline over the seeds done so far (sakd compare)"
    section "Fig. 8: distance and beta against the default cell (l2, beta 100)"
    cells short_fig8 "distill.distance=l2,distill.beta=100"
    section "Table 6: distillation position against the default cell (stage after spike)"
    cells short_table6 "distill.position=stage_after_spike"
    section "Fig. 12: with the teacher against without it, for each surrogate"
    f12=$res/short_fig12
    if done_runs "$f12"; then
        for s in triangle sigmoid atan; do
            echo "### $s"
            echo
            "$SAKD" compare --metric "$metrics" "$f12:model.surrogate=$s,distill.teacher=none" \
                "$f12:model.surrogate=$s,distill.teacher=teacher" 2>&1 ||
                echo "(not both groups done yet)"
            echo
        done
    else
        echo "(no done runs yet)"
    fi
    section "Fig. 10: alpha, beta, gamma against the default cell (alpha 0, beta 100, gamma 1)"
    cells short_fig10 "distill.gamma=1,distill.beta=100,distill.alpha=0"
    section "Table 9: each teacher against the same student trained directly"
    t9=$res/short_table9
    if done_runs "$t9" && done_runs "$res/short_table9_base"; then
        for m in resnet18 resnet34; do
            echo "### student $m"
            echo
            "$SAKD" compare --cells --metric "$metrics" "$res/short_table9_base:model.name=$m" \
                "$t9:model.name=$m" 2>&1 || echo "(not both groups done yet)"
            echo
        done
    else
        echo "(no done runs yet)"
    fi
} >"$out.part" && mv "$out.part" "$out" && echo "short_compare.sh: wrote $out"
