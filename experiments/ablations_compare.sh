#!/bin/sh
# ablations_compare.sh — the headline-size ablations (experiments/README.md, "The headline
# size") each against its baseline, over the seeds done so far, with `sakd compare`: Table 7
# (what of the teacher is used) against its all-off cell, which is the directly trained SNN;
# Fig. 7 (the feature transform) against the directly trained SNN; Fig. 11 (time steps) with
# the teacher against without it, at each T. Writes results/headline_ablations_compare.txt (a
# sweep with no done runs yet is named and skipped).
# usage: experiments/ablations_compare.sh   (SAKD selects the binary; RESULTS the results
#        directory, default results)
set -u
SAKD=${SAKD:-sakd}
cd "$(dirname "$0")/.."
res=${RESULTS:-results}
out=$res/headline_ablations_compare.txt
metrics=test_acc,mean_firing_rate
done_runs() { [ -d "$1/runs" ] && grep -lqx 'status = done' "$1"/runs/*/meta.ini 2>/dev/null; }
section() {
    echo
    echo "## $1"
    echo
}
{
    echo "# experiments/ablations_compare.sh, $(date -u +%Y-%m-%dT%H:%MZ), $("$SAKD" --version | head -n 1), git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "# each cell against its baseline over the seeds done so far (sakd compare)"
    section "Table 7: init, logit KD (gamma), feature KD (beta) against none of them (direct training)"
    t7=$res/headline_table7
    if done_runs "$t7"; then
        "$SAKD" compare --cells --metric "$metrics" \
            "$t7:distill.init_from_teacher=false,distill.gamma=0,distill.beta=0" "$t7" ||
            echo "(no done runs in the all-off cell yet)"
    else
        echo "(no done runs yet)"
    fi
    section "Fig. 7: the feature transform against the directly trained SNN"
    if done_runs "$res/headline_fig7" && done_runs "$res/headline_snn"; then
        "$SAKD" compare --cells --metric "$metrics" "$res/headline_snn" "$res/headline_fig7"
    else
        echo "(no done runs yet)"
    fi
    section "Fig. 11: with the teacher against without it, at each T"
    f11=$res/headline_fig11
    if done_runs "$f11"; then
        for T in 1 2 4 6; do
            echo "### T = $T"
            echo
            "$SAKD" compare --metric "$metrics" "$f11:model.T=$T,distill.teacher=none" \
                "$f11:model.T=$T,distill.teacher=teacher" 2>&1 || echo "(not both groups done yet)"
            echo
        done
    else
        echo "(no done runs yet)"
    fi
} >"$out.part" && mv "$out.part" "$out" && echo "ablations_compare.sh: wrote $out"
