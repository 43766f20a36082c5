#!/bin/sh
# oclgrind_exit.sh — a process that uses CLBlast end to end on a second OpenCL implementation,
# the oclgrind simulator (API checks on), exits 0: sakd clears CLBlast's program cache before
# it releases the last context CLBlast ran on, instead of leaving CLBlast to release programs of
# a released context from an exit handler (oclgrind aborted there with "corrupted double-linked
# list"). Skipped (77) where oclgrind is not installed (Debian package oclgrind).
set -u
sakd=${SAKD_BIN:-./sakd}
if ! command -v oclgrind >/dev/null 2>&1; then
    echo "SKIP: oclgrind is not installed (apt-get install oclgrind)"
    exit 77
fi
out=$(SAKD_GEMM_PROVIDER=clblast timeout 600 oclgrind --check-api "$sakd" selftest 2>&1)
rc=$?
echo "$out" | tail -n 20
if [ "$rc" -ne 0 ]; then
    echo "FAIL: sakd selftest under oclgrind exited $rc"
    exit 1
fi
case "$out" in
*"Oclgrind"*"selftest passed"*) ;;
*)
    echo "FAIL: the selftest did not run on the oclgrind device, or did not pass"
    exit 1
    ;;
esac
if echo "$out" | grep -q -i "^oclgrind.*error\|Invalid"; then
    echo "FAIL: oclgrind reported an error"
    exit 1
fi
echo "PASS: CLBlast end to end on oclgrind, exit 0"
