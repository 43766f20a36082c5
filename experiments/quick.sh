#!/bin/sh
# quick.sh — the main job of the README's quick start: the shipped ANN teacher
# (experiments/quick/teacher/: resnet19 width 0.125 trained by experiments/headline_teacher.ini)
# tested on all 10 000 Fashion-MNIST test images, then a directly trained SNN and an SNN by SAKD
# from that teacher (resnet19 width 0.125, T = 4, one epoch over 40 960 training images each,
# the same AdamW steps), each tested on all 10 000 test images, printed side by side. About 12
# minutes on a 2-core CPU; the full-size experiments live in experiments/*.ini.
# usage: experiments/quick.sh [OUT_DIR] [section.key=value ...]
#   SAKD_QUICK_TEACHER=W.h5 distils from another teacher, e.g. the shipped one rebuilt with
#   `sakd train experiments/headline_teacher.ini run.out=runs/teacher` (~25 min).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sakd=${SAKD:-$here/../sakd}
out=${1:-runs/quick}
[ $# -gt 0 ] && shift
teacher=${SAKD_QUICK_TEACHER:-$here/quick/teacher/weights.h5}
if [ ! -f "$teacher" ]; then
    echo "quick.sh: no teacher checkpoint at $teacher (rebuild it with" \
        "'sakd train experiments/headline_teacher.ini run.out=runs/teacher' and set" \
        "SAKD_QUICK_TEACHER=runs/teacher/weights.h5)" >&2
    exit 2
fi
mkdir -p "$out"

"$sakd" eval --weights "$teacher" | tee "$out/teacher-eval.txt"
"$sakd" train "$here/quick/snn.ini" "run.out=$out/snn" "$@"
"$sakd" train "$here/quick/sakd.ini" "run.out=$out/sakd" "distill.teacher=$teacher" "$@"

# The last row of each run's log.csv: test accuracy and training images/s.
row() {
    tail -n 1 "$out/$1/log.csv" | tr -d '"' | awk -F, -v name="$2" \
        '{ printf "%-34s %8.2f %%  %10.1f\n", name, 100 * $9, $11 }'
}
teacher_acc=$(sed -n 's/^ *test accuracy *\([0-9.]*\) %.*/\1/p' "$out/teacher-eval.txt")
echo
echo "quick comparison (resnet19 width 0.125, all 10 000 Fashion-MNIST test images; the SNNs:"
echo "T = 4, one epoch over 40 960 training images, 640 AdamW steps each; see $out/*/log.csv)"
printf "%-34s %10s  %10s\n" "run" "test acc" "img/s"
printf "%-34s %8.2f %%  %10s\n" "ANN teacher (shipped)" "$teacher_acc" "-"
row snn "SNN, trained directly"
row sakd "SNN by SAKD (init + logit + proj)"
