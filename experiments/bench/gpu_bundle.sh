#!/bin/sh
# gpu_bundle.sh — packs an installed sakd and everything it loads into BUNDLE_DIR (default
# .gpu, which git ignores) for experiments/bench/nvidia_opencl.sh on a machine without sakd's
# Debian packages: bundle.tar.xz (bin/sakd; lib/: libsakd and every library `ldd` lists for it
# but the C library's own; glibc/: the C library, its loader and its split-off parts, used there
# only when the machine's C library is older than this one) and fmnist/ (the Fashion-MNIST .gz
# files of the Debian package dataset-fashion-mnist). About 40 MiB, within a device call's carry.
# usage: experiments/bench/gpu_bundle.sh PREFIX [BUNDLE_DIR]   (PREFIX: where `make install
#        prefix=PREFIX` put sakd)
set -eu
prefix=${1:?usage: gpu_bundle.sh PREFIX [BUNDLE_DIR]}
dir=${2:-.gpu}
data=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/lib" "$tmp/glibc" "$dir/fmnist"
cp "$prefix/bin/sakd" "$tmp/bin/"
cp -P "$prefix"/lib/libsakd.so* "$tmp/lib/"
LD_LIBRARY_PATH="$prefix/lib" ldd "$prefix/bin/sakd" | awk '/=> \//{print $1, $3}' |
    while read -r name path; do
        case $name in
        libsakd*) ;;
        libc.so* | libm.so* | libresolv.so*) cp -L "$path" "$tmp/glibc/$name" ;;
        *) cp -L "$path" "$tmp/lib/$name" ;;
        esac
    done
libdir=$(dirname "$(LD_LIBRARY_PATH="$prefix/lib" ldd "$prefix/bin/sakd" | awk '$1 ~ /^libc\.so/{print $3}')")
for l in libdl.so.2 libpthread.so.0 librt.so.1; do cp -L "$libdir/$l" "$tmp/glibc/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$tmp/glibc/"
tar cJf "$dir/bundle.tar.xz" -C "$tmp" bin lib glibc
cp "$data"/*.gz "$dir/fmnist/"
du -sh "$dir"
