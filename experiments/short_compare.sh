#!/bin/sh
# short_compare.sh — the one-epoch-size ablations (experiments/README.md, "The one-epoch size")
# each against its baseline, over the seeds done so far, with `sakd compare`: Fig. 8 (distance
# and feature weight β) and Table 6 (distillation position) against the default cell (l2,
# β 100, stage after spike); Fig. 12 (surrogate) with the teacher against without it, for each
# surrogate; Fig. 10 (α, β, γ) against the default cell (α 0, β 100, γ 1); Table 9 (teacher
# and student architecture) each teacher against the same student trained directly, and its
# diagnostics (short_table9_beta10, short_table9_alpha1: the collapsed cell at beta 10 or
# alpha 1, results/README.md). Writes results/short_ablations_compare.txt (a sweep or cell with
# no done runs yet is named and skipped).
# usage: experiments/short_compare.sh   (SAKD selects the binary; RESULTS the results
#        directory, default results)
set -u
cd "$(dirname "$0")/.." || exit 1
. experiments/compare_lib.sh
out=$res/short_ablations_compare.txt
{
    header experiments/short_compare.sh
    section "Fig. 8: distance and beta against the default cell (l2, beta 100)"
    cells short_fig8 "distill.distance=l2,distill.beta=100"
    section "Table 6: distillation position against the default cell (stage after spike)"
    cells short_table6 "distill.position=stage_after_spike"
    section "Fig. 12: with the teacher against without it, for each surrogate"
    with_without short_fig12 model.surrogate "" triangle sigmoid atan
    section "Fig. 10: alpha, beta, gamma against the default cell (alpha 0, beta 100, gamma 1)"
    cells short_fig10 "distill.gamma=1,distill.beta=100,distill.alpha=0"
    section "Table 9: each teacher against the same student trained directly"
    if done_runs "$res/short_table9" && done_runs "$res/short_table9_base"; then
        for m in resnet18 resnet34; do
            echo "### student $m"
            echo
            cells_against short_table9_base short_table9 "model.name=$m"
            echo
        done
    else
        echo "(no done runs yet)"
    fi
    section "Table 9, diagnostics: the resnet34 teacher and student at beta 10 (and alpha 1)"
    if done_runs "$res/short_table9_beta10" && done_runs "$res/short_table9_base"; then
        t34="teacher.model.name=resnet34,model.name=resnet34"
        echo "### beta 10 against the same student trained directly"
        echo
        "$SAKD" compare --metric "$metrics" "$res/short_table9_base:model.name=resnet34" \
            "$res/short_table9_beta10:$t34" 2>&1
        echo
        echo "### beta 10 against the resnet50 teacher at beta 100"
        echo
        "$SAKD" compare --metric "$metrics" \
            "$res/short_table9:teacher.model.name=resnet50,model.name=resnet34" \
            "$res/short_table9_beta10:$t34" 2>&1
        echo
        echo "### every diagnostic run"
        echo
        cat "$res/short_table9_beta10/table.md" "$res/short_table9_alpha1/table.md" 2>&1
    else
        echo "(no done runs yet)"
    fi
} >"$out.part" && mv "$out.part" "$out" && echo "short_compare.sh: wrote $out"
