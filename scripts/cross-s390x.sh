#!/usr/bin/env bash
# Builds the unit tests for s390x (big-endian) and runs them under
# qemu-s390x-static: the product must give the same answers on a
# big-endian host. Multiarch installs of s390x -dev packages fail on this
# mirror (version skew), so the libraries come from a private sysroot made
# with `apt-get download` + `dpkg-deb -x` (nothing is installed).
#   scripts/cross-s390x.sh [--cache DIR]     (default $VMCORE_ARGS_DATA or /var/tmp/vmcore-args)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VMCORE_ARGS_DATA:-/var/tmp/vmcore-args}
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=$2; shift 2 ;;
    *) echo "usage: $0 [--cache DIR]" >&2; exit 2 ;;
  esac
done
sysroot=$cache/sysroot-s390x
debs=$cache/debs-s390x
build=$top/build-s390x
pkgs=(libdw-dev libdw1 libelf-dev libelf1 libfmt-dev libfmt9 zlib1g zlib1g-dev liblzma5 liblzma-dev
      libbz2-1.0 libbz2-dev libzstd1 libzstd-dev liblzo2-2 liblzo2-dev libsnappy1v5 libsnappy-dev)

for tool in s390x-linux-gnu-g++ qemu-s390x-static; do
  command -v $tool >/dev/null || { echo "cross-s390x: $tool missing: run scripts/install-deps.sh" >&2; exit 1; }
done

if [ ! -f "$sysroot/.complete" ]; then
  echo "cross-s390x: making the s390x sysroot in $sysroot"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! dpkg --print-foreign-architectures | grep -qx s390x; then
    $SUDO dpkg --add-architecture s390x
    $SUDO apt-get update || echo "cross-s390x: apt-get update exited $? (continuing: a foreign index may be broken)"
  fi
  mkdir -p "$debs" "$sysroot"
  (cd "$debs" && apt-get download "${pkgs[@]/%/:s390x}")
  for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
  # Absolute .so symlinks would point into the host; make them relative.
  find "$sysroot" -type l -lname '/*' | while read -r l; do
    t=$(readlink "$l"); ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$sysroot$t")" "$l"
  done
  touch "$sysroot/.complete"
fi

export VMC_SYSROOT=$sysroot
export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/s390x-linux-gnu/pkgconfig:$sysroot/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$sysroot
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$top/cmake/s390x-toolchain.cmake" -DVMC_SYSROOT="$sysroot" \
  -DVMC_BUILD_CLI=OFF -DVMC_GTEST_FROM_SOURCE=ON
ninja -C "$build" -j2 vmc_unit_tests
libdir=$sysroot/usr/lib/s390x-linux-gnu:$sysroot/lib/s390x-linux-gnu
echo "cross-s390x: running the unit tests under qemu-s390x-static"
qemu-s390x-static -L /usr/s390x-linux-gnu -E LD_LIBRARY_PATH="$libdir" "$build/tests/vmc_unit_tests" \
  --gtest_brief=1 "$@"
