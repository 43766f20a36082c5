#!/bin/sh
# nir_export.sh — runs tests/nir_export.py (sakd export nir against the `nir` package's reader
# and an independent NIR interpreter) where python3 has numpy, h5py and nir, else skips (77).
top=${SAKD_SRCDIR:-$(dirname "$0")/..}
sakd=${SAKD_BIN:-./sakd}
if ! python3 -c 'import numpy, h5py, nir' 2>/dev/null; then
    echo "SKIP: python3 with numpy, h5py and nir is needed (Debian: python3-numpy python3-h5py;"
    echo "      PyPI: nir; setup.sh check installs them)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sakd-nir.XXXXXX") || exit 99
python3 "$top/tests/nir_export.py" "$sakd" "$work"
status=$?
rm -rf "$work"
exit "$status"
