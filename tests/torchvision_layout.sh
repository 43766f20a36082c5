#!/bin/sh
# torchvision_layout.sh — runs tests/torchvision_layout.py (torchvision's vgg11_bn and resnet18
# layouts against a float64 numpy forward) where python3 has numpy and h5py, else skips (77).
top=${SAKD_SRCDIR:-$(dirname "$0")/..}
sakd=${SAKD_BIN:-./sakd}
if ! python3 -c 'import numpy, h5py' 2>/dev/null; then
    echo "SKIP: python3 with numpy and h5py is needed (Debian: python3-numpy python3-h5py)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sakd-torchvision.XXXXXX") || exit 99
python3 "$top/tests/torchvision_layout.py" "$sakd" "$work"
status=$?
rm -rf "$work"
exit "$status"
