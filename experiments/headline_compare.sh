#!/bin/sh
# headline_compare.sh — the headline comparison's statement in numbers: each SNN-by-SAKD cell
# of results/headline_sakd (one table row a cell), and the ANN teacher, against the directly
# trained SNN
# (results/headline_snn), over their seeds, with `sakd compare` (difference of the means, in
# pooled stds, Welch's and the paired t-test; test accuracy, firing rate, SOPs and energy per
# image). Writes results/headline_compare.txt; run after experiments/headline.sh (it is safe
# while runs are missing: each group holds the runs done so far).
# usage: [SAKD=path/to/sakd] experiments/headline_compare.sh
set -u
SAKD=${SAKD:-sakd}
cd "$(dirname "$0")/.." || exit 1
out=results/headline_compare.txt
metrics=test_acc,mean_firing_rate,sops_per_image,energy_uj
direct=results/headline_snn
{
    echo "# experiments/headline_compare.sh, $(date -u +%Y-%m-%dT%H:%MZ), $("$SAKD" --version | head -n 1), git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "# A = the SNN trained directly; B = each cell of SNNs by SAKD (sakd compare --cells),"
    echo "# then the ANN teacher."
    echo
    "$SAKD" compare --cells --metric "$metrics" "$direct" results/headline_sakd || exit 1
    echo
    "$SAKD" compare --metric test_acc "$direct" results/headline_ann || exit 1
} >"$out.part" && mv "$out.part" "$out" && echo "headline_compare.sh: wrote $out"
