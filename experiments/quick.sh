#!/bin/sh
# quick.sh — the main job of the README's quick start: trains an ANN teacher (one epoch over
# 49 152 Fashion-MNIST images), then a directly trained SNN and an SNN by SAKD (one epoch over
# 6 144 images; resnet19, width 0.25, T = 4), tests each on the first 2 000 test images and
# prints the comparison. 11-15 minutes on a 2-core CPU; the full-size experiments live in
# experiments/*.ini. usage: experiments/quick.sh [OUT_DIR] [section.key=value ...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sakd=${SAKD:-$here/../sakd}
out=${1:-runs/quick}
[ $# -gt 0 ] && shift
mkdir -p "$out"

"$sakd" train "$here/quick/teacher.ini" "run.out=$out/teacher" "$@"
"$sakd" train "$here/quick/snn.ini" "run.out=$out/snn" "$@"
"$sakd" train "$here/quick/sakd.ini" "run.out=$out/sakd" "distill.teacher=$out/teacher/weights.h5" "$@"

# The last row of each run's log.csv: test accuracy and training images/s.
row() {
    tail -n 1 "$out/$1/log.csv" | tr -d '"' | awk -F, -v name="$2" \
        '{ printf "%-34s %8.2f %%  %10.1f\n", name, 100 * $9, $11 }'
}
echo
echo "quick comparison (resnet19 width 0.25, one epoch each: teacher 49 152 images, SNNs 6 144;"
echo "first 2 000 Fashion-MNIST test images; see $out/*/log.csv)"
printf "%-34s %10s  %10s\n" "run" "test acc" "img/s"
row teacher "ANN teacher"
row snn "SNN, trained directly"
row sakd "SNN by SAKD (init + logit + proj)"
