#!/bin/sh
# remeasure.sh — measure the firing rates, SOPs and energy of finished sweep runs again with
# this build (`sakd eval --run`, which checks each run's test accuracy against its report), then
# rebuild each sweep's tables and figures (`sakd collect`). For results measured by a sakd
# before 30bfa5b, which counted an activation once more for every conv reading it.
# usage: experiments/remeasure.sh SWEEP_DIR [SWEEP_DIR ...]
#   Runs whose report.ini already names metrics_measured_by are skipped (FORCE=1 redoes them),
#   so an interrupted pass continues. Each run's output goes to <run>/remeasure.log.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sakd=${SAKD:-$here/../sakd}
[ $# -gt 0 ] || { echo "usage: $0 SWEEP_DIR [SWEEP_DIR ...]" >&2; exit 2; }
failed=0
for dir in "$@"; do
    [ -d "$dir/runs" ] || { echo "remeasure: $dir has no runs/ directory" >&2; exit 2; }
    for run in "$dir"/runs/*/; do
        run=${run%/}
        if [ ! -f "$run/report.ini" ] || [ ! -f "$run/weights.h5" ]; then
            echo "remeasure: $run: no report.ini or weights.h5 (unfinished run?), skipped" >&2
            continue
        fi
        if [ "${FORCE:-0}" != 1 ] && grep -q '^metrics_measured_by' "$run/report.ini"; then
            echo "remeasure: $run: measured already"
            continue
        fi
        if "$sakd" eval --run "$run" > "$run/remeasure.log" 2>&1; then
            echo "remeasure: $run: $(grep -m1 'firing rates' "$run/remeasure.log" | sed 's/^ *//')"
        else
            echo "remeasure: $run FAILED; see $run/remeasure.log" >&2
            failed=$((failed + 1))
        fi
    done
    "$sakd" collect "$dir" > /dev/null
done
[ "$failed" -eq 0 ] || { echo "remeasure: $failed run(s) failed" >&2; exit 1; }
