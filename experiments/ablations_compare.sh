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
cd "$(dirname "$0")/.." || exit 1
. experiments/compare_lib.sh
out=$res/headline_ablations_compare.txt
{
    header experiments/ablations_compare.sh
    section "Table 7: init, logit KD (gamma), feature KD (beta) against none of them (direct training)"
    cells headline_table7 "distill.init_from_teacher=false,distill.gamma=0,distill.beta=0"
    section "Fig. 7: the feature transform against the directly trained SNN"
    cells_against headline_snn headline_fig7
    section "Fig. 11: with the teacher against without it, at each T"
    with_without headline_fig11 model.T "T = " 1 2 4 6
} >"$out.part" && mv "$out.part" "$out" && echo "ablations_compare.sh: wrote $out"
