#!/bin/sh
# check_oclgrind.sh — `make check-oclgrind`: sakd's kernels on the oclgrind simulator with its
# checks on (--data-races --uninitialized --check-api), failing on any diagnostic, and proof
# that every kernel of cl/ ran.
#
# It runs, on oclgrind as the one OpenCL platform (used as an ICD, options in OCLGRIND_*):
#   1. the device suites of SUITES (tests/check_device, one suite per process), with
#      SAKD_TEST_SMALL=1: the suites leave out their few cases whose shapes an interpreter
#      runs for minutes (tests/testutil.h, test_small_shapes);
#   2. `sakd train` of a tiny spiking ResNet-18 (width 0.0625, T = 2, the imagenet stem, so
#      that its stages see 7x7 and smaller: one step on one Fashion-MNIST image, an evaluation
#      of one) and `sakd trace` of one step of it on a batch file of one image.
# tests/clgrind.c (preloaded) records each process's kernel launches and gives each context
# its own oclgrind log. The run fails when a step fails, when an oclgrind log or the output
# holds a diagnostic (an invalid access, a data race, an uninitialized value, an API error, a
# fatal error of the simulator), or when a kernel of cl/*.cl was never launched.
#
# Environment (make check-oclgrind sets it): SAKD_BIN, SAKD_CHECK_DEVICE (tests/check_device),
# SAKD_CLGRIND_LIB (tests/.libs/libclgrind.so), SAKD_BATCH_FILE (tests/batch_file),
# SAKD_TEST_CL_DIR (cl/); SAKD_OCLGRIND_SUITES replaces the suite list; SAKD_OCLGRIND_KEEP=1
# keeps the work directory. Exit 77 (skipped) where oclgrind is not installed.
set -u

SUITES=${SAKD_OCLGRIND_SUITES:-"tensor elementwise activation lif pool shape conv conv_spike linear bn \
loss optim rng_device chain"}
sakd=${SAKD_BIN:-./sakd}
check_device=${SAKD_CHECK_DEVICE:-tests/check_device}
clgrind=${SAKD_CLGRIND_LIB:-tests/.libs/libclgrind.so}
batch_file=${SAKD_BATCH_FILE:-tests/batch_file}
cl_dir=${SAKD_TEST_CL_DIR:-cl}
failures=0

note_failure() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# The oclgrind ICD library: next to the oclgrind command (Debian: /usr/lib/oclgrind).
find_icd() {
    bin=$(dirname "$(command -v oclgrind)")
    for f in "$bin/../lib/oclgrind/liboclgrind-rt-icd.so" "$bin/../lib/liboclgrind-rt-icd.so" \
        "$bin/../lib64/liboclgrind-rt-icd.so"; do
        if [ -f "$f" ]; then
            echo "$f"
            return 0
        fi
    done
    return 1
}

# Runs a command on oclgrind with the preload; its output goes to $work/$1.log.
grind() {
    log=$work/$1.log
    shift
    start=$(date +%s)
    env LD_PRELOAD="$clgrind" "$@" >"$log" 2>&1
    rc=$?
    echo "  $(basename "$log" .log): exit $rc, $(($(date +%s) - start)) s"
    return $rc
}

run_suites() {
    for s in $SUITES; do
        if ! SAKD_TEST_SMALL=1 CK_RUN_SUITE=$s grind "suite-$s" "$check_device"; then
            note_failure "suite $s (the end of $work/suite-$s.log follows)"
            tail -n 30 "$work/suite-$s.log"
        elif ! grep -q "^100%: Checks: [1-9]" "$work/suite-$s.log"; then
            note_failure "suite $s ran no checks"
        fi
    done
}

# One training step of a tiny spiking ResNet-18, its evaluation, and a traced step. Each GEMM
# takes the simulator seconds (CLBlast's tiles, interpreted): one image, and the imagenet stem
# (conv 7x7 stride 2, max pool) for small feature maps.
train_and_trace() {
    cat >"$work/tiny.ini" <<EOF
[model]
name = resnet18
arch = snn
width = 0.0625
T = 2
stem = imagenet
[data]
dataset = fashion-mnist
train_limit = 1
test_limit = 1
[train]
epochs = 1
batch = 1
eval_batch = 1
[run]
out = $work/run
EOF
    if ! grind train "$sakd" train "$work/tiny.ini"; then
        note_failure "sakd train (the end of $work/train.log follows)"
        tail -n 20 "$work/train.log"
        return
    fi
    if ! "$batch_file" "$work/batch.h5" 1 1 28 28 10; then
        note_failure "writing the batch file"
        return
    fi
    if ! grind trace "$sakd" trace "$work/tiny.ini" --batch "$work/batch.h5" \
        --out "$work/trace.h5" --weights "$work/run/weights.h5"; then
        note_failure "sakd trace (the end of $work/trace.log follows)"
        tail -n 20 "$work/trace.log"
    fi
}

# Every oclgrind log and API error file empty, no simulator message in any output.
check_diagnostics() {
    found=0
    for f in "$work"/logs/oclgrind.* "$work"/logs/api.*; do
        [ -f "$f" ] || continue
        if grep -q '[^[:space:]]' "$f"; then
            found=$((found + 1))
            echo "--- $f:"
            grep -v '^[[:space:]]*$' "$f" | head -n 40
        fi
    done
    # API errors go to stderr too (those without a context only there), and so does a log
    # file oclgrind could not open.
    pattern='Oclgrind - OpenCL runtime error|OCLGRIND FATAL|^Oclgrind: '
    if grep -l -E "$pattern" "$work"/*.log; then
        found=$((found + 1))
        grep -h -A 6 -E "$pattern" "$work"/*.log | head -n 40
    fi
    if [ "$found" -ne 0 ]; then
        note_failure "oclgrind reported diagnostics (above; all in $work)"
    fi
}

# The kernels of cl/ (each line `__kernel void NAME(`) against those the processes launched.
check_coverage() {
    decl='^[[:space:]]*(__)?kernel[[:space:]]'
    grep -h -E "$decl" "$cl_dir"/*.cl "$cl_dir"/*.clh >"$work/declarations.txt"
    sed -n -E 's/^[[:space:]]*(__)?kernel[[:space:]]+void[[:space:]]+([A-Za-z_][A-Za-z0-9_]*).*/\2/p' \
        "$work/declarations.txt" | sort -u >"$work/kernels.txt"
    total=$(wc -l <"$work/kernels.txt")
    if [ "$total" -eq 0 ] || [ "$total" -ne "$(wc -l <"$work/declarations.txt")" ]; then
        note_failure "$total kernel names in $cl_dir, but these declarations:"
        cat "$work/declarations.txt"
    fi
    cat "$work"/logs/launched.* 2>/dev/null | sort -u >"$work/launched.txt"
    missing=$(comm -23 "$work/kernels.txt" "$work/launched.txt")
    if [ -n "$missing" ]; then
        note_failure "kernels of $cl_dir never launched:" $missing
    else
        echo "all $total kernels of $cl_dir launched (each name: $work/launched.txt)"
    fi
}

if ! command -v oclgrind >/dev/null 2>&1; then
    echo "SKIP: oclgrind is not installed (apt-get install oclgrind)"
    exit 77
fi
if ! icd=$(find_icd); then
    echo "FAIL: no liboclgrind-rt-icd.so next to $(command -v oclgrind)"
    exit 1
fi
for f in "$sakd" "$check_device" "$clgrind" "$batch_file"; do
    [ -e "$f" ] || {
        echo "FAIL: $f is missing (make check-oclgrind builds it)"
        exit 1
    }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/sakd-oclgrind-XXXXXX") || exit 1
mkdir -p "$work/vendors" "$work/logs" "$work/cache"
echo "$icd" >"$work/vendors/oclgrind.icd"
OCL_ICD_VENDORS=$work/vendors
OCLGRIND_CHECK_API=1
OCLGRIND_DATA_RACES=1
OCLGRIND_UNINITIALIZED=1
SAKD_CLGRIND_DIR=$work/logs
SAKD_CACHE_DIR=$work/cache
export OCL_ICD_VENDORS OCLGRIND_CHECK_API OCLGRIND_DATA_RACES OCLGRIND_UNINITIALIZED \
    SAKD_CLGRIND_DIR SAKD_CACHE_DIR
unset SAKD_DEVICE SAKD_GEMM_PROVIDER OCLGRIND_BUILD_OPTIONS

began=$(date +%s)
echo "check-oclgrind: work directory $work"
if ! "$sakd" devices 2>&1 | grep -q '^\* .*Oclgrind Simulator'; then
    echo "FAIL: the oclgrind device is not the one selected:"
    "$sakd" devices
    exit 1
fi
run_suites
train_and_trace
check_diagnostics
check_coverage
echo "check-oclgrind: $(($(date +%s) - began)) s"
if [ "$failures" -ne 0 ]; then
    echo "check-oclgrind: $failures failure(s); logs in $work"
    exit 1
fi
if [ "${SAKD_OCLGRIND_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
fi
echo "PASS: oclgrind found nothing, every kernel ran"
