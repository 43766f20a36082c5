#!/bin/sh
# nvidia_opencl.sh — sakd's OpenCL path on an NVIDIA GPU, on a machine that has the NVIDIA
# driver but none of sakd's Debian packages: finds NVIDIA's OpenCL library and registers it with
# the ICD loader through a private vendors folder, runs a sakd build carried in a bundle, then
# `sakd devices`, `sakd selftest`, `sakd bench train` at the headline size, one training epoch
# of the one-epoch-size SAKD run and the directly trained run of results/short_fig8 and
# results/short_fig12 (seed 1, the same resolved configs as on the CPU), `sakd bench gemm` and
# `sakd bench lif-layer`, and with the time left the headline SAKD and directly trained runs (6
# epochs, seed 1). Each
# step has its own time limit; everything is written under OUT.
# With TEACHERS_OF=FILE.ini and STEPS=teachers it trains the teachers that sweep needs instead,
# all at once on the GPU, into OUT/teachers (OUT/teachers.tar.gz, weights included): for each
# distinct teacher the first run of `sakd sweep FILE --list` that uses it is started with `sakd
# sweep FILE --only K --teachers OUT/teachers`, which trains the teacher (its meta.ini records
# this machine), and is stopped as soon as it starts the student. Copied into a CPU machine's
# results/teachers/<id>/, the sweep there takes them as done and trains only the students.
#
# usage: OUT=DIR experiments/bench/nvidia_opencl.sh [BUNDLE_DIR]
#   BUNDLE_DIR (default .gpu; experiments/bench/gpu_bundle.sh makes it) holds bundle.tar.xz (bin/sakd, lib/: libsakd and every library
#   `ldd` lists for it, glibc/: the C library and its loader, used only when the machine's C
#   library is older than the build's) and fmnist/ (the four Fashion-MNIST .gz files).
#   BUDGET_S (default 480): no step starts after this many seconds. STEPS: the names of the
#   steps to run (default all: devices selftest bench_train_headline train_short_sakd
#   train_short_direct bench_gemm bench_lif train_headline_sakd train_headline_direct; the
#   step `teachers` runs only when named).
#   The run directories come back as OUT/runs.tar.gz (config.ini, log.csv, report.ini).
set -u
out=${OUT:?set OUT to the output folder}
bundle=${1:-.gpu}
budget=${BUDGET_S:-480}
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
log() { echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) $*"; }
left() { echo $((budget - $(elapsed))); }

p=/tmp/sakd-gpu
mkdir -p "$p" && tar xJf "$bundle/bundle.tar.xz" -C "$p" || exit 1

log "NVIDIA driver and OpenCL library"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1
ls -l /etc/OpenCL/vendors 2>&1
nvlib=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/cuda/lib64 \
    -maxdepth 3 -name 'libnvidia-opencl.so.1' 2>/dev/null | head -n 1)
if [ -z "$nvlib" ]; then
    echo "no libnvidia-opencl.so.1 under the driver's folders: NVIDIA's OpenCL is absent"
    exit 1
fi
echo "NVIDIA OpenCL: $nvlib -> $(readlink -f "$nvlib")"
mkdir -p "$p/vendors" && echo "$nvlib" >"$p/vendors/nvidia.icd"
export OCL_ICD_VENDORS="$p/vendors"
nvdir=$(dirname "$nvlib")

# the carried build, with the machine's C library if it is new enough, else with the carried one
cat >"$p/sakd" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$p/lib:$nvdir" exec "$p/bin/sakd" "\$@"
EOF
chmod +x "$p/sakd"
if ! "$p/sakd" --version >/dev/null 2>&1; then
    echo "the machine's C library is older than the build's: using the carried one"
    ldd --version 2>&1 | head -n 1
    cat >"$p/sakd" <<EOF
#!/bin/sh
exec "$p/glibc/ld-linux-x86-64.so.2" --library-path "$p/lib:$p/glibc:$nvdir" "$p/bin/sakd" "\$@"
EOF
fi
sakd="$p/sakd"
export SAKD_DEVICE=nvidia SAKD_CACHE_DIR="$p/cache"
"$sakd" --version

step() { # step NAME LIMIT_S COMMAND...: run COMMAND with its output in OUT/NAME.txt
    name=$1 lim=$2
    shift 2
    case " ${STEPS:-all} " in
    *" all "* | *" $name "*) ;;
    *) return 0 ;;
    esac
    [ "$(left)" -gt 20 ] || {
        log "$name: skipped (budget spent)"
        return 1
    }
    [ "$lim" -le "$(left)" ] || lim=$(left)
    log "$name (limit $lim s): $*"
    s=$(date +%s)
    timeout "$lim" "$@" >"$out/$name.txt" 2>&1
    rc=$?
    echo "rc=$rc wall_s=$(($(date +%s) - s))" >>"$out/$name.txt"
    tail -n 40 "$out/$name.txt"
    return $rc
}

step devices 30 "$sakd" devices
step selftest 90 "$sakd" selftest
step bench_train_headline 150 "$sakd" bench train model.width=0.125 train.batch=64 --reps 10 \
    --warmup 2 --kernels 10 --csv "$out/bench_train.csv"
tdata="data.dir=$bundle/fmnist"
teacher=distill.teacher=experiments/quick/teacher/weights.h5
step train_short_sakd 150 "$sakd" train results/short_fig8/runs/a21f786c4c97/config.ini \
    "$tdata" "$teacher" "run.out=$out/short_sakd_seed1"
step bench_gemm 60 "$sakd" bench gemm --sizes 256,512,1024,2048,4096 --reps 5
step bench_lif 60 "$sakd" bench lif-layer --sizes 512,4096,16384 --reps 3
step train_short_direct 120 "$sakd" train results/short_fig12/runs/e20dd62175ad/config.ini \
    "$tdata" "run.out=$out/short_direct_seed1"
# the headline runs' configs name their own checkpoints to resume from: start afresh instead
step train_headline_sakd 400 "$sakd" train results/headline_sakd/runs/65df980e9d56/config.ini \
    "$tdata" "$teacher" train.resume= "run.out=$out/headline_sakd_seed1"
step train_headline_direct 400 "$sakd" train results/headline_snn/runs/4ec1ae8b566b/config.ini \
    "$tdata" train.resume= "run.out=$out/headline_direct_seed1"
# teachers: see the head of this file
case " ${STEPS:-all} " in
*" teachers "*)
    sw=${TEACHERS_OF:?set TEACHERS_OF to the sweep file whose teachers to train}
    log "teachers of $sw (until +$budget s)"
    "$sakd" sweep "$sw" --list >"$out/teachers_list.txt" 2>&1 || cat "$out/teachers_list.txt"
    firsts=$(awk '{ t = ""; for (i = 3; i <= NF; i++) if ($i ~ /^teacher\./) t = t " " $i
                    if (!(t in seen)) { seen[t] = 1; print $2 } }' "$out/teachers_list.txt")
    pids=""
    for k in $firsts; do
        setsid "$sakd" sweep "$sw" --only "$k" --teachers "$out/teachers" -o "$p/students" \
            "$tdata" >"$out/teacher_of_run$k.txt" 2>&1 &
        pids="$pids $k:$!"
    done
    while :; do
        running=0
        for kp in $pids; do
            k=${kp%%:*} pid=${kp#*:}
            kill -0 "$pid" 2>/dev/null || continue
            if grep -q "^\[$k\] .* started" "$out/teacher_of_run$k.txt" || [ "$(left)" -le 15 ]; then
                # SIGTERM (a background job of sh ignores SIGINT): the sweep and its `sakd
                # train` child share the process group setsid made
                kill -s TERM -- "-$pid" 2>/dev/null
                sleep 2
                kill -s KILL -- "-$pid" 2>/dev/null
            else
                running=1
            fi
        done
        [ $running = 1 ] || break
        sleep 3
    done
    for kp in $pids; do tail -n 12 "$out/teacher_of_run${kp%%:*}.txt"; done
    grep -H '^status\|^wall_s\|^opencl_device' "$out"/teachers/*/meta.ini
    grep -H '^test_acc\|^train_wall_s' "$out"/teachers/*/report.ini
    (cd "$out" && tar czf teachers.tar.gz --exclude='.train.lock' --exclude='.lock' teachers && rm -rf teachers)
    ;;
esac
(cd "$out" && tar czf runs.tar.gz --exclude='*.h5' --exclude='.train.lock' ./*_seed1 2>/dev/null &&
    rm -rf ./*_seed1)
log "done"
