# shellcheck shell=sh
# compare_lib.sh — shell functions shared by experiments/ablations_compare.sh and
# experiments/short_compare.sh: each ablation cell against its baseline with `sakd compare`,
# over the runs done so far (a sweep or cell with no done runs is named and skipped). Sourced,
# not run, from the project's root; reads SAKD (the binary, default sakd) and RESULTS (the
# results directory, default results).
SAKD=${SAKD:-sakd}
res=${RESULTS:-results}
metrics=test_acc,mean_firing_rate

# done_runs DIR: true when the sweep directory DIR holds at least one finished run
done_runs() { [ -d "$1/runs" ] && grep -lqx 'status = done' "$1"/runs/*/meta.ini 2>/dev/null; }

# header SCRIPT: the provenance lines at the top of a comparison file
header() {
    echo "# $1, $(date -u +%Y-%m-%dT%H:%MZ), $("$SAKD" --version | head -n 1), git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "# each cell against its baseline over the seeds done so far (sakd compare)"
}

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

# cells_against BASE_SWEEP SWEEP [FILTER]: every cell of SWEEP against the runs of BASE_SWEEP,
# both narrowed by FILTER when given
cells_against() {
    f=${3:+:$3}
    if done_runs "$res/$1" && done_runs "$res/$2"; then
        "$SAKD" compare --cells --metric "$metrics" "$res/$1$f" "$res/$2$f" 2>&1 ||
            echo "(not both groups done yet)"
    else
        echo "(no done runs yet)"
    fi
}

# with_without SWEEP KEY LABEL VALUE...: at each value of KEY, the runs with the teacher
# against those without it (distill.teacher=teacher against distill.teacher=none)
with_without() {
    sw=$res/$1 key=$2 label=$3
    shift 3
    if ! done_runs "$sw"; then
        echo "(no done runs yet)"
        return
    fi
    for v in "$@"; do
        echo "### $label$v"
        echo
        "$SAKD" compare --metric "$metrics" "$sw:$key=$v,distill.teacher=none" \
            "$sw:$key=$v,distill.teacher=teacher" 2>&1 || echo "(not both groups done yet)"
        echo
    done
}
