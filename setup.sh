#!/bin/sh
# setup.sh — sets sakd up on Debian 12: installs the missing Debian packages, generates the
# build system, configures and builds, then runs the main job (run) or the tests (check).
# usage: ./setup.sh [run|check|build]   (as root, or with sudo available)
set -eu

mode=${1:-run}
case "$mode" in
run | check | build) ;;
*)
    echo "usage: $0 [run|check|build]" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config \
ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev libhdf5-dev libcsv-dev \
check libinih-dev librandom123-dev zlib1g-dev gnuplot-nox dataset-fashion-mnist \
libopenblas-dev libdnnl-dev libopenmpi-dev openmpi-bin"

# The tests also run on a second OpenCL implementation, the oclgrind simulator, and check
# torchvision's layouts against a numpy forward (tests/torchvision_layout.py).
if [ "$mode" = check ]; then PACKAGES="$PACKAGES oclgrind python3-numpy python3-h5py"; fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi

# Regenerate the build system when its inputs are newer than its outputs.
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    autoreconf -fi
fi
if [ ! -f config.status ] || [ configure -nt config.status ]; then
    ./configure
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs"

# The NIR export test reads sakd's files with the `nir` package (PyPI only): best effort, the
# test skips without it.
if [ "$mode" = check ] && ! python3 -c 'import nir' 2>/dev/null; then
    python3 -m pip install -q nir 2>/dev/null ||
        python3 -m pip install -q --break-system-packages nir 2>/dev/null ||
        echo "setup: could not pip install nir; tests/nir_export.sh will be skipped"
fi

case "$mode" in
run)
    ./sakd devices
    ./sakd selftest
    # The main job: ANN teacher, directly trained SNN and SAKD SNN on a Fashion-MNIST subset.
    SAKD=./sakd experiments/quick.sh runs/quick
    ;;
check)
    status=0
    make -j"$jobs" check VERBOSE=1 || status=$?
    # Check's own summaries, and one closing line over all of them.
    passed=0
    failed=0
    for log in tests/check_*.log; do
        [ -f "$log" ] || continue
        line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1 || true)
        [ -n "$line" ] || continue
        echo "$log: $line"
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/')
        set -- $n
        passed=$((passed + $1 - $2 - $3))
        failed=$((failed + $2 + $3))
    done
    echo "check: $passed passed, $failed failed"
    exit "$status"
    ;;
esac
