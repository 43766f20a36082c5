#!/bin/sh
# subset_compare.sh — ANN teacher vs directly trained SNN vs SAKD SNN (resnet19, width 0.125,
# T = 4) on a Fashion-MNIST subset, over several seeds, with a mean ± std table: each seed trains
# its own teacher (quick/teacher.ini), then the quick demo's students (quick/snn.ini,
# quick/sakd.ini) from it; limit the data with data.train_limit=... (results/demo/fmnist-subset was
# made by an earlier version of these configs: width 0.25, SGD).
# usage: experiments/subset_compare.sh OUT_DIR "SEEDS" [section.key=value ...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sakd=${SAKD:-$here/../sakd}
out=${1:?usage: subset_compare.sh OUT_DIR "1 2 3" [overrides]}
seeds=${2:-1 2 3}
shift 2 || shift $#
mkdir -p "$out"
{
    echo "# command: $0 $out \"$seeds\" $*"
    echo "# sakd $("$sakd" --version | cut -d' ' -f2), git $(git -C "$here" describe --always --dirty 2>/dev/null || echo none), host $(hostname), started $(date -u +%FT%TZ)"
} > "$out/provenance.txt"
for s in $seeds; do
    d="$out/seed$s"
    mkdir -p "$d"
    "$sakd" train "$here/quick/teacher.ini" "run.out=$d/teacher" "train.seed=$s" "$@" > "$d.teacher.log" 2>&1
    "$sakd" train "$here/quick/snn.ini" "run.out=$d/snn" "train.seed=$s" "$@" > "$d.snn.log" 2>&1
    "$sakd" train "$here/quick/sakd.ini" "run.out=$d/sakd" "train.seed=$s" \
        "distill.teacher=$d/teacher/weights.h5" "$@" > "$d.sakd.log" 2>&1
done
echo "# finished $(date -u +%FT%TZ)" >> "$out/provenance.txt"
# mean ± std (over seeds) of the final test accuracy and training images/s of each run kind.
{
    printf "%-34s %18s %16s\n" "run" "test acc (%)" "img/s"
    for run in teacher snn sakd; do
        for s in $seeds; do tail -n 1 "$out/seed$s/$run/log.csv" | tr -d '"'; done |
            awk -F, -v name="$run" '{ a += 100 * $9; aa += (100 * $9) ^ 2; v += $11; vv += $11 ^ 2; n++ }
                END { ma = a / n; mv = v / n;
                      sa = n > 1 ? sqrt((aa - n * ma * ma) / (n - 1)) : 0;
                      sv = n > 1 ? sqrt((vv - n * mv * mv) / (n - 1)) : 0;
                      printf "%-34s %9.2f ± %-6.2f %8.2f ± %-5.2f\n", name, ma, sa, mv, sv }'
    done
} | tee "$out/table.txt"
