#!/bin/sh
# compare_torch.sh — sakd's training step against the same step in PyTorch (torch_step.py),
# mode by mode on the same settings, one right after the other; prints sakd/torch per mode.
#
#   experiments/bench/compare_torch.sh [--modes "ann snn sakd"] [--width 0.25] [--T 4]
#       [--batch 32] [--size 28] [--reps 3] [--warmup 2] [--threads N] [--lif autograd|fused]
#       [--csv FILE]
#
# Environment: SAKD (sakd executable; default ./sakd in the repository, else `sakd` on PATH),
# PYTHON (an interpreter with torch; default python3). Either side may be missing: the other
# still runs and the ratio is left empty.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
modes="ann snn sakd"
width=0.25 T=4 batch=32 size=28 reps=3 warmup=2 threads="" lif=autograd csv=""
while [ $# -gt 0 ]; do
    case "$1" in
    --modes) modes=$2; shift 2 ;;
    --width) width=$2; shift 2 ;;
    --T) T=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --lif) lif=$2; shift 2 ;;
    --csv) csv=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_torch.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
sakd=${SAKD:-}
if [ -z "$sakd" ]; then
    if [ -x "$root/sakd" ]; then sakd=$root/sakd; else sakd=$(command -v sakd || true); fi
fi

# ---- sakd's side: adapt these two if `sakd bench train` changes its interface -------------
# Runs sakd's benchmark of one mode with this script's settings (the interface of
# src/cli/bench_train.c: config overrides for the model, --modes/--size/--reps options).
sakd_bench_train() { # MODE
    "$sakd" bench train model.name=resnet19 model.width="$width" model.T="$T" \
        train.batch="$batch" --modes "$1" --size "$size" --reps "$reps" --warmup "$warmup"
}
# Reads a benchmark's stdout on stdin and prints the median step time in ms (nothing if none):
# a line "median_step_ms <ms>" (torch_step.py), or sakd's table row "<mode> <step_ms> ...".
median_step_ms() { # MODE
    awk -v mode="$1" '$1 == "median_step_ms" { v = $2 }
        $1 == mode && $2 ~ /^[0-9.]+$/ { v = $2 }
        END { if (v != "") print v }'
}
# --------------------------------------------------------------------------------------------

# Whether this sakd has `bench train` (another engineer is adding it).
sakd_has_bench_train() {
    [ -n "$sakd" ] && "$sakd" bench train --help 2>&1 | grep -q -- "--modes"
}

have_sakd=0
if sakd_has_bench_train; then
    have_sakd=1
elif [ -z "$sakd" ]; then
    echo "compare_torch.sh: no sakd executable (build it, or set SAKD); running the torch side only" >&2
else
    echo "compare_torch.sh: $sakd has no 'bench train' yet; running the torch side only" >&2
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results
: >"$results"
torch_skipped=0
for mode in $modes; do
    s_ms="" t_ms=""
    if [ $have_sakd = 1 ]; then
        echo "== $sakd bench train model.width=$width model.T=$T train.batch=$batch --modes $mode --size $size --reps $reps"
        sakd_bench_train "$mode" >"$tmp/sakd.out" 2>&1
        rc=$?
        cat "$tmp/sakd.out"
        s_ms=$(median_step_ms "$mode" <"$tmp/sakd.out")
        [ $rc -ne 0 ] && echo "compare_torch.sh: sakd bench train --mode $mode failed (exit $rc)" >&2
        [ $rc -eq 0 ] && [ -z "$s_ms" ] &&
            echo "compare_torch.sh: no step time found in sakd's output: adapt median_step_ms()" >&2
    fi
    if [ $torch_skipped = 0 ]; then
        set -- --mode "$mode" --width "$width" --T "$T" --batch "$batch" --size "$size" \
            --reps "$reps" --warmup "$warmup" --lif "$lif"
        [ -n "$threads" ] && set -- "$@" --threads "$threads"
        [ -n "$csv" ] && set -- "$@" --csv "$csv"
        echo "== $python torch_step.py $*"
        "$python" "$here/torch_step.py" "$@" >"$tmp/torch.out" 2>&1
        rc=$?
        cat "$tmp/torch.out"
        if [ $rc -eq 77 ]; then
            torch_skipped=1
        elif [ $rc -ne 0 ]; then
            echo "compare_torch.sh: torch_step.py --mode $mode failed (exit $rc)" >&2
        fi
        t_ms=$(median_step_ms "$mode" <"$tmp/torch.out")
    fi
    echo "$mode ${s_ms:--} ${t_ms:--}" >>"$results"
done

echo
echo "resnet19 width $width T $T batch $batch ${size}x$size, median step time (ms), $reps timed steps after $warmup warm-up"
printf '%-6s %12s %12s %12s\n' mode sakd torch sakd/torch
while read -r mode s t; do
    ratio=-
    if [ "$s" != - ] && [ "$t" != - ]; then
        ratio=$(awk -v s="$s" -v t="$t" 'BEGIN { printf "%.2f", s / t }')
    fi
    printf '%-6s %12s %12s %12s\n' "$mode" "$s" "$t" "$ratio"
done <"$results"
[ $torch_skipped = 1 ] && echo "(torch side skipped: PyTorch is not importable by $python; set PYTHON)"
exit 0
